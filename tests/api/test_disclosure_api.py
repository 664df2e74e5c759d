"""Volunteers and merchants see an elder only while they have work to do there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from care_api.store.tables import Merchant
from care_api.usecases.dispatch.responders import take_case
from care_api.usecases.dispatch.volunteers import volunteer_actor
from care_api.usecases.intake.reports import record_device_report
from tests.api.role_world import ADMIN_ROLE, MERCHANT, VOLUNTEER, World, ok, open_world
from tests.fakes import FakeClock
from tests.helpers import press

ACCESS = "key safe left of the door, code 4711"
ELDER_SECRETS = ("12 Bamboo Lane", "+8613800000000", "diabetic", "4711")


@pytest.fixture
def world(db_url: str, clock: FakeClock) -> Iterator[World]:
    with open_world(db_url, clock) as opened:
        ok(
            opened.api.patch(
                f"/api/v1/elders/{opened.elder_a}",
                json={"access_notes": ACCESS},
                headers=opened.headers[ADMIN_ROLE],
            )
        )
        yield opened


def get(world: World, role: str, path: str) -> Any:
    return world.api.get(f"/api/v1{path}", headers=world.headers[role])


def my_task(world: World, task_id: int) -> dict[str, Any]:
    tasks = ok(get(world, VOLUNTEER, "/tasks"))
    return next(t for t in tasks if t["id"] == task_id)


def my_order(world: World, order_id: int) -> dict[str, Any]:
    orders = ok(get(world, MERCHANT, "/orders"))
    return next(o for o in orders if o["id"] == order_id)


def test_disclosure_volunteer_sees_the_elder_only_while_the_task_is_open(world: World) -> None:
    offered = world.task(True)
    case_id = world.case_of_task(offered)
    assert my_task(world, offered)["elder"] is None  # an offer shows no elder
    assert get(world, VOLUNTEER, f"/cases/{case_id}/elder").status_code == 404

    ok(world.api.post(f"/api/v1/tasks/{offered}/accept", headers=world.headers[VOLUNTEER]))
    elder = my_task(world, offered)["elder"]
    assert (elder["address"], elder["access_notes"]) == ("12 Bamboo Lane", ACCESS)
    assert elder["medical_notes"] is None  # this care task does not need them
    seen = ok(get(world, VOLUNTEER, f"/cases/{case_id}/elder"))
    assert (seen["phone"], seen["access_notes"]) == ("+8613800000000", ACCESS)

    ok(world.api.post(f"/api/v1/tasks/{offered}/done", headers=world.headers[VOLUNTEER]))
    after = my_task(world, offered)
    assert (after["case_id"], after["status"], after["elder"]) == (case_id, "done", None)
    gone = get(world, VOLUNTEER, f"/cases/{case_id}/elder")
    assert gone.status_code == 404
    assert not any(s in gone.text for s in ELDER_SECRETS)


def test_disclosure_volunteer_loses_the_elder_when_staff_end_the_case(world: World) -> None:
    task_id = world.task(True, accepted=True)
    case_id = world.case_of_task(task_id)
    assert my_task(world, task_id)["elder"] is not None
    world.post(f"/cases/{case_id}/resolve", {"note": "the family came"})
    assert my_task(world, task_id)["elder"] is None
    assert get(world, VOLUNTEER, f"/cases/{case_id}/elder").status_code == 404
    # Staff still see it all.
    staff = ok(get(world, ADMIN_ROLE, "/tasks"))
    assert next(t for t in staff if t["id"] == task_id)["elder"]["address"] == "12 Bamboo Lane"


def test_disclosure_volunteer_who_takes_an_emergency_sees_notes_and_access(world: World) -> None:
    services = world.services
    outcome = record_device_report(
        services.uow, press(world.device_a), now=services.clock.now(), tz=services.tz
    )
    case_id = outcome.case_id
    assert case_id is not None
    world.settle()
    assert get(world, VOLUNTEER, f"/cases/{case_id}/elder").status_code == 404  # not theirs
    with services.uow() as uow:  # their SMS "1", as the webhook takes it
        take_case(
            uow, case_id, by=volunteer_actor(world.volunteer_v), now=services.clock.now(), via="sms"
        )
        uow.commit()
    seen = ok(get(world, VOLUNTEER, f"/cases/{case_id}/elder"))
    assert seen["medical_notes"] == "diabetic; insulin at 8"
    assert (seen["address"], seen["access_notes"]) == ("12 Bamboo Lane", ACCESS)
    other = world.mint("volunteer", "Bo", subject_id=world.volunteer_w)
    assert world.api.get(f"/api/v1/cases/{case_id}/elder", headers=other).status_code == 404

    world.post(f"/cases/{case_id}/resolve", {"note": "in hospital"})
    assert get(world, VOLUNTEER, f"/cases/{case_id}/elder").status_code == 404


def test_disclosure_merchant_sees_address_and_phone_only_while_the_order_is_open(
    world: World,
) -> None:
    order_id = world.order(True)
    case_id = world.case_of_order(order_id)
    elder = my_order(world, order_id)["elder"]
    assert (elder["address"], elder["phone"]) == ("12 Bamboo Lane", "+8613800000000")
    seen = ok(get(world, MERCHANT, f"/cases/{case_id}/elder"))
    assert (seen["medical_notes"], seen["access_notes"]) == (None, None)

    ok(world.api.post(f"/api/v1/orders/{order_id}/contacted", headers=world.headers[MERCHANT]))
    ok(world.api.post(f"/api/v1/orders/{order_id}/done", headers=world.headers[MERCHANT]))
    after = my_order(world, order_id)
    assert (after["case_id"], after["status"], after["elder"]) == (case_id, "done", None)
    assert get(world, MERCHANT, f"/cases/{case_id}/elder").status_code == 404


def test_disclosure_red_carded_merchant_never_sees_the_elder(world: World) -> None:
    order_id = world.order(True)
    case_id = world.case_of_order(order_id)
    services = world.services
    with services.uow() as uow:
        merchant = uow.session.get(Merchant, world.merchant_m)
        assert merchant is not None
        merchant.status = "red"
        merchant.red_until = services.clock.now() + timedelta(days=30)
        uow.session.add(merchant)
        uow.commit()
    listed = ok(get(world, MERCHANT, "/orders"))
    assert my_order(world, order_id)["elder"] is None
    assert not any(s in str(listed) for s in ELDER_SECRETS)
    assert get(world, MERCHANT, f"/cases/{case_id}/elder").status_code == 404
