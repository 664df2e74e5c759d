"""Mosquitto with the password file and ACL of `vnh broker-config`: terminals and gateway."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import select
from typer.testing import CliRunner

from care_api.services import Services
from care_api.settings import Settings
from care_api.store.tables import Case, Device
from care_api.usecases.fleet.broker_passwords import mosquitto_hash, mosquitto_hash_matches
from care_api.usecases.people.registry import provision_device, rotate_device_secret
from device_gateway.runtime import GatewayComponent
from tests.helpers import seed_elder
from tests.integration.mqtt_terminal import Terminal, down, up, wait_until
from tests.mosquitto import MosquittoServer, free_port, run_mosquitto
from vnh.broker_config import (
    ACL_FILE,
    GATEWAY_ACL_FILE,
    GATEWAY_PASSWD_FILE,
    PASSWD_FILE,
    BrokerConfigWriter,
    BrokerFilesError,
    acl_text,
    gateway_acl_text,
    mosquitto_conf,
)
from vnh.cli import app as vnh

GATEWAY_USER = "vnh-gateway"
GATEWAY_PASSWORD = "gateway-password-for-tests"
PRESS = {"boot": 7, "seq": 42, "type": "press", "pattern": "long"}


@dataclass
class Broker:
    """Mosquitto as the README configures it: terminals on `server.port`, the gateway apart."""

    server: MosquittoServer
    writer: BrokerConfigWriter
    gateway: GatewayComponent
    gateway_port: int
    secrets: dict[str, str] = field(default_factory=dict)

    def terminal(self, device_id: str, secret: str | None = None, **more: object) -> Terminal:
        return Terminal(
            self.server.host,
            self.server.port,
            client_id=str(more.pop("client_id", device_id)),
            username=str(more.pop("username", device_id)),
            password=self.secrets.get(device_id) if secret is None else secret,
        )

    def can_log_in(self, device_id: str) -> bool:
        with self.terminal(device_id) as terminal:
            return not terminal.connect().is_failure


# Root reads tmp_path on SIGHUP (Mosquitto would drop to the `mosquitto` user).
EXTRA_CONF = "user root"


def _mosquitto_pid(server: MosquittoServer) -> int:
    proc = server._proc  # the harness keeps its process private; the test needs its pid
    assert proc is not None
    return proc.pid


@pytest.fixture
def broker(services: Services, tmp_path: Path) -> Iterator[Broker]:
    secrets = {d: seed_elder(services, d, contacts=0)[1] for d in ("T1", "T2")}
    conf_dir = tmp_path / "broker"
    writer = BrokerConfigWriter(services.uow, conf_dir, GATEWAY_USER, GATEWAY_PASSWORD)
    writer.sync()
    gateway_port = free_port()

    def listeners(host: str, port: int) -> str:
        return mosquitto_conf(conf_dir, f"{port} {host}", f"{gateway_port} {host}")

    with run_mosquitto(tmp_path, EXTRA_CONF, listeners=listeners) as server:
        writer.reload_pid = _mosquitto_pid(server)
        settings = Settings(  # the gateway's default client id, `vnh-gateway`
            database_url=services.settings.database_url,
            mqtt_url=f"mqtt://{server.host}:{gateway_port}",
            mqtt_password=SecretStr(GATEWAY_PASSWORD),
            _env_file=None,  # type: ignore[call-arg]
        )
        gateway = GatewayComponent(settings, services)
        gateway.start()
        try:
            assert gateway.health()["mqtt_connected"], server.log_tail()
            yield Broker(server, writer, gateway, gateway_port, secrets)
        finally:
            gateway.stop()


def _case_devices(services: Services) -> list[str | None]:
    with services.uow() as uow:
        return [c.device_id for c in uow.session.exec(select(Case)).all()]


def _has_acks(terminal: Terminal, device_id: str, count: int) -> bool:
    return len(terminal.acks(device_id)) >= count


def _press_and_wait_for_ack(terminal: Terminal, device_id: str, seq: int = 42) -> None:
    assert not terminal.subscribe(down(device_id)).is_failure
    terminal.publish(up(device_id), {**PRESS, "seq": seq})
    assert wait_until(lambda: any(a["ack"] == seq for a in terminal.acks(device_id)))


def test_mosquitto_auth_gateway_with_own_credentials_handles_a_press(
    broker: Broker, services: Services
) -> None:
    with broker.terminal("T1") as t1:
        assert t1.connect() == "Success"
        _press_and_wait_for_ack(t1, "T1")
    assert _case_devices(services) == ["T1"]


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("T1", "wrong-secret"),
        ("T404", "anything"),
        (GATEWAY_USER, "wrong-password"),
        (GATEWAY_USER, GATEWAY_PASSWORD),
        (None, None),
    ],
    ids=["wrong-secret", "unknown-device", "wrong-gateway-pw", "gateway-login", "anonymous"],
)
def test_mosquitto_auth_bad_login_on_the_terminals_listener_is_not_authorised(
    broker: Broker, username: str | None, password: str | None
) -> None:
    server = broker.server
    client_id = username or "someone"
    with Terminal(
        server.host, server.port, client_id=client_id, username=username, password=password
    ) as terminal:
        assert terminal.connect() == "Not authorized"


@pytest.mark.parametrize(
    ("username", "password"),
    [("T1", None), (GATEWAY_USER, "wrong-password"), (None, None)],
    ids=["terminal-login", "wrong-gateway-pw", "anonymous"],
)
def test_mosquitto_auth_gateway_listener_admits_only_the_gateway(
    broker: Broker, username: str | None, password: str | None
) -> None:
    # A terminal's secret is no login here: it could pick any client id on this listener.
    server = broker.server
    password = broker.secrets["T1"] if username == "T1" else password
    with Terminal(
        server.host,
        broker.gateway_port,
        client_id=GATEWAY_USER,
        username=username,
        password=password,
    ) as terminal:
        assert terminal.connect() == "Not authorized"
    assert broker.gateway.health()["mqtt_connected"]


def test_mosquitto_auth_publish_on_another_terminals_topic_has_no_effect(
    broker: Broker, services: Services
) -> None:
    with broker.terminal("T1") as t1, broker.terminal("T2") as t2:
        assert t1.connect() == "Success"
        assert t2.connect() == "Success"
        # Mosquitto PUBACKs a publish its ACL drops: only the store shows it had no effect.
        t1.publish(up("T2"), PRESS)
        # It even grants a 3.1.1 subscription it may not serve, and then delivers nothing.
        t1.subscribe(down("T2"))
        _press_and_wait_for_ack(t1, "T1", seq=43)
        _press_and_wait_for_ack(t2, "T2", seq=44)
    assert sorted(str(d) for d in _case_devices(services)) == ["T1", "T2"]
    assert [a["ack"] for a in t2.acks("T2")] == [44]  # the forged seq 42 never reached it
    assert {topic for topic, _ in t1.received} == {down("T1")}


def test_mosquitto_auth_retired_terminal_is_refused_after_sync(
    broker: Broker, services: Services
) -> None:
    assert broker.can_log_in("T1")
    with services.uow() as uow:
        device = uow.session.get(Device, "T1")
        assert device is not None
        device.status = "retired"
        uow.session.add(device)
        uow.commit()
    broker.writer.sync()  # rewrites passwd and sends Mosquitto SIGHUP
    assert wait_until(lambda: not broker.can_log_in("T1")), broker.server.log_tail()
    assert broker.can_log_in("T2")


def test_mosquitto_auth_watch_lets_in_a_new_terminal_and_a_rotated_secret(
    broker: Broker, services: Services
) -> None:
    elder_id, _ = seed_elder(services, "T0", contacts=0)
    with services.uow() as uow:
        _, broker.secrets["T3"] = provision_device(
            uow.session, "T3", elder_id, services.clock.now()
        )
        uow.commit()
    stop = threading.Event()
    watcher = threading.Thread(target=broker.writer.watch, args=(stop, 0.2))
    watcher.start()
    try:
        assert wait_until(lambda: broker.can_log_in("T3")), broker.server.log_tail()
        old = broker.secrets["T1"]
        with services.uow() as uow:
            broker.secrets["T1"] = rotate_device_secret(uow.session, "T1")
            uow.commit()
        assert wait_until(lambda: broker.can_log_in("T1")), broker.server.log_tail()
        with broker.terminal("T1", secret=old) as stale:
            assert stale.connect() == "Not authorized"
    finally:
        stop.set()
        watcher.join()


def test_broker_config_files_hold_hashes_not_secrets(services: Services, tmp_path: Path) -> None:
    _, secret = seed_elder(services, "T1", contacts=0)
    writer = BrokerConfigWriter(services.uow, tmp_path, GATEWAY_USER, GATEWAY_PASSWORD)
    files = writer.sync()
    passwd = (tmp_path / PASSWD_FILE).read_text()
    gateway_passwd = (tmp_path / GATEWAY_PASSWD_FILE).read_text()
    for text in (passwd, gateway_passwd):
        assert secret not in text and GATEWAY_PASSWORD not in text
    # Each listener's file holds its own population only.
    [(user, hashed)] = [line.split(":", 1) for line in passwd.splitlines()]
    assert user == "T1" and mosquitto_hash_matches(secret, hashed)
    [(user, hashed)] = [line.split(":", 1) for line in gateway_passwd.splitlines()]
    assert user == GATEWAY_USER and mosquitto_hash_matches(GATEWAY_PASSWORD, hashed)
    assert (tmp_path / ACL_FILE).read_text() == acl_text()
    assert (tmp_path / GATEWAY_ACL_FILE).read_text() == gateway_acl_text(GATEWAY_USER)
    for name in (PASSWD_FILE, ACL_FILE, GATEWAY_PASSWD_FILE, GATEWAY_ACL_FILE):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640
    assert files.devices == 1
    # Nothing changed: a second sync (or a restarted watch) leaves the files alone.
    again = BrokerConfigWriter(services.uow, tmp_path, GATEWAY_USER, GATEWAY_PASSWORD)
    assert again.sync() == files
    assert (tmp_path / PASSWD_FILE).read_text() == passwd
    assert (tmp_path / GATEWAY_PASSWD_FILE).read_text() == gateway_passwd


def test_broker_config_hash_is_what_mosquitto_passwd_writes() -> None:
    salt = bytes(range(12))
    assert mosquitto_hash("s3cret", salt=salt).startswith("$7$101$AAECAwQFBgcICQoL$")
    assert mosquitto_hash_matches("s3cret", mosquitto_hash("s3cret"))
    assert not mosquitto_hash_matches("other", mosquitto_hash("s3cret"))
    assert not mosquitto_hash_matches("s3cret", "$6$not-mosquitto")
    parts = mosquitto_hash("x").split("$")  # $7$<rounds>$<12-byte salt>$<64-byte hash>
    assert parts[1:3] == ["7", "101"]
    assert (len(parts[3]), len(parts[4])) == (16, 88)


def test_broker_config_command_writes_files_and_names_terminals_without_hash(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_elder(services, "T1", contacts=0)
    seed_elder(services, "T2", contacts=0)
    with services.uow() as uow:
        old = uow.session.get(Device, "T2")
        assert old is not None
        old.broker_hash = None  # as if provisioned before migration 0005
        uow.session.add(old)
        uow.commit()
    monkeypatch.setenv("VNH_DATABASE_URL", services.settings.database_url)
    out = tmp_path / "out"
    runner = CliRunner()

    refused = runner.invoke(vnh, ["broker-config", "--out", str(out)])
    assert refused.exit_code == 2
    assert "VNH_MQTT_PASSWORD" in refused.output

    monkeypatch.setenv("VNH_MQTT_PASSWORD", GATEWAY_PASSWORD)
    result = runner.invoke(vnh, ["broker-config", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 terminals" in result.output
    assert "rotated" in result.output and "T2" in result.output
    users = [line.split(":")[0] for line in (out / PASSWD_FILE).read_text().splitlines()]
    assert users == ["T1"]
    gateway = (out / GATEWAY_PASSWD_FILE).read_text().splitlines()
    assert [line.split(":")[0] for line in gateway] == [GATEWAY_USER]


def _insert_legacy_device(services: Services, device_id: str, secret: str) -> None:
    # Provisioned before ids were checked: provision_device refuses it today.
    elder_id, _ = seed_elder(services, f"E-{device_id[-4:]}", contacts=0)
    with services.uow() as uow:
        uow.session.add(
            Device(
                device_id=device_id,
                elder_id=elder_id,
                secret_hash="unused",
                broker_hash=mosquitto_hash(secret),
                created_at=services.clock.now(),
            )
        )
        uow.commit()


def test_mosquitto_auth_terminal_named_like_the_gateway_writes_nothing_and_takes_nothing(
    broker: Broker, services: Services, tmp_path: Path
) -> None:
    impostor_secret = "impostor-secret"
    _insert_legacy_device(services, GATEWAY_USER, impostor_secret)
    conf_dir = broker.writer.out_dir
    before = {p.name: p.read_text() for p in conf_dir.iterdir()}
    with pytest.raises(BrokerFilesError, match=GATEWAY_USER):
        broker.writer.sync()
    assert {p.name: p.read_text() for p in conf_dir.iterdir()} == before
    # The impostor's secret opens neither listener; the gateway keeps reading presses.
    for port in (broker.server.port, broker.gateway_port):
        with Terminal(
            broker.server.host,
            port,
            client_id=GATEWAY_USER,
            username=GATEWAY_USER,
            password=impostor_secret,
        ) as impostor:
            assert impostor.connect() == "Not authorized"
    with broker.terminal("T1") as t1:
        assert t1.connect() == "Success"
        _press_and_wait_for_ack(t1, "T1")
    assert _case_devices(services) == ["T1"]


def test_broker_config_command_refuses_a_terminal_named_like_the_gateway(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_elder(services, "T1", contacts=0)
    _insert_legacy_device(services, GATEWAY_USER, "impostor-secret")
    monkeypatch.setenv("VNH_DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("VNH_MQTT_PASSWORD", GATEWAY_PASSWORD)
    out = tmp_path / "out"
    result = CliRunner().invoke(vnh, ["broker-config", "--out", str(out)])
    assert result.exit_code == 1
    assert "nothing written" in result.output and GATEWAY_USER in result.output
    assert not (out / PASSWD_FILE).exists() and not (out / GATEWAY_PASSWD_FILE).exists()


ATTACK_ROUNDS = 5
KICKS_PER_ROUND = 4


def test_mosquitto_auth_terminal_secret_cannot_kick_the_gateway_or_another_terminal(
    broker: Broker, services: Services
) -> None:
    # With T1's secret, connect again and again under the gateway's and T2's client ids
    # while T2 presses: Mosquitto gives every such login the client id T1, so nobody else
    # is thrown off and every press of T2 is acked and recorded.
    server = broker.server
    with broker.terminal("T2") as t2:
        assert t2.connect() == "Success"
        assert not t2.subscribe(down("T2")).is_failure
        for round_no in range(ATTACK_ROUNDS):
            for victim in (GATEWAY_USER, "T2") * (KICKS_PER_ROUND // 2):
                with Terminal(
                    server.host,
                    server.port,
                    client_id=victim,
                    username="T1",
                    password=broker.secrets["T1"],
                ) as attacker:
                    assert attacker.connect() == "Success"
            seq = 100 + round_no
            t2.publish(up("T2"), {**PRESS, "seq": seq})
            assert wait_until(partial(_has_acks, t2, "T2", round_no + 1)), server.log_tail()
    acks = t2.acks("T2")  # an ack goes out only after the press is committed
    assert sorted(a["ack"] for a in acks) == [100 + i for i in range(ATTACK_ROUNDS)]
    assert {a["status"] for a in acks} == {"accepted"} and "T2" in _case_devices(services)
    log = server.log_path.read_text(errors="replace")
    assert f"Client {GATEWAY_USER} already connected" not in log
    assert "Client T2 already connected" not in log
    assert broker.gateway.health()["mqtt_connected"]


def test_mosquitto_auth_rotated_secret_ends_the_session_opened_with_the_old_one(
    broker: Broker, services: Services
) -> None:
    stop = threading.Event()
    watcher = threading.Thread(target=broker.writer.watch, args=(stop, 0.2))
    with broker.terminal("T1") as t1, broker.terminal("T2") as t2:
        assert t1.connect() == "Success"
        assert t2.connect() == "Success"
        watcher.start()
        try:
            with services.uow() as uow:
                rotate_device_secret(uow.session, "T1")
                uow.commit()
            # The watch rewrites passwd and reloads Mosquitto, which drops the stale login.
            assert wait_until(lambda: not t1.client.is_connected()), broker.server.log_tail()
        finally:
            stop.set()
            watcher.join()
        assert t2.client.is_connected()
        _press_and_wait_for_ack(t2, "T2")


def test_broker_config_readme_shows_the_configuration_the_tests_run() -> None:
    # The README's block adds TLS lines under the terminals' listener; the rest is the same.
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("per_listener_settings true", 1)[1].split("```", 1)[0]
    shown = [" ".join(line.split()) for line in block.splitlines() if line.strip()]
    wanted = mosquitto_conf(Path("/etc/mosquitto/vnh")).splitlines()[1:]
    tls = ("certfile ", "keyfile ")
    assert [line for line in shown if not line.startswith(tls)] == [w for w in wanted if w]
