"""The embedded broker checks each login against the store and keeps terminals to their topics."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr
from sqlmodel import select

from care_api.domain.model import Role
from care_api.http.app import create_app
from care_api.services import Services
from care_api.settings import Settings
from care_api.store.tables import Case, Device
from care_api.throttle import FREE_FAILURES
from care_api.usecases.fleet.broker_login import verify_device
from care_api.usecases.people.tokens import mint_token
from device_gateway.runtime import GatewayComponent
from device_gateway.transports.broker_access import BrokerAccess
from tests.api.support import TestClient, bearer
from tests.fakes import FakeClock
from tests.helpers import seed_elder
from tests.integration.mqtt_terminal import Terminal, down, status, up, wait_until
from tests.mosquitto import HOST, free_port

PRESS = {"boot": 7, "seq": 42, "type": "press", "pattern": "long"}
GATEWAY_CLIENT_ID = "vnh-gateway"


@dataclass
class Embedded:
    """The gateway with its embedded broker, and two provisioned terminals."""

    gateway: GatewayComponent
    port: int
    secrets: dict[str, str]

    def terminal(self, device_id: str, secret: str | None = None, **more: object) -> Terminal:
        password = self.secrets.get(device_id) if secret is None else secret
        return Terminal(
            HOST,
            self.port,
            client_id=str(more.pop("client_id", device_id)),
            username=str(more.pop("username", device_id)),
            password=password,
            **more,  # type: ignore[arg-type]
        )


@pytest.fixture
def embedded(services: Services) -> Iterator[Embedded]:
    _, secret_1 = seed_elder(services, "T1", contacts=0)
    _, secret_2 = seed_elder(services, "T2", contacts=0)
    settings = Settings(
        database_url=services.settings.database_url,
        embedded_mqtt_port=free_port(),
        _env_file=None,  # type: ignore[call-arg]
    )
    gateway = GatewayComponent(settings, services)
    gateway.start()
    try:
        assert gateway.health()["mqtt_connected"], "the gateway did not log in to its own broker"
        yield Embedded(gateway, settings.embedded_mqtt_port, {"T1": secret_1, "T2": secret_2})
    finally:
        gateway.stop()


def _cases(services: Services) -> list[tuple[str | None, int]]:
    with services.uow() as uow:
        return [(c.device_id, c.elder_id) for c in uow.session.exec(select(Case)).all()]


def _press_and_wait_for_ack(terminal: Terminal, device_id: str, seq: int = 42) -> None:
    assert not terminal.subscribe(down(device_id)).is_failure
    terminal.publish(up(device_id), {**PRESS, "seq": seq})
    assert wait_until(lambda: any(a["ack"] == seq for a in terminal.acks(device_id)))


def test_broker_auth_terminal_with_its_secret_gets_its_press_acked(
    embedded: Embedded, services: Services
) -> None:
    # The gateway logged in with its own (generated) credentials and receives the press.
    with embedded.terminal("T1") as t1:
        assert t1.connect() == "Success"
        _press_and_wait_for_ack(t1, "T1")
    assert [device for device, _ in _cases(services)] == ["T1"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("T1", "wrong-secret"), ("T1", None), (None, None), ("T404", "anything")],
    ids=["wrong-secret", "no-password", "anonymous", "unknown-device"],
)
def test_broker_auth_bad_login_is_not_authorised(
    embedded: Embedded, username: str | None, password: str | None
) -> None:
    client_id = username or "someone"
    terminal = Terminal(
        HOST, embedded.port, client_id=client_id, username=username, password=password
    )
    with terminal:
        assert terminal.connect() == "Not authorized"


def test_broker_auth_retired_terminal_is_not_authorised(
    embedded: Embedded, services: Services
) -> None:
    with services.uow() as uow:
        device = uow.session.get(Device, "T1")
        assert device is not None
        device.status = "retired"
        uow.session.add(device)
        uow.commit()
    with embedded.terminal("T1") as t1:
        assert t1.connect() == "Not authorized"


def test_broker_auth_terminal_may_not_log_in_as_another_or_as_the_gateway(
    embedded: Embedded,
) -> None:
    # T1's own secret, but the client id of T2: it would take over T2's session.
    with embedded.terminal("T1", client_id="T2") as t1:
        assert t1.connect() == "Not authorized"
    with embedded.terminal("T1", username="vnh-gateway", client_id="x") as t1:
        assert t1.connect() == "Not authorized"


def test_broker_auth_publish_on_another_terminals_topic_has_no_effect(
    embedded: Embedded, services: Services
) -> None:
    with embedded.terminal("T1") as t1:
        assert t1.connect() == "Success"
        t1.publish(up("T2"), PRESS)  # the broker drops it: the gateway never sees it
        t1.publish(status("T2"), b"offline")
        # A press on its own topic afterwards is handled: the dropped one came before it.
        _press_and_wait_for_ack(t1, "T1", seq=43)
    assert [device for device, _ in _cases(services)] == ["T1"]
    with services.uow() as uow:
        t2 = uow.session.get(Device, "T2")
        assert t2 is not None
        assert t2.online is None


def test_broker_auth_terminal_reads_only_its_own_downlink(embedded: Embedded) -> None:
    with embedded.terminal("T1") as t1, embedded.terminal("T2") as t2:
        assert t1.connect() == "Success"
        assert t2.connect() == "Success"
        assert t1.subscribe(down("T2")) == "Unspecified error"  # SUBACK 0x80: refused
        assert t1.subscribe("vnh/v1/dev/#") == "Unspecified error"
        assert t1.subscribe(up("T2")) == "Unspecified error"
        _press_and_wait_for_ack(t2, "T2")
    assert [t for t, _ in t1.received] == []


def test_broker_auth_will_on_another_terminals_topic_is_refused(embedded: Embedded) -> None:
    forged = (up("T2"), b'{"boot": 1, "seq": 1, "type": "press", "pattern": "long"}')
    with embedded.terminal("T1", will=forged) as t1:
        assert t1.connect() == "Not authorized"
    with embedded.terminal("T1", will=(status("T1"), b"offline")) as t1:
        assert t1.connect() == "Success"


def test_broker_auth_refused_stranger_cannot_disturb_a_live_session(
    embedded: Embedded, services: Services
) -> None:
    # amqtt on its own would wipe the gateway's session (clean session, same client id) and
    # take over T2's live connection, firing a forged will, before checking the password.
    forged = (up("T2"), b'{"boot": 1, "seq": 1, "type": "press", "pattern": "long"}')
    with embedded.terminal("T2") as t2:
        assert t2.connect() == "Success"
        intruders = [
            Terminal(
                HOST,
                embedded.port,
                client_id=GATEWAY_CLIENT_ID,
                username="vnh-gateway",
                password="guess",
                clean_session=True,
            ),
            Terminal(
                HOST, embedded.port, client_id="T2", username="T2", password="guess", will=forged
            ),
        ]
        for intruder in intruders:
            with intruder:
                assert intruder.connect() == "Not authorized"
        assert t2.client.is_connected()
        _press_and_wait_for_ack(t2, "T2", seq=50)
    assert [device for device, _ in _cases(services)] == ["T2"]
    assert embedded.gateway.health()["mqtt_connected"]


def test_broker_auth_access_rules_keep_to_protocol_topics() -> None:
    access = BrokerAccess("gw", "pw", verify_device=lambda device, secret: secret == "s")
    assert access.admits("T1", "T1", "s", None)
    assert access.admits("gw-worker-1", "gw", "pw", None)
    assert not access.admits("gw", "gw", "s", None)
    assert not access.admits("T1/x", "T1/x", "s", None)  # not a device id
    assert access.may_publish("gw", down("T9"))
    assert not access.may_publish("gw", up("T9"))
    assert access.may_subscribe("gw", "vnh/v1/dev/+/up")
    assert access.may_subscribe("gw", "vnh/v1/dev/+/status")
    assert not access.may_subscribe("gw", "vnh/v1/dev/#")
    assert not access.may_subscribe("gw", "vnh/v1/dev/+/down")
    assert access.may_receive("gw", status("T9"))
    assert not access.may_receive("gw", "other/topic")
    assert access.may_publish("T1", up("T1"))
    assert access.may_publish("T1", status("T1"))
    assert not access.may_publish("T1", down("T1"))
    assert not access.may_publish("T1", up("T2"))
    assert access.may_subscribe("T1", down("T1"))
    assert not access.may_subscribe("T1", "vnh/v1/dev/+/down")
    assert not access.may_receive("T1", down("T2"))
    assert not access.may_publish(None, up("T1"))


def test_broker_auth_verify_device_checks_secret_and_status(services: Services) -> None:
    _, secret = seed_elder(services, "T7", contacts=0)
    assert verify_device(services.uow, "T7", secret)
    assert not verify_device(services.uow, "T7", secret + "x")
    assert not verify_device(services.uow, "T8", secret)
    with services.uow() as uow:
        device = uow.session.get(Device, "T7")
        assert device is not None
        device.status = "retired"
        uow.session.add(device)
        uow.commit()
    assert not verify_device(services.uow, "T7", secret)


def test_broker_auth_no_secret_reaches_the_log(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, secret = seed_elder(services, "T5", contacts=0)
    settings = Settings(
        database_url=services.settings.database_url,
        embedded_mqtt_port=free_port(),
        mqtt_password=SecretStr("gateway-secret-for-tests"),
        _env_file=None,  # type: ignore[call-arg]
    )
    gateway = GatewayComponent(settings, services)
    gateway.start()
    try:
        port = settings.embedded_mqtt_port
        # VNH_MQTT_PASSWORD, when set, is the gateway's login to its own broker too.
        with Terminal(
            HOST, port, client_id="ops", username="vnh-gateway", password="gateway-secret-for-tests"
        ) as ops:
            assert ops.connect() == "Success"
        with Terminal(HOST, port, client_id="T5", username="T5", password="guess-123") as t5:
            assert t5.connect() == "Not authorized"
        with Terminal(HOST, port, client_id="T5", username="T5", password=secret) as t5:
            assert t5.connect() == "Success"
            _press_and_wait_for_ack(t5, "T5")
    finally:
        gateway.stop()
    for leaked in (secret, "guess-123", "gateway-secret-for-tests"):
        assert leaked not in caplog.text


def _staff_header(services: Services) -> dict[str, str]:
    with services.uow() as uow:
        _, token = mint_token(uow.session, role=Role.OPERATOR, name="Li", now=services.clock.now())
        uow.commit()
    return bearer(token)


@pytest.mark.parametrize("revoke", ["rotate-secret", "retire"])
def test_broker_auth_rotating_or_retiring_ends_the_session_opened_with_the_old_secret(
    embedded: Embedded, services: Services, revoke: str
) -> None:
    headers = _staff_header(services)
    with (
        TestClient(create_app(services)) as api,
        embedded.terminal("T1") as t1,
        embedded.terminal("T2") as t2,
    ):
        assert t1.connect() == "Success"
        assert t2.connect() == "Success"
        assert api.post(f"/api/v1/devices/T1/{revoke}", headers=headers).status_code == 200
        # Ended by the broker, not by the terminal: the old secret no longer holds a session.
        assert wait_until(lambda: not t1.client.is_connected())
        with embedded.terminal("T1") as again:
            assert again.connect() == "Not authorized"
        # Another terminal's session goes on, and its presses are handled.
        assert t2.client.is_connected()
        _press_and_wait_for_ack(t2, "T2")


def test_broker_auth_failed_logins_from_one_address_back_off(
    services: Services, clock: FakeClock
) -> None:
    _, secret = seed_elder(services, "T1", contacts=0)
    settings = Settings(
        database_url=services.settings.database_url,
        embedded_mqtt_port=free_port(),
        mqtt_password=SecretStr("gateway-password-for-this-test"),
        _env_file=None,  # type: ignore[call-arg]
    )
    gateway = GatewayComponent(settings, services)
    gateway.start()
    port = settings.embedded_mqtt_port

    def login(username: str, password: str, client_id: str | None = None) -> str:
        with Terminal(
            HOST, port, client_id=client_id or username, username=username, password=password
        ) as terminal:
            return str(terminal.connect())

    try:
        for _ in range(FREE_FAILURES + 1):
            assert login("T1", "guessed-secret") == "Not authorized"
        # Shut out: even the right secret is not looked at from this address for now…
        assert login("T1", secret) == "Not authorized"
        # …but the gateway's own login is, so a guesser on its host cannot lock it out.
        assert login("vnh-gateway", "gateway-password-for-this-test", "gw-probe") == "Success"
        clock.advance(seconds=1)
        with Terminal(HOST, port, client_id="T1", username="T1", password=secret) as t1:
            assert t1.connect() == "Success"
            _press_and_wait_for_ack(t1, "T1")
        with TestClient(create_app(services)) as api:
            lines = api.get("/metrics").text.splitlines()
        assert f'vnh_auth_failures_total{{gate="mqtt_login"}} {FREE_FAILURES + 1}.0' in lines
        assert 'vnh_auth_throttled_total{gate="mqtt_login"} 1.0' in lines
    finally:
        gateway.stop()
