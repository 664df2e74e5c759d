"""No-activity watch (issue 9) on a moved clock: quiet → a prompt on the terminal → a case."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.domain.model import DeviceReport, EventKey, ReportType
from care_api.services import Services
from care_api.store.tables import DeviceCommand
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.registry import provision_device
from tests.api.support import TestClient
from tests.dispatch.support import ADMIN, add_elder, case_row, messages, ok, settle
from tests.fakes import FakeClock

ELDER_PHONE = "+8613800000000"


def watched(api: TestClient, svc: Services, **body: Any) -> int:
    """An elder with a terminal and a 13 h watch with 15 min grace, started now."""
    elder = add_elder(api)
    with svc.uow() as uow:
        provision_device(uow.session, "T1001", elder, svc.clock.now())
        uow.commit()
    watch = {"quiet_hours": 13, "grace_minutes": 15, **body}
    ok(api.put(f"/api/v1/elders/{elder}/quiet-watch", json=watch, headers=ADMIN))
    return elder


def report(svc: Services, seq: int, kind: ReportType, **fields: Any) -> None:
    event = DeviceReport(EventKey("T1001", 1, seq), kind, fields)
    record_device_report(svc.uow, event, now=svc.clock.now(), tz=svc.tz)


def prompts(svc: Services) -> list[DeviceCommand]:
    with svc.uow() as uow:
        return list(
            uow.session.exec(
                select(DeviceCommand).where(col(DeviceCommand.requested_by) == "system:quiet")
            ).all()
        )


def watch_of(api: TestClient, elder: int) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.get(f"/api/v1/elders/{elder}/quiet-watch", headers=ADMIN))
    return found


def quiet_cases(svc: Services) -> list[str]:
    return sorted({n.case_id for n in messages(svc) if n.case_id and "no activity" in n.body})


def test_a_press_resets_the_quiet_period(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = watched(api, svc)
    clock.advance(hours=10)
    report(svc, 1, ReportType.PRESS, pattern="double")  # a care request is a sign of life
    clock.advance(hours=3)
    settle(alerts)
    assert prompts(svc) == []
    assert watch_of(api, elder)["next_check_at"] == "2026-11-23T07:00:00+00:00"  # press + 13 h

    clock.advance(hours=10)
    settle(alerts)
    [prompt] = prompts(svc)
    assert (prompt.device_id, prompt.cmd, prompt.params["reason"]) == ("T1001", "ring", "quiet")
    assert "Please press your button" in prompt.params["say"]
    assert watch_of(api, elder)["prompted_at"] == "2026-11-23T07:00:00+00:00"

    clock.advance(minutes=5)
    report(svc, 2, ReportType.PRESS, button="ok")  # answers the prompt
    clock.advance(minutes=10)
    settle(alerts)
    assert quiet_cases(svc) == []
    watch = watch_of(api, elder)
    assert watch["prompted_at"] is None
    assert watch["last_activity_at"] == "2026-11-23T07:05:00+00:00"


def test_an_unanswered_prompt_opens_a_care_case_calling_the_elder(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = watched(api, svc)
    clock.advance(hours=6)
    report(svc, 1, ReportType.HEARTBEAT, battery=90)  # the terminal, not the elder
    clock.advance(hours=7)
    settle(alerts)
    assert len(prompts(svc)) == 1
    clock.advance(minutes=14)
    settle(alerts)
    assert quiet_cases(svc) == []

    clock.advance(minutes=1)
    settle(alerts)
    [case_id] = quiet_cases(svc)
    case = case_row(svc, case_id)
    assert (case.kind, case.summary) == (
        "care",
        "Care request (no activity for 13 h, prompt unanswered)",
    )
    calls = [n for n in messages(svc, case_id) if n.channel == "voice"]
    assert [(c.to, c.recipient) for c in calls] == [(ELDER_PHONE, f"elder:{elder}")]
    watch = watch_of(api, elder)
    assert watch["last_case_id"] == case_id and watch["prompted_at"] is None

    # A new quiet period starts with the case: the next prompt comes 13 h later, not at once.
    clock.advance(hours=12)
    settle(alerts)
    assert len(prompts(svc)) == 1
    clock.advance(hours=1)
    settle(alerts)
    assert len(prompts(svc)) == 2


def test_no_prompt_on_an_away_day_and_a_stopped_watch_stays_quiet(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = watched(api, svc, quiet_hours=2)
    # 08:00 UTC is 16:00 in Shanghai; 2 h later is still 22 November there.
    ok(api.put(f"/api/v1/elders/{elder}/away/2026-11-22", headers=ADMIN))
    clock.advance(hours=2)
    settle(alerts)
    assert prompts(svc) == []

    assert api.delete(f"/api/v1/elders/{elder}/quiet-watch", headers=ADMIN).status_code == 204
    clock.advance(hours=30)
    settle(alerts)
    assert prompts(svc) == []
    assert watch_of(api, elder)["active"] is False


def test_bad_periods_are_refused(api: TestClient, svc: Services, alerts: AlertsComponent) -> None:
    elder = add_elder(api)
    url = f"/api/v1/elders/{elder}/quiet-watch"
    assert api.put(url, json={"quiet_hours": 0.5}, headers=ADMIN).status_code == 422
    assert api.put(url, json={"grace_minutes": 0}, headers=ADMIN).status_code == 422
    assert ok(api.get(url, headers=ADMIN))["active"] is False  # never watched
    assert api.delete(url, headers=ADMIN).status_code == 404
    assert api.get("/api/v1/elders/999/quiet-watch", headers=ADMIN).status_code == 404
