"""Service orders to merchants: the 10-minute contact rule, callbacks, and the cards."""

from __future__ import annotations

from typing import Any

from alerts.runtime import AlertsComponent
from care_api.services import Services
from tests.api.support import TestClient
from tests.dispatch.support import (
    ADMIN,
    add_elder,
    add_merchant,
    case_row,
    console_lines,
    file_case,
    history,
    mint,
    ok,
    settle,
    sms,
    sms_to,
)
from tests.fakes import FakeClock

NEAR, FAR, BEST = "+8615100000001", "+8615100000002", "+8615100000003"


def order(api: TestClient, case_id: str, **more: Any) -> dict[str, Any]:
    body = {"category": "meals", "note": "lunch for one", **more}
    placed: dict[str, Any] = ok(
        api.post(f"/api/v1/cases/{case_id}/orders", json=body, headers=ADMIN), 201
    )
    return placed


def merchant(api: TestClient, merchant_id: int) -> dict[str, Any]:
    found: dict[str, Any] = ok(api.get(f"/api/v1/merchants/{merchant_id}", headers=ADMIN))
    return found


def callback(api: TestClient, case_id: str, **answers: Any) -> dict[str, Any]:
    done: dict[str, Any] = ok(
        api.post(f"/api/v1/cases/{case_id}/callback", json=answers, headers=ADMIN)
    )
    return done


def test_orders_missed_contact_moves_on_and_the_record_shows_it(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    near = add_merchant(api, "Near Kitchen", NEAR, km=1.0)
    far = add_merchant(api, "Far Kitchen", FAR, km=8.0)
    add_merchant(api, "Plumber", "+8615100000009", km=0.5, categories=["repair"])
    case_id = file_case(api, elder, "service", "lunch delivery")["id"]

    placed = order(api, case_id, strategy="nearest")
    assert (placed["merchant_id"], placed["status"]) == (near, "assigned")
    assert case_row(svc, case_id).state == "accepted"  # the operator who ordered owns the case
    settle(alerts)
    [offer] = sms_to(svc, case_id)[NEAR]
    assert "Wang Fang, 12 Bamboo Lane, phone +8613800000000" in offer
    assert "insulin" not in offer and "diabetic" not in offer

    clock.advance(minutes=9, seconds=59)
    settle(alerts)
    assert FAR not in sms_to(svc, case_id)
    clock.advance(seconds=1)
    settle(alerts)

    told = sms_to(svc, case_id)
    assert (
        told[NEAR][-1].startswith(f"Order {placed['id']}") and "another merchant" in told[NEAR][-1]
    )
    assert len(told[FAR]) == 1 and "Call the elder within 10 minutes" in told[FAR][0]
    assert any("Near Kitchen did not confirm contact" in c for c in console_lines(svc, case_id))
    record = merchant(api, near)
    assert record["missed_contacts"] == 1
    assert [(t["order_id"], t["outcome"]) for t in record["record"]] == [(placed["id"], "missed")]
    assert any(
        "did not confirm contact within 10 minutes" in why for _, why in history(svc, case_id)
    )

    near_token = mint(api, "merchant", "Near", subject_id=near)
    far_token = mint(api, "merchant", "Far", subject_id=far)
    assert ok(api.get("/api/v1/orders", headers=near_token)) == []  # it moved on
    [seen] = ok(api.get("/api/v1/orders", headers=far_token))
    assert seen["elder"] == {
        "name": "Wang Fang",
        "address": "12 Bamboo Lane",
        "phone": "+8613800000000",
    }
    assert "medical" not in str(seen) and "diabetic" not in str(seen)
    oid = placed["id"]
    assert api.post(f"/api/v1/orders/{oid}/contacted", headers=near_token).status_code == 404
    assert api.get("/api/v1/tasks", headers=far_token).status_code == 403

    clock.advance(minutes=4)
    contacted = ok(api.post(f"/api/v1/orders/{oid}/contacted", headers=far_token))
    assert contacted["status"] == "contacted"
    clock.advance(minutes=10)
    settle(alerts)  # contact confirmed in time: the order stays
    assert ok(api.get(f"/api/v1/orders?case_id={case_id}", headers=ADMIN))[0]["merchant_id"] == far
    assert merchant(api, far)["record"][0]["outcome"] == "contacted"

    done = ok(api.post(f"/api/v1/orders/{oid}/done", headers=far_token))
    assert done["status"] == "done"
    assert case_row(svc, case_id).state == "resolved"
    closed = callback(api, case_id, satisfaction=5, quality=5, time_ok=True, price_ok=True)
    assert closed["state"] == "closed"
    assert merchant(api, far)["status"] == "active"


def test_orders_merchant_confirms_by_sms_and_nobody_left_flags_the_console(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    only = add_merchant(api, "Only Kitchen", NEAR, km=1.0)
    first = file_case(api, elder, "service", "dinner")["id"]
    placed = order(api, first)
    settle(alerts)
    code = first.rsplit("-", 1)[1]
    assert sms(api, NEAR, f"1 {code}") == f"Thank you: contact confirmed for order {placed['id']}."
    assert ok(api.get(f"/api/v1/orders?case_id={first}", headers=ADMIN))[0]["status"] == "contacted"

    second = file_case(api, elder, "service", "breakfast")["id"]
    again = order(api, second)
    assert again["merchant_id"] == only
    assert sms(api, NEAR, "2").startswith(f"Thank you; order {again['id']} goes to another")
    settle(alerts)
    [row] = ok(api.get(f"/api/v1/orders?case_id={second}", headers=ADMIN))
    assert (row["status"], row["merchant_id"]) == ("unassigned", None)
    board = ok(api.get("/api/v1/console/board", headers=ADMIN))["cases"]
    assert (
        "no merchant: operator to arrange" in next(c for c in board if c["id"] == second)["flags"]
    )
    assert merchant(api, only)["record"][0]["outcome"] == "declined"
    busy = api.post(f"/api/v1/cases/{first}/orders", json={"category": "meals"}, headers=ADMIN)
    assert busy.status_code == 409  # one order at a time per case
    care = file_case(api, elder, "consult", "a question")["id"]
    wrong = api.post(f"/api/v1/cases/{care}/orders", json={"category": "meals"}, headers=ADMIN)
    assert wrong.status_code == 409


def serve(api: TestClient, elder: int, merchant_id: int) -> str:
    """A service case ordered from the best-rated merchant, contacted and done; its id."""
    case_id: str = file_case(api, elder, "service", "cleaning")["id"]
    placed = order(api, case_id, strategy="best")
    assert placed["merchant_id"] == merchant_id
    token = mint(api, "merchant", "Best", subject_id=merchant_id)
    ok(api.post(f"/api/v1/orders/{placed['id']}/done", headers=token))
    return case_id


def test_orders_three_bad_callbacks_remove_a_merchant_and_an_admin_reverses_one(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    best = add_merchant(api, "Best Clean", BEST, km=3.0, rating=5)
    other = add_merchant(api, "Other Clean", NEAR, km=3.0, rating=2)
    served = [serve(api, elder, best) for _ in range(3)]

    callback(api, served[0], satisfaction=2, quality=4, comment="late and rude")
    assert merchant(api, best)["status"] == "yellow"
    assert ok(api.get(f"/api/v1/orders?case_id={served[0]}", headers=ADMIN))
    callback(api, served[1], satisfaction=4, quality=1)
    red = merchant(api, best)
    assert red["status"] == "red" and red["red_until"] is not None
    # A red card stops new orders: the next one goes to the other merchant.
    case_id = file_case(api, elder, "service", "windows")["id"]
    assert order(api, case_id, strategy="best")["merchant_id"] == other

    callback(api, served[2], satisfaction=1)
    removed = merchant(api, best)
    assert removed["status"] == "removed"
    assert [s["card"] for s in removed["strikes"]] == ["yellow", "red", "removed"]
    assert removed["strikes_in_force"] == 3
    assert any(a == "strike" and "removed card" in why for a, why in history(svc, served[2]))

    strike = removed["strikes"][0]["id"]
    path = f"/api/v1/merchants/{best}/strikes/{strike}/revoke"
    operator = mint(api, "operator", "Op")
    assert api.post(path, json={"reason": "x"}, headers=operator).status_code == 403
    assert api.post(path, json={"reason": ""}, headers=ADMIN).status_code == 422
    reversed_ = ok(api.post(path, json={"reason": "the elder mixed up two visits"}, headers=ADMIN))
    assert reversed_["status"] == "red" and reversed_["strikes_in_force"] == 2
    revoked = reversed_["strikes"][0]
    assert (revoked["revoked_by"], revoked["revoke_reason"]) == (
        "admin:admin",
        "the elder mixed up two visits",
    )
    assert api.post(path, json={"reason": "again"}, headers=ADMIN).status_code == 409


def test_callbacks_close_only_when_reached_or_after_three_failed_tries(
    api: TestClient, svc: Services, alerts: AlertsComponent
) -> None:
    elder = add_elder(api)
    near = add_merchant(api, "Near Kitchen", NEAR, km=1.0)
    case_id = serve(api, elder, near)

    for attempt in (1, 2):
        still = callback(api, case_id, reached=False, comment=f"no answer {attempt}")
        assert still["state"] == "resolved"
    closed = callback(api, case_id, reached=False, comment="no answer 3")
    assert closed["state"] == "closed"
    assert ("transition", "callback failed 3 times") in history(svc, case_id)
    assert merchant(api, near)["status"] == "active"  # unreached is no strike
    assert api.post(f"/api/v1/cases/{case_id}/callback", json={}, headers=ADMIN).status_code == 409
