"""Alarm storms: a district's terminals losing power at once make one area incident."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseKind, CaseState, ReportType
from care_api.services import Services, build_services
from care_api.store.tables import Case, CaseEvent, DeviceHistory, Incident, Notification
from tests.api.support import ADMIN, TestClient, mint
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.fleet.support import Reporter, device_cases, past_the_settle
from tests.helpers import seed_elder


def terminals(services: Services, n: int, district: str = "Huangpu") -> list[Reporter]:
    for i in range(n):
        seed_elder(services, f"T{2000 + i}", contacts=1, district=district)
    return [Reporter(services, f"T{2000 + i}") for i in range(n)]


def incidents(services: Services) -> list[Incident]:
    with services.uow() as uow:
        rows = list(uow.session.exec(select(Incident).order_by(col(Incident.id))).all())
        uow.session.expunge_all()
        return rows


def open_device_cases(services: Services) -> list[Case]:
    with services.uow() as uow:
        rows = list(
            uow.session.exec(
                select(Case).where(Case.kind == CaseKind.DEVICE, Case.state == CaseState.OPEN)
            ).all()
        )
        uow.session.expunge_all()
        return rows


def family_sms(services: Services) -> list[Notification]:
    with services.uow() as uow:
        rows = list(
            uow.session.exec(
                select(Notification).where(
                    Notification.channel == "sms",
                    col(Notification.recipient).startswith("contact:"),
                    col(Notification.status).not_like("skipped%"),
                )
            ).all()
        )
        uow.session.expunge_all()
        return rows


def test_a_district_losing_power_makes_one_incident_and_no_family_sms(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    fleet = terminals(services, 30)
    for term in fleet:
        term.send(ReportType.POWER, state="lost")
        clock.advance(seconds=1)
    alerts.run_pending()
    [incident] = incidents(services)
    assert (incident.trouble, incident.scope, incident.area) == (
        "power_lost",
        "district",
        "Huangpu",
    )
    assert incident.terminals == 30 and incident.closed_at is None
    # The first terminals opened their cases before the storm showed: folded into it.
    assert open_device_cases(services) == []
    assert family_sms(services) == []
    with services.uow() as uow:
        told = uow.session.exec(
            select(DeviceHistory).where(DeviceHistory.device_id == "T2029")
        ).all()
        assert "incident" in [h.action for h in told]  # still on the terminal's history


def test_power_back_closes_the_incident_and_one_still_dark_gets_its_case_later(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    fleet = terminals(services, 25)
    for term in fleet:
        term.send(ReportType.POWER, state="lost")
    clock.advance(minutes=40)
    for term in fleet[:-1]:
        term.send(ReportType.POWER, state="restored")
    alerts.run_pending()
    [incident] = incidents(services)
    assert incident.closed_at is not None
    assert incident.close_reason == "power back: 20 of 25 terminals back"
    assert open_device_cases(services) == []
    clock.advance(minutes=29)
    alerts.tick()
    assert [c for c in device_cases(services, "T2024") if c.state == CaseState.OPEN] == []
    clock.advance(minutes=2)
    alerts.tick()
    alerts.run_pending()
    [case] = [c for c in device_cases(services, "T2024") if c.state == CaseState.OPEN]
    # The family's SMS reads as a lone terminal's would; the incident is on the history.
    assert case.summary == "Terminal problem (mains power lost)"
    assert len(open_device_cases(services)) == 1
    with services.uow() as uow:
        notes = uow.session.exec(
            select(CaseEvent.why).where(CaseEvent.case_id == case.id, CaseEvent.action == "note")
        ).all()
    assert notes == [f"mains power lost still, 31 min after area incident {incident.id} closed"]


def test_an_incident_and_a_terminal_history_read_in_the_reader_language(
    services: Services, api: TestClient, clock: FakeClock
) -> None:
    fleet = terminals(services, 25)
    for term in fleet:
        term.send(ReportType.POWER, state="lost")
    clock.advance(minutes=5)
    for term in fleet:
        term.send(ReportType.POWER, state="restored")
    chinese, english = ({**ADMIN, "Accept-Language": lang} for lang in ("zh-CN", "en"))
    [closed] = api.get("/api/v1/incidents", headers=chinese).json()
    assert closed["close_reason"] == "已恢复供电：25台终端中20台已恢复"  # it closes at 80 %
    [closed] = api.get("/api/v1/incidents", headers=english).json()
    assert closed["close_reason"] == "power back: 20 of 25 terminals back"
    lines = api.get("/api/v1/devices/T2024/history", headers=chinese).json()
    details = {line["action"]: line["detail"] for line in lines}
    assert details["incident"] == f"区域事件{closed['id']}（辖区Huangpu）期间市电断开"
    lines = api.get("/api/v1/devices/T2024/history", headers=english).json()
    details = {line["action"]: line["detail"] for line in lines}
    assert details["incident"] == (
        f"mains power lost during area incident {closed['id']} (district Huangpu)"
    )


def test_a_few_terminals_losing_power_get_their_own_cases_after_a_short_hold(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    fleet = terminals(services, 4)
    for term in fleet:
        term.send(ReportType.POWER, state="lost")
    alerts.run_pending()
    assert incidents(services) == []
    # The first waits the settle, the others the longer hold, in case a storm is starting.
    assert open_device_cases(services) == [] and family_sms(services) == []
    past_the_settle(services, alerts, clock)
    assert [c.device_id for c in open_device_cases(services)] == ["T2000"]
    assert len(family_sms(services)) == 1
    fleet[3].send(ReportType.POWER, state="restored")  # back within the hold: no case at all
    clock.advance(seconds=61 - services.settings.storm_settle_s)
    alerts.tick()
    alerts.run_pending()
    cases = open_device_cases(services)
    assert sorted(c.device_id or "" for c in cases) == ["T2000", "T2001", "T2002"]
    assert len(family_sms(services)) == 3
    assert incidents(services) == []


def test_a_lone_power_loss_opens_its_case_after_the_settle(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    [term] = terminals(services, 1)
    out = term.send(ReportType.POWER, state="lost")
    assert out.case_id is None  # it may be the first of a blackout: nobody texted yet
    alerts.run_pending()
    assert family_sms(services) == []
    clock.advance(seconds=services.settings.storm_settle_s - 1)
    alerts.tick()
    assert open_device_cases(services) == []
    clock.advance(seconds=1)
    alerts.tick()
    alerts.run_pending()
    [case] = open_device_cases(services)
    # It reads as a case opened at once would: the family is not told about storm rules.
    assert case.summary == "Terminal problem (mains power lost)"
    [sms] = family_sms(services)
    assert "storm" not in sms.body and "waited" not in sms.body


def test_a_power_flicker_shorter_than_the_settle_texts_nobody(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    [term] = terminals(services, 1)
    term.send(ReportType.POWER, state="lost")
    clock.advance(seconds=5)
    term.send(ReportType.POWER, state="restored")
    past_the_settle(services, alerts, clock)
    assert open_device_cases(services) == [] and family_sms(services) == []


def test_with_no_settle_a_lone_power_loss_opens_its_case_at_once(
    db_url: str, clock: FakeClock
) -> None:
    services = build_services(make_settings(db_url, storm_settle_s=0), clock=clock)
    try:
        [term] = terminals(services, 1)
        assert term.send(ReportType.POWER, state="lost").case_id is not None
    finally:
        services.close()


def test_terminals_going_silent_together_make_an_offline_incident(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    fleet = terminals(services, 22, district="Xuhui")
    for term in fleet:
        term.beat(battery=90)
    alerts.fleet.watch()
    clock.advance(minutes=16)  # 3 intervals of 300 s and more: all silent at once
    alerts.fleet.watch()
    alerts.run_pending()
    [incident] = incidents(services)
    assert (incident.trouble, incident.area, incident.terminals) == ("offline", "Xuhui", 22)
    assert open_device_cases(services) == []
    # They come back and the signals stop: the watch closes the incident.
    clock.advance(minutes=1)
    for term in fleet:
        term.beat(battery=90)
    clock.advance(minutes=3)
    alerts.fleet.watch()
    [incident] = incidents(services)
    assert incident.closed_at is not None
    assert incident.closed_at - incident.opened_at >= timedelta(minutes=1)


def test_the_incident_is_shown_to_staff_growing_live_and_refused_to_a_caregiver(
    services: Services, api: TestClient, clock: FakeClock
) -> None:
    fleet = terminals(services, 30)
    for term in fleet[:10]:
        term.send(ReportType.POWER, state="lost")
    [shown] = api.get("/api/v1/incidents", headers=ADMIN).json()
    assert (shown["trouble"], shown["area"], shown["terminals"]) == ("power_lost", "Huangpu", 10)
    for term in fleet[10:]:
        term.send(ReportType.POWER, state="lost")
    [shown] = api.get("/api/v1/incidents?open_only=true", headers=ADMIN).json()
    assert (shown["terminals"], shown["still_down"], shown["closed_at"]) == (30, 30, None)
    caregiver = mint(api, "caregiver", elder_ids=[1])
    assert api.get("/api/v1/incidents", headers=caregiver).status_code == 403
    assert api.get("/api/v1/incidents?limit=0", headers=ADMIN).status_code == 422


def test_the_first_terminal_of_a_storm_texts_nobody_either(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    fleet = terminals(services, 30)
    fleet[0].send(ReportType.POWER, state="lost")  # alone so far: it waits the settle
    alerts.run_pending()
    clock.advance(seconds=services.settings.storm_settle_s // 2)
    for term in fleet[1:]:
        term.send(ReportType.POWER, state="lost")
    past_the_settle(services, alerts, clock)
    [incident] = incidents(services)
    assert incident.terminals == 30
    assert device_cases(services, "T2000") == [] and family_sms(services) == []


def test_a_first_terminal_opened_before_its_storm_is_folded_and_never_told_cancelled(
    db_url: str, clock: FakeClock
) -> None:
    # With no settle (VNH_STORM_SETTLE_S=0) the first terminal's case opens at once.
    services = build_services(make_settings(db_url, storm_settle_s=0), clock=clock)
    alerts = AlertsComponent(services.settings, services)
    alerts.attach()
    try:
        fleet = terminals(services, 30)
        fleet[0].send(ReportType.POWER, state="lost")
        alerts.run_pending()
        assert len(family_sms(services)) == 1
        for term in fleet[1:]:
            term.send(ReportType.POWER, state="lost")
        alerts.run_pending()
        [incident] = incidents(services)
        assert incident.terminals == 30
        [case] = device_cases(services, "T2000")
        assert case.state == CaseState.CANCELLED  # folded into the incident
        assert len(family_sms(services)) == 1  # the one power-loss text; no "cancelled" after it
    finally:
        alerts.stop()
        services.close()


def test_a_terminal_back_then_down_again_is_no_longer_counted_back(
    services: Services, clock: FakeClock
) -> None:
    fleet = terminals(services, 30)
    for term in fleet:
        term.send(ReportType.POWER, state="lost")
    fleet[0].send(ReportType.POWER, state="restored")
    assert incidents(services)[0].back == 1
    fleet[0].send(ReportType.POWER, state="lost")  # a flapping socket
    [incident] = incidents(services)
    assert (incident.terminals, incident.back) == (30, 0)
