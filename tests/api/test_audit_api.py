"""Every read of an elder's data by a person is in the audit log, which only the admin reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from care_api.store.tables import AuditLog
from tests.api.role_world import (
    ADMIN_ROLE,
    CAREGIVER,
    MERCHANT,
    OPERATOR,
    ROLES,
    VOLUNTEER,
    World,
    open_world,
)
from tests.api.support import ADMIN
from tests.api.test_role_matrix import ELDER, OK, OWN, PUBLIC, RULES, _call, _operations
from tests.fakes import FakeClock


@pytest.fixture
def world(db_url: str, clock: FakeClock) -> Iterator[World]:
    with open_world(db_url, clock) as opened:
        yield opened


def audit(world: World, **query: Any) -> list[dict[str, Any]]:
    response = world.api.get("/api/v1/audit", params=query, headers=ADMIN)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def test_audit_caregiver_profile_read_is_logged_with_who_what_and_route(
    world: World, clock: FakeClock
) -> None:
    elder = world.elder_a
    response = world.api.get(f"/api/v1/elders/{elder}", headers=world.headers[CAREGIVER])
    assert response.status_code == 200
    [row] = audit(world, elder_id=elder, actor="caregiver:Wang Jun")
    assert {k: row[k] for k in ("actor", "role", "what", "elder_id", "route", "ref")} == {
        "actor": "caregiver:Wang Jun",
        "role": "caregiver",
        "what": "elder",
        "elder_id": elder,
        "route": "GET /api/v1/elders/{elder_id}",
        "ref": None,
    }
    assert row["at"] == clock.now().isoformat()
    assert row["token_id"] is not None


def test_audit_refused_read_writes_nothing(world: World) -> None:
    other = world.elder_b
    response = world.api.get(f"/api/v1/elders/{other}", headers=world.headers[CAREGIVER])
    assert response.status_code == 404
    assert audit(world, elder_id=other, actor="caregiver:Wang Jun") == []


def test_audit_case_view_contacts_tasks_and_orders_are_logged(world: World) -> None:
    case_id = world.case(True)
    world.api.get(f"/api/v1/cases/{case_id}", headers=world.headers[OPERATOR])
    world.api.get(f"/api/v1/elders/{world.elder_a}/contacts", headers=world.headers[OPERATOR])
    task_id = world.task(True, accepted=True)
    world.task(True)  # offered, not accepted: shows no elder, logs nothing
    world.api.get("/api/v1/tasks", headers=world.headers[VOLUNTEER])
    order_id = world.order(True)
    world.api.get("/api/v1/orders", headers=world.headers[MERCHANT])
    rows = audit(world, elder_id=world.elder_a, limit=200)
    # The admin's rows are of setting the world up (creating the elder, placing orders).
    logged = {(r["actor"], r["what"], r["ref"]) for r in rows if r["actor"] != "admin:admin"}
    assert logged == {
        ("operator:Operator Zhao", "case", case_id),
        ("operator:Operator Zhao", "contacts", None),
        ("volunteer:Ann", "task", str(task_id)),
        ("merchant:Meals Co", "order", str(order_id)),
    }


def test_audit_filters_by_actor_newest_first_and_pages(world: World, clock: FakeClock) -> None:
    for _ in range(3):
        world.api.get(f"/api/v1/elders/{world.elder_a}", headers=world.headers[CAREGIVER])
        clock.advance(minutes=1)
    world.api.get(f"/api/v1/elders/{world.elder_b}", headers=ADMIN)
    mine = audit(world, actor="caregiver:Wang Jun")
    assert len(mine) == 3
    assert [r["at"] for r in mine] == sorted((r["at"] for r in mine), reverse=True)
    assert audit(world, actor="caregiver:Wang Jun", limit=2, offset=2) == mine[2:]
    assert {r["actor"] for r in audit(world, elder_id=world.elder_b)} == {"admin:admin"}


@pytest.mark.parametrize("role", [OPERATOR, CAREGIVER, VOLUNTEER, MERCHANT])
def test_audit_only_the_admin_reads_the_log(world: World, role: str) -> None:
    assert world.api.get("/api/v1/audit", headers=world.headers[role]).status_code == 403


@pytest.mark.parametrize(
    "query", [{"limit": 201}, {"limit": 0}, {"offset": -1}, {"elder_id": 0}, {"actor": "x" * 101}]
)
def test_audit_bad_query_is_422(world: World, query: dict[str, Any]) -> None:
    response = world.api.get("/api/v1/audit", params=query, headers=world.headers[ADMIN_ROLE])
    assert response.status_code == 422


# What only an elder's own record holds (the world's elders share them): their phone,
# address, medical notes. A response that carries any of them is a read of their data.
ELDER_DATA = ("+8613800000000", "12 Bamboo Lane", "diabetic", ELDER["phone"], ELDER["address"])


def _audit_rows(world: World, route: str) -> int:
    with world.services.uow() as uow:
        return len(uow.session.exec(select(AuditLog).where(AuditLog.route == route)).all())


def test_audit_every_route_that_returns_elder_data_writes_a_row(world: World) -> None:
    unaudited = []
    for key in _operations(world):
        rule = RULES.get(key)
        if rule is None:
            continue  # the role matrix names it
        for role in ROLES:
            if rule.expect[role] not in (OK, OWN, PUBLIC):
                continue
            params = rule.params(world, role, True)
            before = _audit_rows(world, key)
            response = _call(world, key, rule, params, world.headers[role])
            shown = [m for m in ELDER_DATA if m in response.text]
            if response.is_success and shown and _audit_rows(world, key) == before:
                unaudited.append(f"{key} as {role} showed {shown}")
    assert not unaudited, "\n".join(unaudited)
