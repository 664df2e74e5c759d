"""Hand-filed matters: working-day deadlines, the calendar, 督办 notices; and the KPI report."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.runtime import AlertsComponent
from care_api.domain.model import DeviceReport, EventKey, ReportType
from care_api.services import Services
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.registry import provision_device
from tests.api.support import TestClient
from tests.dispatch.support import (
    ADMIN,
    add_elder,
    add_merchant,
    console_lines,
    file_case,
    history,
    mint,
    ok,
    settle,
)
from tests.fakes import FakeClock

# The clock starts on Sunday 2026-11-22 at 16:00 in Shanghai (08:00 UTC).


def set_day(api: TestClient, day: str, working: bool, headers: dict[str, str] = ADMIN) -> Any:
    return api.put(
        f"/api/v1/calendar/{day}", json={"working": working, "note": "set"}, headers=headers
    )


def deadline(api: TestClient, case_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.get(f"/api/v1/cases/{case_id}/deadline", headers=ADMIN))
    return found


def notices(svc: Services, case_id: str) -> list[str]:
    return [why for action, why in history(svc, case_id) if action == "supervision"]


def test_filings_due_dates_follow_the_working_day_calendar(api: TestClient, svc: Services) -> None:
    elder = add_elder(api)
    operator = mint(api, "operator", "Op")
    assert set_day(api, "2026-11-23", False, operator).status_code == 403
    assert ok(set_day(api, "2026-11-23", False)) == {
        "day": "2026-11-23",
        "working": False,
        "override": True,
        "note": "set",
    }
    ok(set_day(api, "2026-11-28", True))  # a make-up Saturday
    week = ok(api.get("/api/v1/calendar?from=2026-11-22&to=2026-11-29", headers=operator))
    assert [d["working"] for d in week] == [False, False, True, True, True, True, True, False]

    department = file_case(api, elder, "consult", "pension office answer", matter="department")
    general = file_case(api, elder, "service", "fix the door", matter="general")
    complaint = file_case(api, elder, "consult", "noisy neighbours", matter="complaint")
    assert department["deadline"]["due_at"] == "2026-11-24T16:00:00+00:00"  # end of Tuesday
    assert general["deadline"]["due_at"] == "2026-11-28T16:00:00+00:00"  # the make-up Saturday
    assert complaint["deadline"]["due_at"] == "2026-12-11T16:00:00+00:00"
    assert (department["deadline"]["limit_days"], complaint["deadline"]["limit_days"]) == (1, 15)
    assert ("deadline", "department: 1 working day(s), due by 2026-11-25 00:00") in history(
        svc, department["id"]
    )

    assert api.delete("/api/v1/calendar/2026-11-23", headers=ADMIN).status_code == 204
    assert api.delete("/api/v1/calendar/2026-11-23", headers=ADMIN).status_code == 404
    again = file_case(api, elder, "consult", "another answer", matter="department")
    assert again["deadline"]["due_at"] == "2026-11-23T16:00:00+00:00"

    caregiver = mint(api, "caregiver", "Daughter")
    body = {"elder_id": elder, "kind": "consult", "summary": "x"}
    assert api.post("/api/v1/cases", json=body, headers=caregiver).status_code == 403
    emergency = {**body, "kind": "emergency"}
    assert api.post("/api/v1/cases", json=emergency, headers=ADMIN).status_code == 422
    assert (
        api.post("/api/v1/cases", json={**body, "elder_id": 999}, headers=ADMIN).status_code == 404
    )


def test_filings_overdue_matter_draws_one_supervision_notice_and_extension_moves_it(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    late = file_case(api, elder, "consult", "pension office answer", matter="department")["id"]
    extended = file_case(api, elder, "consult", "general question", matter="general")["id"]
    in_time = file_case(api, elder, "consult", "quick answer", matter="department")["id"]
    settle(alerts)
    # Taking a case stops its ladder, never its deadline.
    ok(api.post(f"/api/v1/cases/{late}/ack", headers=ADMIN))
    ok(api.post(f"/api/v1/cases/{in_time}/resolve", json={"note": "answered"}, headers=ADMIN))

    path = f"/api/v1/cases/{extended}/extend"
    assert api.post(path, json={"days": 16, "reason": "x"}, headers=ADMIN).status_code == 422
    moved = ok(api.post(path, json={"days": 3, "reason": "waiting for the bureau"}, headers=ADMIN))
    assert moved["deadline"]["due_at"] == "2026-12-02T16:00:00+00:00"  # Fri 27 + 3 working days
    assert moved["deadline"]["extended_days"] == 3
    assert api.post(path, json={"days": 1, "reason": "again"}, headers=ADMIN).status_code == 409

    clock.advance(hours=31, minutes=59)  # Monday 23:59 local: still within the day
    settle(alerts)
    assert notices(svc, late) == []
    clock.advance(minutes=1)
    settle(alerts)
    [notice] = notices(svc, late)
    assert notice.startswith("督办通知书 supervision notice: department matter due")
    assert any(
        line.startswith(f"督办通知书 SUPERVISION NOTICE {late}")
        for line in console_lines(svc, late)
    )
    board = ok(api.get("/api/v1/console/board", headers=ADMIN))["cases"]
    assert "overdue: supervision notice" in next(c for c in board if c["id"] == late)["flags"]
    status = deadline(api, late)
    assert status["overdue"] is True and status["supervised_at"] == "2026-11-23T16:00:00+00:00"
    assert notices(svc, in_time) == [] and deadline(api, in_time)["overdue"] is False

    clock.advance(days=4)  # past the general matter's first due time (Friday)
    settle(alerts)
    assert len(notices(svc, late)) == 1  # once per due time
    assert notices(svc, extended) == []
    clock.advance(days=5)  # past Wednesday 2 December
    settle(alerts)
    assert len(notices(svc, extended)) == 1


def press(svc: Services, elder: int, device_id: str) -> str:
    with svc.uow() as uow:
        provision_device(uow.session, device_id, elder, svc.clock.now())
        uow.commit()
    report = DeviceReport(EventKey(device_id, 1, 1), ReportType.PRESS, {"pattern": "long"})
    case_id = record_device_report(svc.uow, report, now=svc.clock.now(), tz=svc.tz).case_id
    assert case_id is not None
    return case_id


def test_kpi_report_gives_the_figures_of_a_seeded_period(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    first, second = add_elder(api), add_elder(api, name="Li Ming")
    fast = press(svc, first, "T1")
    clock.advance(seconds=60)
    ok(api.post(f"/api/v1/cases/{fast}/ack", headers=ADMIN))
    slow = press(svc, second, "T2")
    clock.advance(seconds=180)
    ok(api.post(f"/api/v1/cases/{slow}/ack", headers=ADMIN))
    for case_id, score in ((fast, 5), (slow, 2)):
        ok(api.post(f"/api/v1/cases/{case_id}/resolve", json={}, headers=ADMIN))
        ok(
            api.post(
                f"/api/v1/cases/{case_id}/callback", json={"satisfaction": score}, headers=ADMIN
            )
        )

    add_merchant(api, "Slow Kitchen", "+8615100000001", km=1.0)
    quick = add_merchant(api, "Quick Kitchen", "+8615100000002", km=2.0)
    service = file_case(api, first, "service", "lunch")["id"]
    ok(
        api.post(
            f"/api/v1/cases/{service}/orders",
            json={"category": "meals", "strategy": "nearest"},
            headers=ADMIN,
        ),
        201,
    )
    settle(alerts)
    clock.advance(minutes=10)
    settle(alerts)  # the first kitchen missed its 10 minutes
    clock.advance(minutes=3)
    [order] = ok(api.get(f"/api/v1/orders?case_id={service}", headers=ADMIN))
    quick_token = mint(api, "merchant", "Quick", subject_id=quick)
    ok(api.post(f"/api/v1/orders/{order['id']}/contacted", headers=quick_token))

    overdue = file_case(api, second, "consult", "question", matter="general")["id"]
    answered = file_case(api, second, "consult", "other question", matter="general")["id"]
    ok(api.post(f"/api/v1/cases/{answered}/resolve", json={}, headers=ADMIN))
    clock.advance(days=6)  # past Friday's due time
    settle(alerts)
    file_case(api, second, "consult", "outside the period")

    kpi = ok(api.get("/api/v1/reports/kpi?from=2026-11-22&to=2026-11-22", headers=ADMIN))
    assert (kpi["since"], kpi["until"]) == (
        "2026-11-21T16:00:00+00:00",
        "2026-11-22T16:00:00+00:00",
    )
    assert kpi["total"] == 5
    assert kpi["by_kind"] == {"emergency": 2, "care": 0, "service": 1, "consult": 2, "device": 0}
    assert kpi["by_kind_state"]["emergency"]["closed"] == 2
    assert kpi["by_kind_state"]["service"]["accepted"] == 1
    assert (
        kpi["by_kind_state"]["consult"]["open"],
        kpi["by_kind_state"]["consult"]["resolved"],
    ) == (1, 1)
    assert kpi["completion_rate"] == pytest.approx(3 / 5)
    assert kpi["satisfaction_rate"] == pytest.approx(1 / 2)
    assert kpi["ack_by_kind"]["emergency"] == {"count": 2, "p50_s": 60.0, "p90_s": 180.0}
    assert kpi["ack_by_kind"]["service"] == {"count": 1, "p50_s": 0.0, "p90_s": 0.0}
    assert kpi["ack_by_kind"]["consult"] == {"count": 0, "p50_s": None, "p90_s": None}
    assert (kpi["merchant_turns"], kpi["merchant_contacts_in_time"]) == (2, 1)
    assert kpi["merchant_contact_rate"] == pytest.approx(0.5)
    # The service case was filed by hand too, and is still not done past its five days.
    assert (kpi["deadlines"], kpi["overdue"]) == (3, 2)
    assert kpi["overdue_case_ids"] == sorted([service, overdue])

    naive = api.get("/api/v1/reports/kpi?from=2026-11-22T09:00:00", headers=ADMIN)
    assert naive.status_code == 422
    assert api.get("/api/v1/reports/kpi", headers=mint(api, "volunteer", "V")).status_code == 403
