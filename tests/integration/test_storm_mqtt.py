"""A district blackout from outside: terminals on a real Mosquitto lose power together.

The gateway records every event, one area incident holds them, no family is texted, and an
elder of the same district who presses meanwhile is acked and alerted as usual.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import select

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseKind, CaseState
from care_api.services import Services
from care_api.settings import Settings
from care_api.store.tables import Case, DeviceEvent, Incident
from device_gateway.mqtt_url import parse_mqtt_url
from device_gateway.ports import Inbound
from device_gateway.runtime import GatewayComponent
from device_gateway.transports.mqtt import RECEIVE_MAXIMUM, MqttTransport
from tests.fleet.support import settle, twilio_alerts
from tests.helpers import seed_elder
from tests.integration.test_gateway_mqtt import TestTerminal
from tests.mosquitto import run_mosquitto
from tests.twilio_server import RecordingTwilioServer
from vnh.bench_storm import Terminals

STORM = [f"T{4000 + i}" for i in range(25)]
PRESSER = "T4100"


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    with run_mosquitto(tmp_path) as server:
        yield server.url


@pytest.fixture
def gateway(services: Services, broker_url: str) -> Iterator[GatewayComponent]:
    config = Settings(
        database_url=services.settings.database_url,
        mqtt_url=broker_url,
        mqtt_client_id=f"vnh-gw-{uuid.uuid4().hex[:8]}",
        _env_file=None,  # type: ignore[call-arg]
    )
    gateway = GatewayComponent(config, services)
    gateway.start()
    assert gateway.health()["mqtt_connected"], "gateway did not subscribe in time"
    yield gateway
    gateway.stop()


@pytest.fixture
def twilio() -> Iterator[RecordingTwilioServer]:
    with RecordingTwilioServer() as server:
        yield server


@pytest.fixture
def alerts(services: Services, twilio: RecordingTwilioServer) -> Iterator[AlertsComponent]:
    component = twilio_alerts(services, twilio)
    yield component
    component.stop()


def test_a_district_blackout_makes_one_incident_no_family_sms_and_a_press_is_alerted(
    services: Services,
    broker_url: str,
    gateway: GatewayComponent,
    alerts: AlertsComponent,
    twilio: RecordingTwilioServer,
) -> None:
    for device_id in [*STORM, PRESSER]:
        seed_elder(services, device_id, contacts=1, district="Huangpu")
    terminal = TestTerminal(broker_url, (*STORM, PRESSER))
    try:
        for device_id in STORM:
            terminal.publish({"boot": 1, "seq": 1, "type": "power", "state": "lost"}, device_id)
        terminal.publish({"boot": 1, "seq": 1, "type": "press", "pattern": "long"}, PRESSER)
        press_ack = terminal.ack(PRESSER)
        storm_acks = [terminal.ack(device_id) for device_id in STORM]
    finally:
        terminal.close()
    assert press_ack["status"] == "accepted" and press_ack["case"]
    assert {a["status"] for a in storm_acks} == {"accepted"}
    settle(alerts)

    with services.uow() as uow:
        [incident] = uow.session.exec(select(Incident)).all()
        assert (incident.area, incident.terminals, incident.closed_at) == ("Huangpu", 25, None)
        recorded = uow.session.exec(select(DeviceEvent).where(DeviceEvent.type == "power")).all()
        assert len(recorded) == 25  # every event on its terminal's history
        open_device = uow.session.exec(
            select(Case).where(Case.kind == CaseKind.DEVICE, Case.state == CaseState.OPEN)
        ).all()
        assert open_device == []
    texts = [r.form.get("Body", "") for r in twilio.messages()]
    assert texts, "the press during the storm was not alerted"
    assert all(press_ack["case"] in text for text in texts), texts  # no family SMS for the storm


# A broker that keeps at most this many messages in flight to the gateway, and a gateway
# inbox far smaller than the storm: the storm overflows it, as 20,000 terminals within 5 s
# overflow the real one.
FLOOD_INFLIGHT = 100
FLOOD_INBOX = 20
FLOOD = [f"F{5000 + i}" for i in range(300)]
FLOOD_PRESSER = "F6000"
RESEND_S = 0.5  # a terminal's resend timer, short for the test
FLOOD_WAIT_S = 60.0


@contextmanager
def writes_held(services: Services) -> Iterator[None]:
    """Another client holds the event table: the gateway's writes wait (a slow database)."""
    url = services.engine.url
    if url.get_backend_name() == "sqlite":
        held = sqlite3.connect(str(url.database), isolation_level=None)
        held.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            held.rollback()
            held.close()
        return
    with services.engine.connect() as conn:
        conn.exec_driver_sql("LOCK TABLE device_event IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `check` (what the gateway reports) until it holds or the timeout."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # polling the gateway's counters
    return True


def test_a_storm_overflowing_the_inbox_loses_nothing_and_a_press_is_acked_and_alerted(
    services: Services, tmp_path: Path, alerts: AlertsComponent, twilio: RecordingTwilioServer
) -> None:
    for device_id in [*FLOOD, FLOOD_PRESSER]:
        seed_elder(services, device_id, contacts=1, district="Minhang")
    conf = f"max_inflight_messages {FLOOD_INFLIGHT}\nmax_queued_messages 100000"
    with run_mosquitto(tmp_path, conf) as broker:
        config = Settings(
            database_url=services.settings.database_url,
            mqtt_url=broker.url,
            mqtt_client_id=f"vnh-gw-{uuid.uuid4().hex[:8]}",
            gateway_inbox_size=FLOOD_INBOX,
            _env_file=None,  # type: ignore[call-arg]
        )
        gateway = GatewayComponent(config, services)
        gateway.start()
        terminals = Terminals(broker.url, resend_s=RESEND_S)
        try:
            with writes_held(services):
                # The worker waits on the database, the inbox fills, the storm goes on:
                # the broker's whole window to the gateway is refused messages.
                storm = [terminals.send(d, {"type": "power", "state": "lost"}) for d in FLOOD]
                overflowed = wait_for(
                    lambda: gateway.health()["mqtt_refused"] >= FLOOD_INFLIGHT - FLOOD_INBOX - 1,
                    FLOOD_WAIT_S,
                )
                pressed = terminals.send(FLOOD_PRESSER, {"type": "press", "pattern": "long"})
            terminals.wait_acked([pressed], FLOOD_WAIT_S)
            press_case = terminals.cases.get(pressed)
            terminals.wait_acked(storm, FLOOD_WAIT_S)
            storm_acked = len(terminals.latencies(storm))
            press_acked_at = terminals.acked.get(pressed, float("inf"))
            before_press = sum(terminals.acked.get(k, 0.0) < press_acked_at for k in storm)
        finally:
            terminals.close()
            gateway.stop()
    assert overflowed, "the storm did not overflow the inbox"
    # Left without their PUBACK, the refused messages held the broker's window to the
    # gateway: nothing more came through, the press included.
    assert press_case, "the press during the storm was not acked"
    # Taken before the storm's reports waiting with it: at most the batch the worker held
    # when the database came back, and those waiting in the inbox, went first.
    assert before_press <= 2 * FLOOD_INBOX, f"{before_press} storm reports acked before the press"
    assert storm_acked == len(FLOOD), "a refused report was never acked (resent and recorded)"
    settle(alerts)

    with services.uow() as uow:
        recorded = uow.session.exec(select(DeviceEvent).where(DeviceEvent.type == "power")).all()
        assert len(recorded) == len(FLOOD)  # each once, however often it was resent
        [incident] = uow.session.exec(select(Incident)).all()
        assert incident.terminals == len(FLOOD)
    texts = [r.form.get("Body", "") for r in twilio.messages()]
    assert any(press_case in text for text in texts), "the press was not alerted"
    storm_texted = {
        r.form.get("To") for r in twilio.messages() if press_case not in r.form.get("Body", "")
    }
    assert len(storm_texted) <= 1, texts  # the storm's first terminal, alone when it spoke


WINDOW = 50  # what Mosquitto keeps in flight to an MQTT 3.1.1 gateway


@pytest.mark.parametrize("shared_group", [None, "vnh-gw"])
def test_messages_a_full_inbox_refuses_do_not_hold_the_brokers_window(
    tmp_path: Path, shared_group: str | None
) -> None:
    """Refused without a PUBACK, a window's worth of storm blocked everything after it."""
    # MQTT 5 (gateways sharing terminals): the window is the gateway's Receive Maximum.
    window = WINDOW if shared_group is None else RECEIVE_MAXIMUM
    taken: list[bytes] = []
    full = threading.Event()
    full.set()

    def inbox(item: Inbound) -> bool:
        if full.is_set():
            return False
        taken.append(item.payload)
        item.transport.settle(item.receipt)
        return True

    conf = f"max_inflight_messages {WINDOW}\nmax_queued_messages 100000"
    with run_mosquitto(tmp_path, conf) as broker:
        transport = MqttTransport(
            parse_mqtt_url(broker.url),
            client_id=f"vnh-gw-{uuid.uuid4().hex[:8]}",
            shared_group=shared_group,
        )
        transport.start(inbox)
        terminals = Terminals(broker.url)  # resends nothing: only the broker delivers here
        try:
            assert transport.wait_ready(10)
            for n in range(window + 10):
                terminals.send(f"F{n}", {"type": "power", "state": "lost"})
            filled = wait_for(lambda: transport.refused >= window, FLOOD_WAIT_S)
            full.clear()  # the worker caught up
            terminals.send("F9999", {"type": "press", "pattern": "long"})
            delivered = wait_for(lambda: any(b'"press"' in p for p in taken), 10.0)
        finally:
            terminals.close()
            transport.close()
    assert filled, "the broker did not deliver a window's worth"
    assert delivered, "the press never reached the gateway"
