"""Info-only contacts: never paged by a ladder, told in one SMS when the case closes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.store.tables import Notification
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder

SON_ABROAD = "+447911123456"


@pytest.fixture
def svc(db_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = make_settings(
        db_url, admin_token=SecretStr(ADMIN_TOKEN), supervisor_phone="+8613700000000"
    )
    services = build_services(settings, clock=clock)
    yield services
    services.close()


@pytest.fixture
def api(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as client:
        yield client


def sent_to(svc: Services, phone: str) -> list[Notification]:
    with svc.uow() as uow:
        rows = list(
            uow.session.exec(
                select(Notification).where(Notification.to == phone).order_by(col(Notification.id))
            ).all()
        )
        uow.session.expunge_all()
        return rows


def run(alerts: AlertsComponent) -> None:
    alerts.tick()
    alerts.run_pending()


def test_info_only_contact_is_never_paged_and_gets_the_summary_at_close(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder_id, _ = seed_elder(svc)
    resp = api.post(
        f"/api/v1/elders/{elder_id}/contacts",
        json={"name": "Wang Lei", "phone": SON_ABROAD, "relation": "son", "notify_only": True},
        headers=ADMIN,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["notify_only"] is True
    listed = api.get(f"/api/v1/elders/{elder_id}/contacts", headers=ADMIN).json()
    assert [c["notify_only"] for c in listed] == [False, True, False]  # priority 1, 1, 2

    case_id = record_device_report(svc.uow, press(), now=clock.now(), tz=svc.tz).case_id
    for _ in range(4):  # every rung of the emergency ladder, nobody answering
        run(alerts)
        clock.advance(minutes=5)
    case = api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()
    assert case["level"] == 2
    assert sent_to(svc, SON_ABROAD) == []
    assert {n.recipient for n in sent_to(svc, "+8613900000000")} == {"contact:1"}

    for step, body in [("ack", {}), ("resolve", {"note": "neighbour helped her up"})]:
        assert api.post(f"/api/v1/cases/{case_id}/{step}", json=body, headers=ADMIN).is_success
    run(alerts)
    assert sent_to(svc, SON_ABROAD) == []  # resolved is not closed yet
    clock.advance(minutes=30)
    callback = {"reached": True, "satisfaction": 5}
    assert api.post(f"/api/v1/cases/{case_id}/callback", json=callback, headers=ADMIN).is_success
    run(alerts)
    run(alerts)  # a replayed close adds nothing
    [summary] = sent_to(svc, SON_ABROAD)
    assert summary.channel == "sms"
    assert summary.case_id == case_id
    assert f"case {case_id} for Wang Fang is closed" in summary.body
    assert "Resolved" in summary.body and "neighbour helped her up" in summary.body


def test_contact_flag_must_be_a_boolean(api: TestClient, svc: Services) -> None:
    elder_id, _ = seed_elder(svc)
    resp = api.post(
        f"/api/v1/elders/{elder_id}/contacts",
        json={"name": "X", "phone": "+8613000000000", "notify_only": "maybe"},
        headers=ADMIN,
    )
    assert resp.status_code == 422
    assert len(api.get(f"/api/v1/elders/{elder_id}/contacts", headers=ADMIN).json()) == 2
