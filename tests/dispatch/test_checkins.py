"""Wellness check-ins (issue 9) on a moved clock: a window kept, missed, off on holidays."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.runtime import AlertsComponent
from care_api.domain.model import DeviceReport, EventKey, IntakeOutcome, ReportType
from care_api.services import Services
from care_api.usecases.intake.batch import record_presses
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.registry import provision_device
from tests.api.support import TestClient
from tests.dispatch.support import (
    ADMIN,
    add_elder,
    add_volunteer,
    case_row,
    console_lines,
    history,
    messages,
    mint,
    ok,
    settle,
    sms_to,
)
from tests.fakes import FakeClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
ELDER_PHONE = "+8613800000000"


def move_to(clock: FakeClock, local: str) -> None:
    """Move the clock forward to a local time of the centre: "2026-11-23 09:30"."""
    target = datetime.fromisoformat(local).replace(tzinfo=SHANGHAI)
    clock.advance(seconds=(target - clock.now()).total_seconds())


def enrolled(api: TestClient, svc: Services, **window: Any) -> int:
    """An elder with a terminal and a check-in window 08:00–10:00 (it is Sunday 16:00)."""
    elder = add_elder(api)
    with svc.uow() as uow:
        provision_device(uow.session, "T1001", elder, svc.clock.now())
        uow.commit()
    body = {"start": "08:00", "end": "10:00", **window}
    ok(api.post(f"/api/v1/elders/{elder}/checkins", json=body, headers=ADMIN), 201)
    return elder


def press(svc: Services, seq: int, pattern: str = "single", button: str = "main") -> IntakeOutcome:
    report = DeviceReport(
        EventKey("T1001", 1, seq), ReportType.PRESS, {"button": button, "pattern": pattern}
    )
    return record_device_report(svc.uow, report, now=svc.clock.now(), tz=svc.tz)


def checkins(api: TestClient, elder: int, headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.get(f"/api/v1/elders/{elder}/checkins", headers=headers))
    return found


def care_cases(svc: Services) -> list[str]:
    return sorted({n.case_id for n in messages(svc) if n.case_id and "missed check-in" in n.body})


def test_a_press_in_the_window_is_the_check_in_and_opens_no_case(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = enrolled(api, svc)
    window = checkins(api, elder)["windows"][0]
    assert (window["today"], window["next_check_at"]) == ("new", "2026-11-23T02:00:00+00:00")

    move_to(clock, "2026-11-23 08:40")
    assert checkins(api, elder)["windows"][0]["today"] == "open"
    outcome = press(svc, 1)
    assert (outcome.status.value, outcome.case_id) == ("accepted", None)
    move_to(clock, "2026-11-23 10:01")
    settle(alerts)
    assert care_cases(svc) == []
    assert messages(svc) == []  # no service case, nobody told anything
    window = checkins(api, elder)["windows"][0]
    assert window["today"] == "kept"
    assert window["kept_at"] == "2026-11-23T00:40:00+00:00"
    assert window["next_check_at"] == "2026-11-24T02:00:00+00:00"

    # The same single press outside the window is a service request, as the keymap says.
    move_to(clock, "2026-11-23 11:00")
    assert press(svc, 2).case_id is not None


def test_a_missed_window_opens_a_care_case_that_starts_with_a_call_to_the_elder(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = enrolled(api, svc)
    move_to(clock, "2026-11-23 07:59")  # a press before the window does not count
    assert press(svc, 1).case_id is not None  # a service request, as usual
    move_to(clock, "2026-11-23 09:59")
    settle(alerts)
    assert care_cases(svc) == []

    move_to(clock, "2026-11-23 10:00")
    settle(alerts)
    window = checkins(api, elder)["windows"][0]
    case_id = window["missed_case_id"]
    assert window["today"] == "missed" and case_id is not None
    case = case_row(svc, case_id)
    assert (case.kind, case.summary) == ("care", "Care request (missed check-in 08:00–10:00)")
    assert case.contact_id == "1102"  # Contact ID: fail to report, as a centre's other systems say
    calls = [n for n in messages(svc, case_id) if n.channel == "voice"]
    assert [(c.to, c.recipient) for c in calls] == [(ELDER_PHONE, f"elder:{elder}")]
    assert calls[0].say is not None and "did not hear from you between 08:00 and 10:00" in (
        calls[0].say
    )
    assert any("missed check-in" in line for line in console_lines(svc, case_id))

    # The next day's window is watched again, and kept.
    move_to(clock, "2026-11-24 09:00")
    assert press(svc, 2).case_id is None
    move_to(clock, "2026-11-24 10:30")
    settle(alerts)
    assert care_cases(svc) == [case_id]


def test_no_check_in_on_public_holidays_or_the_elders_away_days(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = enrolled(api, svc)
    holiday = {"working": False, "note": "National Day"}
    ok(api.put("/api/v1/calendar/2026-11-23", json=holiday, headers=ADMIN))
    stranger = mint(api, "caregiver", "Li Na")  # cares for nobody here: the elder is unknown
    assert api.put(f"/api/v1/elders/{elder}/away/2026-11-24", headers=stranger).status_code == 404
    away = ok(
        api.put(f"/api/v1/elders/{elder}/away/2026-11-24", json={"note": "hospital"}, headers=ADMIN)
    )
    assert away["away"] == ["2026-11-24"]

    move_to(clock, "2026-11-23 09:00")
    assert checkins(api, elder)["windows"][0]["today"] == "off"
    assert press(svc, 1).case_id is not None  # on a day off a press is just a press
    move_to(clock, "2026-11-24 12:00")
    settle(alerts)
    assert care_cases(svc) == []
    move_to(clock, "2026-11-25 10:05")
    settle(alerts)
    assert len(care_cases(svc)) == 1


def test_an_emergency_in_the_window_counts_and_still_opens_its_case(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = enrolled(api, svc)
    move_to(clock, "2026-11-23 08:10")
    assert press(svc, 1, pattern="long").kind is not None
    assert checkins(api, elder)["windows"][0]["today"] == "kept"


def test_the_gateways_press_batches_respect_the_window(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    enrolled(api, svc)
    move_to(clock, "2026-11-23 08:10")
    reports = [
        DeviceReport(EventKey("T1001", 1, 1), ReportType.PRESS, {"button": "ok"}),
        DeviceReport(EventKey("T1001", 1, 2), ReportType.PRESS, {"pattern": "double"}),
    ]
    outcomes = record_presses(svc.uow, reports, now=clock.now(), tz=svc.tz)
    assert [o.case_id is None for o in outcomes] == [True, False]


def test_windows_are_checked_and_can_be_stopped(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = enrolled(api, svc)
    url = f"/api/v1/elders/{elder}/checkins"
    backwards = api.post(url, json={"start": "10:00", "end": "09:00"}, headers=ADMIN)
    assert backwards.status_code == 422
    assert api.post(url, json={"start": "8am", "end": "9am"}, headers=ADMIN).status_code == 422
    overlap = api.post(url, json={"start": "09:30", "end": "11:00"}, headers=ADMIN)
    assert overlap.status_code == 409
    evening = ok(api.post(url, json={"start": "18:00", "end": "20:00"}, headers=ADMIN), 201)
    assert [w["start"] for w in evening["windows"]] == ["08:00", "18:00"]

    first = evening["windows"][0]["id"]
    assert api.delete(f"{url}/{first}", headers=ADMIN).status_code == 204
    move_to(clock, "2026-11-22 19:59")  # the evening window starts today (Sunday)
    settle(alerts)
    assert care_cases(svc) == []
    move_to(clock, "2026-11-23 10:30")
    settle(alerts)
    assert len(care_cases(svc)) == 1  # Sunday evening's; the stopped 08:00 window is not judged


ANN = "+8613911110001"  # a volunteer 1 km away
DU = "+8613911110004"  # a volunteer 5 km away: the second ring


def missed(api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock) -> str:
    """Monday's 08:00–10:00 window missed: its care case, offered to Ann (ring 0)."""
    elder = enrolled(api, svc)
    add_volunteer(api, "Ann", ANN, km=1.0)
    add_volunteer(api, "Du", DU, km=5.0)
    move_to(clock, "2026-11-23 10:00")
    settle(alerts)
    case_id: str = checkins(api, elder)["windows"][0]["missed_case_id"]
    assert set(sms_to(svc, case_id)) == {ANN}
    return case_id


def test_a_late_check_in_is_told_and_stops_the_ladder_but_leaves_the_case_to_an_operator(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    case_id = missed(api, svc, alerts, clock)
    move_to(clock, "2026-11-23 10:10")
    outcome = press(svc, 1)  # main single: "I'm OK", ten minutes late
    assert (outcome.status.value, outcome.case_id) == ("accepted", case_id)  # no service case
    settle(alerts)

    case = case_row(svc, case_id)
    assert case.state in ("open", "dispatched", "escalated") and case.resolved_at is None
    assert (
        "checked_in_late",
        "Wang Fang checked in late at 10:10 (main single press); the case stays open until an"
        " operator confirms and resolves it",
    ) in history(svc, case_id)
    [line] = [c for c in console_lines(svc, case_id) if "late" in c]
    assert line == (
        f"Wang Fang checked in late at 10:10 ({case_id}) — confirm, call +8613800000000"
        " and resolve the case"
    )
    assert sms_to(svc, case_id)[ANN][-1] == (
        f"Wang Fang checked in at 10:10 (case {case_id}); the centre will confirm. No need to act."
    )
    offers = ok(api.get("/api/v1/tasks", headers=ADMIN))
    assert [t["status"] for t in offers if t["case_id"] == case_id] == ["withdrawn"]
    board = ok(api.get("/api/v1/console/board", headers=ADMIN))["cases"]
    assert "checked in late 10:10" in next(c for c in board if c["id"] == case_id)["flags"]

    # The ladder stopped: no second ring, no "no volunteer" line, the elder not called again.
    told = len(messages(svc, case_id))
    move_to(clock, "2026-11-23 12:00")
    settle(alerts)
    assert DU not in sms_to(svc, case_id)
    assert len(messages(svc, case_id)) == told

    # Pressing again says nothing new; the operator resolves it with one click.
    assert press(svc, 2).case_id == case_id
    settle(alerts)
    assert len(messages(svc, case_id)) == told
    resolved = ok(api.post(f"/api/v1/cases/{case_id}/resolve", json={}, headers=ADMIN))
    assert resolved["state"] == "resolved"


def test_a_late_check_in_cancels_the_call_to_the_elder_still_waiting_to_go(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = enrolled(api, svc)
    move_to(clock, "2026-11-23 10:00")
    alerts.tick()  # the window is judged: the care case opens, the call to the elder is queued
    move_to(clock, "2026-11-23 10:03")
    case_id = checkins(api, elder)["windows"][0]["missed_case_id"]
    assert press(svc, 1).case_id == case_id  # checked in late, before the call went out

    for local in ("2026-11-23 10:04", "2026-11-23 10:30", "2026-11-23 12:00"):
        move_to(clock, local)
        settle(alerts)
    [call] = ok(api.get(f"/api/v1/notifications?case_id={case_id}&channel=voice", headers=ADMIN))
    assert (call["to"], call["recipient"]) == (ELDER_PHONE, f"elder:{elder}")
    assert (call["status"], call["detail"]) == ("skipped", "cancelled: checked in late")
    assert (call["attempts"], call["provider_id"]) == (0, None)  # never handed to Twilio
    assert any(a == "checked_in_late" for a, _ in history(svc, case_id))


def test_a_long_press_after_a_missed_window_is_its_own_case(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    case_id = missed(api, svc, alerts, clock)
    move_to(clock, "2026-11-23 10:20")
    emergency = press(svc, 1, pattern="long")  # not a check-in: its own case, as usual
    assert emergency.case_id not in (None, case_id) and emergency.kind is not None
    assert emergency.kind.value == "emergency"
    settle(alerts)
    assert not any(a == "checked_in_late" for a, _ in history(svc, case_id))


def test_a_late_check_in_once_the_case_is_taken_goes_to_it_not_to_a_service_request(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    # The service's call asks the elder to press once; an operator (or a volunteer) taking
    # the case meanwhile must not turn that answer into a service request.
    case_id = missed(api, svc, alerts, clock)
    ok(api.post(f"/api/v1/cases/{case_id}/ack", json={}, headers=ADMIN))
    move_to(clock, "2026-11-23 10:40")
    late = press(svc, 2)
    assert late.case_id == case_id
    settle(alerts)
    assert any(a == "checked_in_late" for a, _ in history(svc, case_id))
    cases = {c["id"]: c for c in ok(api.get("/api/v1/cases", headers=ADMIN))}
    assert list(cases) == [case_id]  # no service request beside it
    assert cases[case_id]["state"] == "accepted"  # still the operator's to resolve


def test_the_gateways_press_batches_hand_a_late_check_in_to_its_case(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    case_id = missed(api, svc, alerts, clock)
    move_to(clock, "2026-11-23 10:40")
    report = DeviceReport(EventKey("T1001", 1, 1), ReportType.PRESS, {"button": "ok"})
    [outcome] = record_presses(svc.uow, [report], now=clock.now(), tz=svc.tz)
    assert outcome.case_id == case_id
    settle(alerts)
    assert any("checked in late at 10:40" in c for c in console_lines(svc, case_id))


def test_a_check_in_in_the_next_window_also_answers_the_missed_one(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    case_id = missed(api, svc, alerts, clock)
    elder = case_row(svc, case_id).elder_id
    evening = {"start": "18:00", "end": "20:00"}
    ok(api.post(f"/api/v1/elders/{elder}/checkins", json=evening, headers=ADMIN), 201)
    move_to(clock, "2026-11-23 18:10")
    settle(alerts)  # the rings ran out meanwhile: the operator was asked to arrange help
    assert case_row(svc, case_id).state == "escalated"
    assert press(svc, 1).case_id is None  # the evening's "I'm OK": no case, as in any window
    settle(alerts)
    assert [w["today"] for w in checkins(api, elder)["windows"]] == ["missed", "kept"]
    assert any(a == "checked_in_late" and "at 18:10" in why for a, why in history(svc, case_id))
    assert any("checked in late at 18:10" in c for c in console_lines(svc, case_id))
