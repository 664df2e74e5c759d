"""Mosquitto with the password file and ACL of `vnh broker-config`: terminals and gateway."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from tests.mosquitto import MosquittoServer, run_mosquitto
from vnh.broker_config import ACL_FILE, PASSWD_FILE, BrokerConfigWriter, acl_text
from vnh.cli import app as vnh

GATEWAY_USER = "vnh-gateway"
GATEWAY_PASSWORD = "gateway-password-for-tests"
PRESS = {"boot": 7, "seq": 42, "type": "press", "pattern": "long"}


@dataclass
class Broker:
    server: MosquittoServer
    writer: BrokerConfigWriter
    gateway: GatewayComponent
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


def _mosquitto_conf(conf_dir: Path) -> str:
    # Later lines win over the harness's `allow_anonymous true`; root reads tmp_path on SIGHUP.
    return "\n".join(
        [
            f"password_file {conf_dir / PASSWD_FILE}",
            f"acl_file {conf_dir / ACL_FILE}",
            "allow_anonymous false",
            "user root",
        ]
    )


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
    with run_mosquitto(tmp_path, _mosquitto_conf(conf_dir)) as server:
        writer.reload_pid = _mosquitto_pid(server)
        settings = Settings(
            database_url=services.settings.database_url,
            mqtt_url=server.url,
            mqtt_password=SecretStr(GATEWAY_PASSWORD),
            mqtt_client_id=f"gw-{uuid.uuid4().hex[:8]}",
            _env_file=None,  # type: ignore[call-arg]
        )
        gateway = GatewayComponent(settings, services)
        gateway.start()
        try:
            assert gateway.health()["mqtt_connected"], server.log_tail()
            yield Broker(server, writer, gateway, secrets)
        finally:
            gateway.stop()


def _case_devices(services: Services) -> list[str | None]:
    with services.uow() as uow:
        return [c.device_id for c in uow.session.exec(select(Case)).all()]


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
        (None, None),
    ],
    ids=["wrong-secret", "unknown-device", "wrong-gateway-password", "anonymous"],
)
def test_mosquitto_auth_bad_login_is_not_authorised(
    broker: Broker, username: str | None, password: str | None
) -> None:
    server = broker.server
    client_id = username or "someone"
    with Terminal(
        server.host, server.port, client_id=client_id, username=username, password=password
    ) as terminal:
        assert terminal.connect() == "Not authorized"


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
    assert secret not in passwd and GATEWAY_PASSWORD not in passwd
    users = dict(line.split(":", 1) for line in passwd.splitlines())
    assert mosquitto_hash_matches(secret, users["T1"])
    assert mosquitto_hash_matches(GATEWAY_PASSWORD, users[GATEWAY_USER])
    assert (tmp_path / ACL_FILE).read_text() == acl_text(GATEWAY_USER)
    assert (tmp_path / PASSWD_FILE).stat().st_mode & 0o777 == 0o640
    assert files.devices == 1
    # Nothing changed: a second sync (or a restarted watch) leaves the files alone.
    again = BrokerConfigWriter(services.uow, tmp_path, GATEWAY_USER, GATEWAY_PASSWORD)
    assert again.sync() == files
    assert (tmp_path / PASSWD_FILE).read_text() == passwd


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
    assert "the gateway and 1 terminals" in result.output
    assert "rotated" in result.output and "T2" in result.output
    users = [line.split(":")[0] for line in (out / PASSWD_FILE).read_text().splitlines()]
    assert users == [GATEWAY_USER, "T1"]
