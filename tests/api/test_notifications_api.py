"""The outbox over HTTP: every message, filtered by case, status and channel."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from alerts.runtime import AlertsComponent
from care_api.services import Services
from care_api.store.tables import Notification
from care_api.usecases.dispatch.volunteers import create_volunteer
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.schedules.rotas import add_shift
from tests.api.support import ADMIN, TestClient, mint
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder


@pytest.fixture
def outbox(services: Services) -> tuple[int, str, str]:
    """Two elders with a case each, and messages about both plus one about no case."""
    wang, _ = seed_elder(services, "T1001")
    seed_elder(services, "T1002", name="Li Ming")
    cases = [
        record_device_report(services.uow, press(d), now=services.clock.now(), tz=services.tz)
        for d in ("T1001", "T1002")
    ]
    wang_case, li_case = (c.case_id for c in cases)
    assert wang_case is not None and li_case is not None
    start = services.clock.now()
    rows = [
        (wang_case, "sms", "+8613900000000", "sent"),
        (wang_case, "voice", "+8613900000000", "failed"),
        (li_case, "sms", "+8613900000001", "queued"),
        (None, "sms", "+8613900000099", "sent"),
    ]
    with services.uow() as uow:
        for i, (case_id, channel, to, status) in enumerate(rows):
            at = start + timedelta(seconds=i)
            uow.session.add(
                Notification(
                    case_id=case_id,
                    channel=channel,
                    to=to,
                    recipient=f"contact:{i + 1}",
                    body=f"message {i}",
                    status=status,
                    attempts=1,
                    provider_id=f"SM{i}",
                    created_at=at,
                    updated_at=at,
                )
            )
        uow.commit()
    return wang, wang_case, li_case


def bodies(resp_json: list[dict[str, object]]) -> list[object]:
    return [n["body"] for n in resp_json]


def test_notifications_staff_list_newest_first_with_every_field(
    api: TestClient, outbox: tuple[int, str, str]
) -> None:
    _, wang_case, _ = outbox
    resp = api.get("/api/v1/notifications", headers=ADMIN)
    assert resp.status_code == 200
    assert bodies(resp.json()) == ["message 3", "message 2", "message 1", "message 0"]
    oldest = resp.json()[-1]
    assert {k: v for k, v in oldest.items() if k != "id"} == {
        "case_id": wang_case,
        "channel": "sms",
        "to": "+8613900000000",
        "recipient": "contact:1",
        "body": "message 0",
        "status": "sent",
        "attempts": 1,
        "provider_id": "SM0",
        "detail": None,
        "created_at": "2026-11-22T08:00:00+00:00",
        "updated_at": "2026-11-22T08:00:00+00:00",
    }


def test_notifications_filter_by_case_status_and_channel(
    api: TestClient, outbox: tuple[int, str, str]
) -> None:
    _, wang_case, li_case = outbox

    def get(query: str) -> list[object]:
        return bodies(api.get(f"/api/v1/notifications?{query}", headers=ADMIN).json())

    assert get(f"case_id={wang_case}") == ["message 1", "message 0"]
    assert get("status=sent") == ["message 3", "message 0"]
    assert get("channel=voice") == ["message 1"]
    assert get(f"case_id={li_case}&channel=voice") == []
    assert get("limit=2&offset=1") == ["message 2", "message 1"]


def test_notifications_caregiver_sees_only_their_elders_cases(
    api: TestClient, outbox: tuple[int, str, str]
) -> None:
    wang, _, li_case = outbox
    caregiver = mint(api, "caregiver", elder_ids=[wang])
    assert bodies(api.get("/api/v1/notifications", headers=caregiver).json()) == [
        "message 1",
        "message 0",
    ]
    assert api.get(f"/api/v1/notifications?case_id={li_case}", headers=caregiver).json() == []


def test_notifications_case_detail_lists_its_messages(
    api: TestClient, outbox: tuple[int, str, str]
) -> None:
    _, wang_case, _ = outbox
    detail = api.get(f"/api/v1/cases/{wang_case}", headers=ADMIN).json()
    assert bodies(detail["notifications"]) == ["message 0", "message 1"]


@pytest.mark.parametrize("role", ["volunteer", "merchant"])
def test_notifications_refused_to_volunteers_and_merchants(
    api: TestClient, outbox: tuple[int, str, str], role: str
) -> None:
    assert api.get("/api/v1/notifications", headers=mint(api, role)).status_code == 403


def test_notifications_bad_paging_is_422(api: TestClient) -> None:
    assert api.get("/api/v1/notifications?limit=500", headers=ADMIN).status_code == 422


VOLUNTEER_PHONE = "+8613100000001"
SUPERVISOR_PHONE = "+8613711111111"


def test_notifications_caregiver_sees_volunteer_and_supervisor_by_role_and_name_not_number(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    wang, _ = seed_elder(services, contacts=1, lat=29.08, lon=119.65)
    now = clock.now()
    with services.uow() as uow:
        volunteer = {"name": "Ann Liu", "phone": VOLUNTEER_PHONE, "lat": 29.081, "lon": 119.65}
        create_volunteer(uow.session, volunteer, now)
        duty = {"person": "Day Li", "role": "supervisor", "phone": SUPERVISOR_PHONE}
        span = {"start": now - timedelta(hours=1), "end": now + timedelta(hours=7)}
        add_shift(uow.session, {**duty, **span}, by="admin", now=now)
        uow.commit()
    alerts = AlertsComponent(services.settings, services)
    alerts.attach()
    try:  # the emergency nobody takes climbs to the volunteers, then the supervisor
        outcome = record_device_report(services.uow, press(), now=now, tz=services.tz)
        alerts.run_pending()
        for wait in (120, 300):
            clock.advance(seconds=wait)
            alerts.tick()
            alerts.run_pending()
    finally:
        alerts.stop()
    caregiver = mint(api, "caregiver", "Wang Jun", elder_ids=[wang])

    listed = api.get("/api/v1/notifications", headers=caregiver).json()
    detail = api.get(f"/api/v1/cases/{outcome.case_id}", headers=caregiver).json()

    for rows in (listed, detail["notifications"]):
        shown = {(n["recipient"].partition(":")[0], n["to"]) for n in rows}
        assert ("volunteer", "volunteer Ann Liu") in shown
        assert ("supervisor", "supervisor Day Li") in shown
        assert ("contact", "+8613900000000") in shown  # the family's own numbers stay
        assert VOLUNTEER_PHONE not in json.dumps(rows)
        assert SUPERVISOR_PHONE not in json.dumps(rows)
    staff = api.get("/api/v1/notifications", headers=ADMIN).json()
    assert {VOLUNTEER_PHONE, SUPERVISOR_PHONE} <= {n["to"] for n in staff}
