"""A district blackout from outside: terminals on a real Mosquitto lose power together.

The gateway records every event, one area incident holds them, no family is texted, and an
elder of the same district who presses meanwhile is acked and alerted as usual.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseKind, CaseState
from care_api.services import Services
from care_api.settings import Settings
from care_api.store.tables import Case, DeviceEvent, Incident
from device_gateway.runtime import GatewayComponent
from tests.fleet.support import settle, twilio_alerts
from tests.helpers import seed_elder
from tests.integration.test_gateway_mqtt import TestTerminal
from tests.mosquitto import run_mosquitto
from tests.twilio_server import RecordingTwilioServer

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
