"""Volunteers and merchants set their own hours; offers and orders skip them outside."""

from __future__ import annotations

from typing import Any

from alerts.runtime import AlertsComponent
from care_api.services import Services
from tests.api.support import TestClient
from tests.dispatch.support import (
    ADMIN,
    add_elder,
    add_merchant,
    add_volunteer,
    file_case,
    mint,
    ok,
    settle,
    sms_to,
)
from tests.fakes import FakeClock

ANN, BO = "+8613100000001", "+8613100000002"
NEAR, FAR = "+8615100000001", "+8615100000002"
# The fake clock starts on Sunday 2026-11-22 08:00 UTC: 16:00 in the centre (Asia/Shanghai).
EVENINGS = {"sun": ["18:00-22:00"]}
SUNDAY_DAYTIME = {"sun": ["08:00-17:00"]}


def order(api: TestClient, case_id: str) -> dict[str, Any]:
    body = {"category": "meals", "strategy": "nearest"}
    placed: dict[str, Any] = ok(
        api.post(f"/api/v1/cases/{case_id}/orders", json=body, headers=ADMIN), 201
    )
    return placed


def test_volunteer_sets_own_hours_and_offers_skip_them_outside(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    ann = add_volunteer(api, "Ann", ANN, km=0.5)
    bo = add_volunteer(api, "Bo", BO, km=1.0)
    ann_token = mint(api, "volunteer", "Ann", subject_id=ann)

    mine = api.put(
        f"/api/v1/volunteers/{ann}/hours", json={"availability": EVENINGS}, headers=ann_token
    )
    assert ok(mine)["availability"] == EVENINGS
    others = api.put(f"/api/v1/volunteers/{bo}/hours", json={"availability": {}}, headers=ann_token)
    assert others.status_code == 404  # as if Bo did not exist
    bad = api.put(
        f"/api/v1/volunteers/{ann}/hours",
        json={"availability": {"sun": ["20:00-18:00"]}},
        headers=ann_token,
    )
    assert bad.status_code == 422 and "end after it starts" in str(bad.json()["detail"])

    first = file_case(api, elder, "care", "shopping", need="buy groceries")["id"]
    settle(alerts)
    assert set(sms_to(svc, first)) == {BO}  # Ann takes offers only in the evening

    clock.advance(hours=3)  # 19:00 local
    second = file_case(api, elder, "care", "a walk", need="company")["id"]
    settle(alerts)
    assert ANN in sms_to(svc, second)


def test_orders_skip_a_closed_merchant_until_it_opens_its_hours(
    api: TestClient, svc: Services, alerts: AlertsComponent
) -> None:
    elder = add_elder(api)
    near = add_merchant(api, "Night Kitchen", NEAR, km=1.0, hours=EVENINGS)
    far = add_merchant(api, "Day Kitchen", FAR, km=8.0)
    shown = ok(api.get(f"/api/v1/merchants/{near}", headers=ADMIN))
    assert shown["hours"] == EVENINGS
    assert ok(api.get(f"/api/v1/merchants/{far}", headers=ADMIN))["hours"] is None

    first = order(api, file_case(api, elder, "service", "lunch")["id"])
    assert first["merchant_id"] == far  # the nearer one is closed at 16:00

    near_token = mint(api, "merchant", "Night Kitchen", subject_id=near)
    opened = api.put(
        f"/api/v1/merchants/{near}/hours", json={"hours": SUNDAY_DAYTIME}, headers=near_token
    )
    assert ok(opened)["hours"] == SUNDAY_DAYTIME
    assert (
        api.put(
            f"/api/v1/merchants/{far}/hours", json={"hours": None}, headers=near_token
        ).status_code
        == 404
    )

    second = order(api, file_case(api, elder, "service", "dinner")["id"])
    assert second["merchant_id"] == near
    settle(alerts)


def test_every_merchant_closed_leaves_the_order_for_the_operator(
    api: TestClient, svc: Services, alerts: AlertsComponent
) -> None:
    elder = add_elder(api)
    add_merchant(api, "Night Kitchen", NEAR, km=1.0, hours=EVENINGS)
    placed = order(api, file_case(api, elder, "service", "lunch")["id"])
    assert (placed["status"], placed["merchant_id"]) == ("unassigned", None)
