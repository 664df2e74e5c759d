"""A fall waits 30 s for the elder's cancel; a cancelled fall still gets a check-in call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseState, DeviceReport, EventKey, ReportType
from care_api.services import Services, build_services
from care_api.store.tables import Case, Notification
from care_api.usecases.intake.reports import record_device_report
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder


@pytest.fixture
def svc(db_url: str, clock: FakeClock) -> Iterator[Services]:
    services = build_services(make_settings(db_url), clock=clock)
    yield services
    services.close()


def send(svc: Services, seq: int, type_: ReportType, **fields: object) -> str | None:
    report = DeviceReport(EventKey("T1001", 7, seq), type_, fields)
    outcome = record_device_report(svc.uow, report, now=svc.clock.now(), tz=svc.tz)
    assert outcome.status == "accepted", outcome
    return outcome.case_id


def cases(svc: Services) -> list[Case]:
    with svc.uow() as uow:
        rows = list(uow.session.exec(select(Case).order_by(col(Case.opened_at))).all())
        uow.session.expunge_all()
        return rows


def messages(svc: Services) -> list[tuple[str, str]]:
    with svc.uow() as uow:
        rows = uow.session.exec(select(Notification).order_by(col(Notification.id))).all()
        return [(n.channel, n.body) for n in rows]


def run(alerts: AlertsComponent) -> None:
    alerts.tick()
    alerts.run_pending()


def test_fall_opens_the_emergency_only_after_30_s(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc)
    assert send(svc, 1, ReportType.FALL, confidence=0.9) is None  # the ack names no case yet
    clock.advance(seconds=29)
    run(alerts)
    assert cases(svc) == []
    assert messages(svc) == []
    clock.advance(seconds=1)
    run(alerts)
    [case] = cases(svc)
    assert (case.kind, case.state, case.contact_id) == ("emergency", "dispatched", "1100")
    assert "not cancelled within 30 s" in case.summary
    channels = {c for c, _ in messages(svc)}
    assert {"sms", "voice", "console"} <= channels  # the ladder's step 0 ran
    # A cancel after the window cancels the emergency like any other.
    clock.advance(seconds=5)
    assert send(svc, 2, ReportType.CANCEL, ref_seq=1) == case.id
    assert cases(svc)[0].state == CaseState.CANCELLED


def test_fall_cancelled_at_10_s_pages_nobody_and_asks_for_a_check_in_call(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, phone="+8613811112222")
    send(svc, 1, ReportType.FALL)
    clock.advance(seconds=10)
    case_id = send(svc, 2, ReportType.CANCEL, ref_seq=1)
    assert case_id is not None  # the cancel's ack names the check-in case
    run(alerts)
    clock.advance(minutes=10)
    run(alerts)
    [case] = cases(svc)
    assert (case.id, case.kind, case.state) == (case_id, "emergency", "cancelled")
    assert "cancelled by the elder after 10 s" in case.summary
    sent = messages(svc)
    # Nobody was paged: one console line, telling the operator to call the elder.
    assert [c for c, _ in sent] == ["console"]
    assert "check in with Wang Fang, call +8613811112222" in sent[0][1]


def test_a_restart_inside_the_window_does_not_lose_the_fall(db_url: str, clock: FakeClock) -> None:
    first = build_services(make_settings(db_url), clock=clock)
    seed_elder(first)
    send(first, 1, ReportType.FALL)
    first.close()  # the process dies 12 s into the window
    clock.advance(seconds=12)
    second = build_services(make_settings(db_url), clock=clock)
    alerts = AlertsComponent(second.settings, second)
    alerts.attach()
    try:
        run(alerts)
        assert cases(second) == []
        clock.advance(seconds=18)
        run(alerts)
        [case] = cases(second)
        assert (case.kind, case.contact_id) == ("emergency", "1100")
        assert any(c == "sms" for c, _ in messages(second))
    finally:
        alerts.stop()
        second.close()


def test_a_fall_during_a_running_emergency_joins_it(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc)
    emergency = record_device_report(
        svc.uow, press(seq=1, pattern="long"), now=clock.now(), tz=svc.tz
    ).case_id
    send(svc, 2, ReportType.FALL)
    clock.advance(seconds=30)
    run(alerts)
    assert [c.id for c in cases(svc)] == [emergency]


def test_window_zero_opens_the_emergency_at_once(svc: Services, clock: FakeClock) -> None:
    seed_elder(svc)
    report = DeviceReport(EventKey("T1001", 7, 1), ReportType.FALL, {})
    outcome = record_device_report(svc.uow, report, now=clock.now(), tz=svc.tz, fall_window_s=0)
    assert outcome.case_id is not None
    assert cases(svc)[0].contact_id == "1100"


def test_cancelling_a_repeat_press_leaves_the_fall_emergency_running(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    send(svc, 1, ReportType.FALL)
    clock.advance(seconds=30)
    run(alerts)
    [emergency] = cases(svc)
    assert send(svc, 2, ReportType.PRESS, button="main", pattern="long") == emergency.id
    sent_before = len(messages(svc))

    # The elder cancels the repeat press only: the fall that opened the case stands.
    assert send(svc, 3, ReportType.CANCEL, ref_seq=2) == emergency.id

    [case] = cases(svc)
    assert case.state == CaseState.DISPATCHED
    clock.advance(minutes=2)
    run(alerts)  # the ladder's next step still fires
    assert cases(svc)[0].state == CaseState.ESCALATED
    step1 = messages(svc)[sent_before:]
    assert {"sms", "voice"} <= {c for c, _ in step1}
    # The cancel of the first, opening event still cancels the case nobody has taken.
    assert send(svc, 4, ReportType.CANCEL, ref_seq=1) == emergency.id
    assert cases(svc)[0].state == CaseState.CANCELLED
