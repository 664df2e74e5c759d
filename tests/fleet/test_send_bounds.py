"""Attacks on the bill: what reaches Twilio when a terminal, a panel or an operator repeats itself.

Each test counts the requests the Twilio look-alike received (the real twilio client talks to
it) while a fake clock moves; the limits are the defaults unless a test says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts.sms_segments import sms_segments
from care_api.domain.model import CaseKind, ReportType
from care_api.services import Services
from tests.api.support import ADMIN, TestClient
from tests.dispatch.support import dispatch_app, ok
from tests.fakes import FakeClock
from tests.fleet.support import (
    CONTACT,
    Reporter,
    history,
    notifications,
    settle,
    twilio_alerts,
)
from tests.helpers import seed_elder
from tests.twilio_server import RecordingTwilioServer


@pytest.fixture
def twilio() -> Iterator[RecordingTwilioServer]:
    with RecordingTwilioServer() as server:
        yield server


def test_bounds_twenty_press_and_cancel_cycles_fold_into_one_alert(
    services: Services, twilio: RecordingTwilioServer, clock: FakeClock, api: TestClient
) -> None:
    seed_elder(services, contacts=1)
    alerts = twilio_alerts(services, twilio)
    term = Reporter(services)
    try:
        first = term.send(ReportType.PRESS, button="main", pattern="long")
        settle(alerts)
        press = first
        for _ in range(20):
            clock.advance(seconds=2)
            term.send(ReportType.CANCEL, ref_seq=term.seq)
            settle(alerts)
            clock.advance(seconds=3)
            press = term.send(ReportType.PRESS, button="main", pattern="long")
            settle(alerts)
        # Before: 3 requests a cycle (SMS, call, "cancelled"). Now: the first alert, its
        # "cancelled", and nothing more while the fold window runs.
        assert len(twilio.received) == 3
        clock.advance(seconds=120)  # the window of the first alert is over
        settle(alerts)
    finally:
        alerts.stop()

    assert press.case_id is not None and press.case_id != first.case_id
    received = twilio.received
    assert len(received) == 5, [r.form.get("Body", "call") for r in received]
    folded_sms = twilio.messages()[-1].form
    assert folded_sms["To"] == CONTACT
    assert folded_sms["Body"].startswith("Wang Fang pressed again 20 times since 16:00. ")
    assert press.case_id in folded_sms["Body"]  # the one still open, to take with "1"
    assert "pressed again 20 times" in twilio.calls()[-1].form["Twiml"]
    actions = [a for a, _ in history(services, press.case_id)]
    assert "alert_held" in actions
    assert {n.status for n in notifications(services, press.case_id) if n.channel != "console"} == {
        "sent"
    }
    metrics = api.get("/metrics").text
    # 19 cases in between, each an SMS and a call folded into the last one's.
    assert 'vnh_notifications_bounded_total{bound="fold"} 38.0' in metrics


def test_bounds_an_operator_flipping_a_case_reaches_each_person_a_bounded_number_of_times(
    services: Services, twilio: RecordingTwilioServer, clock: FakeClock
) -> None:
    seed_elder(services, contacts=1)
    alerts = twilio_alerts(services, twilio, send_max_per_person_per_hour=5)
    case_id = Reporter(services).send(ReportType.PRESS, button="main", pattern="long").case_id
    assert case_id is not None
    try:
        with TestClient(dispatch_app(services)) as api:
            settle(alerts)
            for i in range(30):
                clock.advance(seconds=10)
                kind = CaseKind.CARE if i % 2 == 0 else CaseKind.EMERGENCY
                ok(
                    api.post(
                        f"/api/v1/cases/{case_id}/reclassify",
                        json={"kind": kind, "note": ""},
                        headers=ADMIN,
                    )
                )
                settle(alerts)
            metrics = api.get("/metrics").text
    finally:
        alerts.stop()

    to_contact = [r for r in twilio.received if r.form.get("To") == CONTACT]
    # The emergency's own SMS and call, then at most 5 an hour in all to that person.
    assert len(to_contact) == 5, [r.form.get("Body") for r in to_contact]
    suppressed = [n for n in notifications(services, case_id) if n.status == "suppressed"]
    assert len(suppressed) == 30 - 3
    assert all("to this person in the last hour" in (n.detail or "") for n in suppressed)
    notes = [why for action, why in history(services, case_id) if action == "message_suppressed"]
    assert len(notes) == len(suppressed)
    assert 'vnh_notifications_bounded_total{bound="per_person"} 27.0' in metrics


def test_bounds_sms_are_paced_per_sender_number_but_an_emergency_never_waits(
    services: Services, twilio: RecordingTwilioServer, clock: FakeClock
) -> None:
    terminals = [f"T{i}" for i in range(4)]
    for device_id in terminals:
        seed_elder(services, device_id, contacts=1)
    alerts = twilio_alerts(services, twilio)  # 1 segment a second, the default
    try:
        reporters = [Reporter(services, device_id) for device_id in terminals]
        for term in reporters:  # a street's power goes: four device alerts at once
            term.send(ReportType.POWER, state="lost")
        clock.advance(seconds=services.settings.storm_settle_s)  # too few for a storm
        settle(alerts)
        assert len(twilio.messages()) == 1
        reporters[0].send(ReportType.PRESS, button="main", pattern="long")
        settle(alerts)
        assert "EMERGENCY" in twilio.messages()[-1].form["Body"]  # at once, not in the queue
        sent_at = []
        for _ in range(6):
            clock.advance(seconds=1)
            settle(alerts)
            sent_at.append(len(twilio.messages()))
    finally:
        alerts.stop()

    bodies = [r.form["Body"] for r in twilio.messages()]
    assert sms_segments(bodies[0]) == 2
    # Each notice takes two segments, so two seconds of the number; the emergency went
    # between them without waiting.
    assert sent_at == [2, 3, 3, 4, 4, 5]
    assert sum("may not be working" in b for b in bodies) == 4


def test_bounds_per_terminal_suppress_notices_but_never_an_emergency_alert(
    services: Services, twilio: RecordingTwilioServer, clock: FakeClock
) -> None:
    seed_elder(services, contacts=1)
    # No folding, and a small terminal bound (the person's is out of the way).
    alerts = twilio_alerts(
        services,
        twilio,
        emergency_fold_s=0,
        send_max_per_terminal_per_hour=4,
        send_max_per_person_per_hour=100,
    )
    term = Reporter(services)
    opened = []
    try:
        for _ in range(10):
            opened.append(term.send(ReportType.PRESS, button="main", pattern="long").case_id)
            settle(alerts)
            clock.advance(seconds=2)
            term.send(ReportType.CANCEL, ref_seq=term.seq)
            settle(alerts)
            clock.advance(seconds=60)
    finally:
        alerts.stop()

    assert len(twilio.calls()) == 10  # every emergency's call went out
    alerts_sent = [r for r in twilio.messages() if "EMERGENCY" in r.form["Body"]]
    assert len(alerts_sent) == 10
    stood_down = [r for r in twilio.messages() if "cancelled" in r.form["Body"]]
    assert len(stood_down) == 1  # the first; after it the terminal's 4 an hour are spent
    for case_id in opened[1:]:
        assert case_id is not None
        [row] = [n for n in notifications(services, case_id) if n.status == "suppressed"]
        assert row.bounded_by == "per_terminal"
        assert any(a == "message_suppressed" for a, _ in history(services, case_id))
