"""A district blackout told by DC-09 panels: AC loss from many, one incident, the alarm alerted.

Panels of one district report Contact ID 1301 (AC loss) over a real TCP connection to the
gateway's DC-09 receiver while one panel of the same district raises a medical alarm. The
receiver tells the AC losses apart from the alarm (they wait in the technical lane), every
frame is answered ACK after its commit, one area incident holds the terminals, no family
is texted for the blackout, and the alarm's case is alerted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseKind, CaseState
from care_api.services import Services
from care_api.store.tables import Case, DeviceEvent, Incident
from device_gateway.downlink import DownlinkRouter
from device_gateway.pipeline import Pipeline
from device_gateway.transports.dc09 import Dc09Transport
from tests.dc09_sender import Panel, answer_id, contact_id
from tests.fleet.support import settle, twilio_alerts
from tests.helpers import seed_elder
from tests.twilio_server import RecordingTwilioServer

DARK = [f"{2000 + i}" for i in range(30)]  # panel accounts
ALARM = "2100"


@pytest.fixture
def receiver(services: Services) -> Iterator[Dc09Transport]:
    transport = Dc09Transport("127.0.0.1:0")
    pipeline = Pipeline(services, DownlinkRouter(transport))
    pipeline.start()
    transport.start(pipeline.offer)
    yield transport
    pipeline.stop()
    transport.close()


@pytest.fixture
def twilio() -> Iterator[RecordingTwilioServer]:
    with RecordingTwilioServer() as server:
        yield server


@pytest.fixture
def alerts(services: Services, twilio: RecordingTwilioServer) -> Iterator[AlertsComponent]:
    component = twilio_alerts(services, twilio)
    yield component
    component.stop()


def test_a_dc09_ac_loss_storm_makes_one_incident_and_the_alarm_is_still_alerted(
    services: Services,
    receiver: Dc09Transport,
    alerts: AlertsComponent,
    twilio: RecordingTwilioServer,
) -> None:
    for account in [*DARK, ALARM]:
        seed_elder(services, f"dc09-{account}", contacts=1, district="Huangpu")
    panel = Panel(receiver.address)
    try:
        for seq, account in enumerate(DARK, start=1):
            panel.send(contact_id(seq, account, "1301"))
        panel.send(contact_id(99, ALARM, "1100"))
        answers = [answer_id(panel.answer()) for _ in range(len(DARK) + 1)]
    finally:
        panel.close()
    assert answers == ["ACK"] * (len(DARK) + 1)
    settle(alerts)

    with services.uow() as uow:
        [incident] = uow.session.exec(select(Incident)).all()
        assert (incident.trouble, incident.area, incident.terminals) == (
            "power_lost",
            "Huangpu",
            len(DARK),
        )
        power = uow.session.exec(select(DeviceEvent).where(DeviceEvent.type == "power")).all()
        assert len(power) == len(DARK)  # every AC loss recorded
        open_device = uow.session.exec(
            select(Case).where(Case.kind == CaseKind.DEVICE, Case.state == CaseState.OPEN)
        ).all()
        assert open_device == []
        [emergency] = uow.session.exec(select(Case).where(Case.kind == CaseKind.EMERGENCY)).all()
        assert emergency.device_id == f"dc09-{ALARM}"
    texts = [r.form.get("Body", "") for r in twilio.messages()]
    assert texts, "the alarm during the blackout was not alerted"
    assert all(emergency.id in text for text in texts), texts  # none for the blackout
