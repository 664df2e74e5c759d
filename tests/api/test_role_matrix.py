"""Every route of the OpenAPI document against every role: 2xx, 403, or 404 that leaks nothing.

A route missing from RULES fails the test by name, so routes added later must say who may
call them. OWN means: 2xx on the person's own object, and on someone else's a 404 that
reads exactly like the 404 for an object that does not exist.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.role_world import (
    ADMIN_ROLE,
    CAREGIVER,
    MERCHANT,
    MISSING,
    OPERATOR,
    ROLES,
    VOLUNTEER,
    World,
    open_world,
)
from tests.fakes import FakeClock

OK, DENY, OWN, PUBLIC, STREAM = "2xx", "403", "own", "public", "stream"

STAFF = {ADMIN_ROLE: OK, OPERATOR: OK, CAREGIVER: DENY, VOLUNTEER: DENY, MERCHANT: DENY}
ADMIN_ONLY = {**STAFF, OPERATOR: DENY}
CAREGIVER_OWN = {**STAFF, CAREGIVER: OWN}  # a caregiver: only the elders they care for
CAREGIVER_LIST = {**STAFF, CAREGIVER: OK}  # filtered to their elders (test below)
VOLUNTEER_OWN = {**ADMIN_ONLY, ADMIN_ROLE: DENY, VOLUNTEER: OWN}  # answering an offer
STAFF_OR_VOLUNTEER_OWN = {**STAFF, VOLUNTEER: OWN}
VOLUNTEER_LIST = {**STAFF, VOLUNTEER: OK}
MERCHANT_OWN = {**ADMIN_ONLY, ADMIN_ROLE: DENY, MERCHANT: OWN}
STAFF_OR_MERCHANT_OWN = {**STAFF, MERCHANT: OWN}
MERCHANT_LIST = {**STAFF, MERCHANT: OK}
EVERYONE = dict.fromkeys(ROLES, PUBLIC)
STREAMED = {**STAFF, ADMIN_ROLE: STREAM, OPERATOR: STREAM}

Params = Callable[[World, str, bool], dict[str, Any]]
Body = Callable[[World], Any]


def _none(w: World, role: str, own: bool) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Rule:
    """Who may call a route, and how to fill its path and body for a role."""

    expect: Mapping[str, str]
    params: Params = _none
    body: Body | None = None
    query: Mapping[str, Any] = field(default_factory=dict)


def elder(w: World, role: str, own: bool) -> dict[str, Any]:
    return {"elder_id": w.elder_of(own)}


def device(w: World, role: str, own: bool) -> dict[str, Any]:
    return {"device_id": w.device_a if own else w.device_b}


def fresh_device(w: World, role: str, own: bool) -> dict[str, Any]:
    return {"device_id": w.device(own)}


def case(w: World, role: str, own: bool) -> dict[str, Any]:
    return {"case_id": w.case(own)}


def responders_case(w: World, role: str, own: bool) -> dict[str, Any]:
    """A case the caller must act on now: their accepted task's, their open order's."""
    if own and role == VOLUNTEER:
        return {"case_id": w.case_of_task(w.task(True, accepted=True))}
    if own and role == MERCHANT:
        return {"case_id": w.case_of_order(w.order(True))}
    return case(w, role, own)


def drill(w: World, role: str, own: bool) -> dict[str, Any]:
    return {"drill_id": w.post("/drills", {"district": w.unique("District ")})["id"]}


def contact() -> dict[str, Any]:
    return {"name": "Wang Jun", "phone": "+8613900000001", "relation": "son"}


ELDER = {"name": "Zhao Lei", "phone": "+8613800000009", "address": "3 Pine Road"}
FILING = {"kind": "consult", "summary": "asks about care homes"}
ALL_WEEK = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
SHIFT = {
    "person": "Zhou Min",
    "role": "operator",
    "start": "2027-01-02T08:00:00+08:00",
    "end": "2027-01-02T16:00:00+08:00",
}

_SLOTS = itertools.count()


def window_body(w: World) -> dict[str, Any]:
    """A check-in window overlapping no other one of this run (half-hour slots)."""
    n = next(_SLOTS)
    return {"start": f"{n // 2:02d}:{n % 2 * 30:02d}", "end": f"{n // 2:02d}:{n % 2 * 30 + 15:02d}"}


def window(w: World, role: str, own: bool) -> dict[str, Any]:
    elder_id = w.elder_of(own)
    made = w.post(f"/elders/{elder_id}/checkins", window_body(w))
    return {"elder_id": elder_id, "window_id": made["windows"][-1]["id"]}


def watched(w: World, role: str, own: bool) -> dict[str, Any]:
    """An elder whose no-activity watch runs (started afresh for each call)."""
    elder_id = w.elder_of(own)
    w.api.put(f"/api/v1/elders/{elder_id}/quiet-watch", json={}, headers=w.headers[ADMIN_ROLE])
    return {"elder_id": elder_id}


ZONE = {"lat": 29.079, "lon": 119.647, "radius_m": 500}


def zoned(w: World, role: str, own: bool) -> dict[str, Any]:
    """An elder with a safe zone (set afresh for each call)."""
    elder_id = w.elder_of(own)
    w.api.put(f"/api/v1/elders/{elder_id}/safe-zone", json=ZONE, headers=w.headers[ADMIN_ROLE])
    return {"elder_id": elder_id}


def volunteer_channels(w: World, role: str, own: bool) -> dict[str, Any]:
    return {"kind": "volunteers", "person_id": w.volunteer_v}


RULES: dict[str, Rule] = {
    "GET /api/v1/elders/{elder_id}/readings": Rule(CAREGIVER_OWN, elder),
    "GET /api/v1/elders/{elder_id}/position": Rule(CAREGIVER_OWN, elder),
    "GET /api/v1/elders/{elder_id}/safe-zone": Rule(CAREGIVER_OWN, zoned),
    "PUT /api/v1/elders/{elder_id}/safe-zone": Rule(STAFF, elder, lambda w: ZONE),
    "DELETE /api/v1/elders/{elder_id}/safe-zone": Rule(STAFF, zoned),
    "GET /api/v1/cases/{case_id}/track": Rule(CAREGIVER_OWN, case),
    "POST /api/v1/elders": Rule(STAFF, body=lambda w: ELDER),
    "GET /api/v1/elders": Rule(STAFF, query={"q": "a"}),
    "GET /api/v1/elders/{elder_id}": Rule(CAREGIVER_OWN, elder),
    "PATCH /api/v1/elders/{elder_id}": Rule(STAFF, elder, lambda w: {"address": "13 Lane"}),
    "POST /api/v1/elders/{elder_id}/contacts": Rule(STAFF, elder, lambda w: contact()),
    "GET /api/v1/elders/{elder_id}/contacts": Rule(CAREGIVER_OWN, elder),
    "GET /api/v1/elders/{elder_id}/checkins": Rule(CAREGIVER_OWN, elder),
    "POST /api/v1/elders/{elder_id}/checkins": Rule(CAREGIVER_OWN, elder, window_body),
    "DELETE /api/v1/elders/{elder_id}/checkins/{window_id}": Rule(CAREGIVER_OWN, window),
    "GET /api/v1/elders/{elder_id}/quiet-watch": Rule(CAREGIVER_OWN, watched),
    "PUT /api/v1/elders/{elder_id}/quiet-watch": Rule(
        CAREGIVER_OWN, elder, lambda w: {"quiet_hours": 12, "grace_minutes": 10}
    ),
    "DELETE /api/v1/elders/{elder_id}/quiet-watch": Rule(CAREGIVER_OWN, watched),
    "PUT /api/v1/elders/{elder_id}/away/{day}": Rule(
        CAREGIVER_OWN, lambda w, r, o: {**elder(w, r, o), "day": "2027-02-10"}
    ),
    "DELETE /api/v1/elders/{elder_id}/away/{day}": Rule(
        CAREGIVER_OWN, lambda w, r, o: {**elder(w, r, o), "day": "2027-02-10"}
    ),
    "POST /api/v1/devices": Rule(
        STAFF, body=lambda w: {"device_id": w.unique("N"), "elder_id": w.elder_a}
    ),
    "GET /api/v1/devices": Rule(STAFF),
    "GET /api/v1/incidents": Rule(STAFF),
    "PUT /api/v1/devices/models/{model}": Rule(
        STAFF, lambda w, r, o: {"model": "OneKey-2"}, lambda w: {"heartbeat_s": 600}
    ),
    "POST /api/v1/devices/{device_id}/rotate-secret": Rule(STAFF, fresh_device),
    "GET /api/v1/devices/{device_id}": Rule(CAREGIVER_OWN, device),
    "PATCH /api/v1/devices/{device_id}": Rule(STAFF, device, lambda w: {"heartbeat_s": 600}),
    "POST /api/v1/devices/{device_id}/bind": Rule(
        STAFF, fresh_device, lambda w: {"elder_id": w.elder_b}
    ),
    "POST /api/v1/devices/{device_id}/retire": Rule(
        STAFF, fresh_device, lambda w: {"reason": "lost"}
    ),
    "GET /api/v1/devices/{device_id}/history": Rule(CAREGIVER_OWN, device),
    "GET /api/v1/devices/{device_id}/events": Rule(CAREGIVER_OWN, device),
    "POST /api/v1/drills": Rule(STAFF, body=lambda w: {"district": w.unique("District ")}),
    "GET /api/v1/drills": Rule(STAFF),
    "POST /api/v1/drills/{drill_id}/end": Rule(STAFF, drill),
    "POST /api/v1/devices/{device_id}/commands": Rule(STAFF, device, lambda w: {"cmd": "ping"}),
    "GET /api/v1/devices/{device_id}/commands": Rule(STAFF, device),
    "GET /api/v1/devices/{device_id}/commands/{command_id}": Rule(
        STAFF, lambda w, r, o: {"device_id": w.device_a, "command_id": w.command()}
    ),
    "GET /api/v1/cases": Rule(CAREGIVER_LIST),
    "POST /api/v1/cases": Rule(STAFF, body=lambda w: {**FILING, "elder_id": w.elder_a}),
    "GET /api/v1/cases/{case_id}": Rule(CAREGIVER_OWN, case),
    "GET /api/v1/cases/{case_id}/elder": Rule(
        {**CAREGIVER_OWN, VOLUNTEER: OWN, MERCHANT: OWN}, responders_case
    ),
    "POST /api/v1/cases/{case_id}/ack": Rule(CAREGIVER_OWN, case, lambda w: {"note": "coming"}),
    "POST /api/v1/cases/{case_id}/accept": Rule(CAREGIVER_OWN, case),
    "POST /api/v1/cases/{case_id}/on-site": Rule(
        CAREGIVER_OWN, lambda w, r, o: {"case_id": w.acked_case(r, o)}
    ),
    "POST /api/v1/cases/{case_id}/resolve": Rule(
        CAREGIVER_OWN, lambda w, r, o: {"case_id": w.acked_case(r, o)}, lambda w: {"note": "ok"}
    ),
    "POST /api/v1/cases/{case_id}/callback": Rule(
        STAFF, lambda w, r, o: {"case_id": w.resolved_case(o)}, lambda w: {"satisfaction": 5}
    ),
    "POST /api/v1/cases/{case_id}/reclassify": Rule(STAFF, case, lambda w: {"kind": "service"}),
    "POST /api/v1/cases/{case_id}/orders": Rule(
        STAFF,
        lambda w, r, o: {"case_id": w.case(o, kind="service")},
        lambda w: {"category": "meals"},
    ),
    "POST /api/v1/cases/{case_id}/offers": Rule(
        STAFF,
        lambda w, r, o: {"case_id": w.care_case_to_offer()},
        lambda w: {"need": "shopping", "skill": "driving"},
    ),
    "GET /api/v1/cases/{case_id}/deadline": Rule(STAFF, case),
    "POST /api/v1/cases/{case_id}/calls": Rule(
        STAFF, case, lambda w: {"to": "elder", "operator_phone": "+8613700000001"}
    ),
    "GET /api/v1/cases/{case_id}/calls": Rule(STAFF, case),
    "GET /api/v1/callbacks/due": Rule(STAFF),
    "GET /api/v1/me/phone": Rule(STAFF),
    "PUT /api/v1/me/phone": Rule(STAFF, body=lambda w: {"phone": "+8613700000009"}),
    "POST /api/v1/cases/{case_id}/extend": Rule(
        STAFF, case, lambda w: {"days": 2, "reason": "waiting for the district"}
    ),
    "GET /api/v1/notifications": Rule(CAREGIVER_LIST),
    "POST /api/v1/tokens": Rule(ADMIN_ONLY, body=lambda w: {"role": "operator", "name": "Qian"}),
    "DELETE /api/v1/tokens/{token_id}": Rule(ADMIN_ONLY, lambda w, r, o: {"token_id": w.token()}),
    "GET /api/v1/ladders/{kind}": Rule(STAFF, lambda w, r, o: {"kind": "care"}),
    "PUT /api/v1/ladders/{kind}": Rule(
        ADMIN_ONLY, lambda w, r, o: {"kind": "care"}, lambda w: {"steps": w.ladder_steps()}
    ),
    "DELETE /api/v1/ladders/{kind}": Rule(ADMIN_ONLY, lambda w, r, o: {"kind": "care"}),
    "GET /api/v1/audit": Rule(ADMIN_ONLY),
    "POST /api/v1/cases/{case_id}/notes": Rule(STAFF, case, lambda w: {"text": "no answer"}),
    "POST /api/v1/cases/{case_id}/script/{step_id}": Rule(
        STAFF, lambda w, r, o: {**case(w, r, o), "step_id": "call_elder"}
    ),
    "GET /api/v1/outcome-codes": Rule(STAFF),
    "PUT /api/v1/outcome-codes": Rule(
        ADMIN_ONLY, body=lambda w: [{"code": "false_alarm", "labels": {"en": "False alarm"}}]
    ),
    "DELETE /api/v1/outcome-codes": Rule(ADMIN_ONLY),
    "GET /api/v1/scripts/{kind}": Rule(STAFF, lambda w, r, o: {"kind": "care"}),
    "PUT /api/v1/scripts/{kind}": Rule(
        ADMIN_ONLY,
        lambda w, r, o: {"kind": "care"},
        lambda w: {"steps": [{"id": "call_elder", "labels": {"en": "Call the elder"}}]},
    ),
    "DELETE /api/v1/scripts/{kind}": Rule(ADMIN_ONLY, lambda w, r, o: {"kind": "care"}),
    "GET /api/v1/handover": Rule(STAFF),
    "POST /api/v1/handover": Rule(STAFF, body=lambda w: {"text": "quiet night"}),
    "PATCH /api/v1/elders/{elder_id}/contacts/{contact_id}": Rule(
        STAFF, lambda w, r, o: w.contact_of(o), lambda w: {"relation": "son"}
    ),
    "DELETE /api/v1/elders/{elder_id}/contacts/{contact_id}": Rule(
        STAFF, lambda w, r, o: w.contact_of(o)
    ),
    "GET /api/v1/elders/{elder_id}/map": Rule(STAFF, elder),
    "POST /api/v1/volunteers": Rule(
        STAFF, body=lambda w: {"name": "Chen", "phone": "+8613100009999", "lat": 29, "lon": 119}
    ),
    "GET /api/v1/volunteers": Rule(STAFF),
    "GET /api/v1/volunteers/{volunteer_id}": Rule(
        STAFF_OR_VOLUNTEER_OWN,
        lambda w, r, o: {"volunteer_id": w.volunteer_v if o else w.volunteer_w},
    ),
    "PUT /api/v1/volunteers/{volunteer_id}/hours": Rule(
        STAFF_OR_VOLUNTEER_OWN,
        lambda w, r, o: {"volunteer_id": w.volunteer_v if o else w.volunteer_w},
        lambda w: {"availability": ALL_WEEK},  # unchanged hours: later offers still reach them
    ),
    "GET /api/v1/{kind}/{person_id}/channels": Rule(STAFF, volunteer_channels),
    "PUT /api/v1/{kind}/{person_id}/channels": Rule(
        STAFF, volunteer_channels, lambda w: {"preferred": "sms"}
    ),
    "POST /api/v1/{kind}/{person_id}/wechat/code": Rule(
        STAFF, volunteer_channels, lambda w: {"send_sms": False}
    ),
    "DELETE /api/v1/{kind}/{person_id}/wechat": Rule(STAFF, volunteer_channels),
    "GET /api/v1/tasks": Rule(VOLUNTEER_LIST),
    "POST /api/v1/tasks/{task_id}/accept": Rule(
        VOLUNTEER_OWN, lambda w, r, o: {"task_id": w.task(o)}
    ),
    "POST /api/v1/tasks/{task_id}/decline": Rule(
        VOLUNTEER_OWN, lambda w, r, o: {"task_id": w.task(o)}
    ),
    "POST /api/v1/tasks/{task_id}/done": Rule(
        VOLUNTEER_OWN, lambda w, r, o: {"task_id": w.task(o, accepted=True)}
    ),
    "POST /api/v1/merchants": Rule(
        STAFF,
        body=lambda w: {"name": "Gas", "phone": "+8613100008888", "categories": ["gas"]},
    ),
    "GET /api/v1/merchants": Rule(STAFF),
    "GET /api/v1/merchants/{merchant_id}": Rule(
        STAFF_OR_MERCHANT_OWN,
        lambda w, r, o: {"merchant_id": w.merchant_m if o else w.merchant_n},
    ),
    "POST /api/v1/merchants/{merchant_id}/strikes/{strike_id}/revoke": Rule(
        ADMIN_ONLY,
        lambda w, r, o: {"merchant_id": w.merchant_m, "strike_id": w.strike()},
        lambda w: {"reason": "the elder was away"},
    ),
    "PUT /api/v1/merchants/{merchant_id}/hours": Rule(
        STAFF_OR_MERCHANT_OWN,
        lambda w, r, o: {"merchant_id": w.merchant_m if o else w.merchant_n},
        lambda w: {"hours": None},
    ),
    "GET /api/v1/orders": Rule(MERCHANT_LIST),
    "POST /api/v1/orders/{order_id}/contacted": Rule(
        MERCHANT_OWN, lambda w, r, o: {"order_id": w.order(o)}
    ),
    "POST /api/v1/orders/{order_id}/decline": Rule(
        MERCHANT_OWN, lambda w, r, o: {"order_id": w.order(o)}
    ),
    "POST /api/v1/orders/{order_id}/done": Rule(
        STAFF_OR_MERCHANT_OWN, lambda w, r, o: {"order_id": w.order(o, contacted=True)}
    ),
    "GET /api/v1/calendar": Rule(STAFF),
    "PUT /api/v1/calendar/{day}": Rule(
        ADMIN_ONLY, lambda w, r, o: {"day": "2027-02-10"}, lambda w: {"working": False}
    ),
    "DELETE /api/v1/calendar/{day}": Rule(ADMIN_ONLY, lambda w, r, o: {"day": w.calendar_day()}),
    "POST /api/v1/shifts": Rule(ADMIN_ONLY, body=lambda w: SHIFT),
    "GET /api/v1/shifts": Rule(STAFF),
    "DELETE /api/v1/shifts/{shift_id}": Rule(ADMIN_ONLY, lambda w, r, o: {"shift_id": w.shift()}),
    "GET /api/v1/on-duty": Rule(STAFF),
    "GET /api/v1/console/board": Rule(STAFF),
    "GET /api/v1/vocabulary": Rule(STAFF),
    "GET /api/v1/hotline/missed-calls": Rule(STAFF),
    "POST /api/v1/hotline/calls/{call_id}/called-back": Rule(
        STAFF, lambda w, r, o: {"call_id": w.missed_call()}, lambda w: {"note": "reached"}
    ),
    "GET /api/v1/reports/kpi": Rule(STAFF),
    "GET /api/v1/stream": Rule(STREAMED),
    # Signing in is open to anyone with the password (one user for every role's call here).
    "POST /api/v1/session": Rule(EVERYONE, body=lambda w: w.staff_login()),
    "GET /api/v1/session": Rule(EVERYONE),
    "DELETE /api/v1/session": Rule(EVERYONE),
    "GET /api/v1/session/sso": Rule(EVERYONE),
    "GET /api/v1/users": Rule(ADMIN_ONLY),
    "POST /api/v1/users": Rule(
        ADMIN_ONLY,
        body=lambda w: {"username": w.unique("op"), "role": "operator", "password": "p" * 12},
    ),
    "POST /api/v1/users/{user_id}/password": Rule(
        ADMIN_ONLY, lambda w, r, o: {"user_id": w.staff_user()}, lambda w: {"password": "q" * 12}
    ),
    "PATCH /api/v1/users/{user_id}": Rule(
        ADMIN_ONLY, lambda w, r, o: {"user_id": w.staff_user()}, lambda w: {"active": True}
    ),
    # The body is the file; a JSON string is a one-column CSV whose problems the report lists.
    "POST /api/v1/imports/{kind}": Rule(
        ADMIN_ONLY, lambda w, r, o: {"kind": "elders"}, lambda w: "name,phone"
    ),
    "GET /healthz": Rule(EVERYONE),
    "GET /metrics": Rule(EVERYONE),
}


@pytest.fixture
def world(db_url: str, clock: FakeClock) -> Iterator[World]:
    with open_world(db_url, clock) as opened:
        yield opened


def _operations(w: World) -> list[str]:
    spec = w.api.get("/openapi.json").json()
    return [f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item]


def _call(w: World, key: str, rule: Rule, params: dict[str, Any], headers: dict[str, str]) -> Any:
    method, template = key.split(" ", 1)
    path = template.format(**params)
    body = rule.body(w) if rule.body is not None else None
    return w.api.request(method, path, json=body, params=dict(rule.query), headers=headers)


def _detail(response: Any, value: object) -> str:
    return re.sub(re.escape(str(value)), "<id>", str(response.json().get("detail")))


def _check(w: World, key: str, rule: Rule, role: str) -> str | None:
    """None when the route answers `role` as the rule says, else what went wrong."""
    expected = rule.expect[role]
    headers = w.headers[role]
    if expected == STREAM:
        return None  # an endless response; tests/api/test_console_api.py streams it for staff
    if key == "GET /api/v1/stream":
        token = headers["Authorization"].removeprefix("Bearer ")
        got = w.api.get("/api/v1/stream", params={"token": token}).status_code
        return None if got == 403 else f"expected 403, got {got}"
    own = _call(w, key, rule, rule.params(w, role, True), headers)
    if expected == PUBLIC:
        return None if own.status_code not in (401, 403, 404) else f"got {own.status_code}"
    if expected == DENY:
        return None if own.status_code == 403 else f"expected 403, got {own.status_code}"
    if not own.is_success:
        return f"expected 2xx on its own object, got {own.status_code}: {own.text[:200]}"
    if expected == OK:
        return None
    # OWN: another's object answers exactly like one that does not exist.
    other_params = rule.params(w, role, False)
    scoped = next(name for name in other_params if name in MISSING)
    other = _call(w, key, rule, other_params, headers)
    missing = _call(w, key, rule, {**other_params, scoped: MISSING[scoped]}, headers)
    if (other.status_code, missing.status_code) != (404, 404):
        return f"another's object: {other.status_code}, a missing one: {missing.status_code}"
    if _detail(other, other_params[scoped]) != _detail(missing, MISSING[scoped]):
        return f"404 tells another's object apart: {other.text} vs {missing.text}"
    return None


def test_role_matrix_every_route_has_an_expectation(world: World) -> None:
    operations = _operations(world)  # once: each call rendered the whole OpenAPI document
    missing = [op for op in operations if op not in RULES]
    assert not missing, f"routes without a line in RULES (who may call them?): {missing}"
    gone = [key for key in RULES if key not in operations]
    assert not gone, f"RULES names routes the app no longer has: {gone}"


# Every route as every role, some three times: about 35 s on PostgreSQL on a quiet machine,
# and 118 s once on this one with the load average at 17, past the suite's 120 s limit.
@pytest.mark.timeout(600)
def test_role_matrix_every_route_answers_every_role_as_expected(world: World) -> None:
    failures = []
    for key in _operations(world):
        rule = RULES.get(key)
        if rule is None:
            continue  # reported by the test above
        for role in ROLES:
            problem = _check(world, key, rule, role)
            if problem:
                failures.append(f"{key} as {role} ({rule.expect[role]}): {problem}")
    assert not failures, "\n".join(failures)


def test_role_matrix_without_a_token_every_api_route_is_401(world: World) -> None:
    failures = []
    for key in _operations(world):
        rule = RULES.get(key)
        if rule is None or rule.expect[ADMIN_ROLE] == PUBLIC:
            continue
        method, template = key.split(" ", 1)
        # 401 comes before the path is looked at, so any well-formed values do.
        path = template.format_map(_Samples())
        got = world.api.request(method, path, params={"token": "not-a-token"}).status_code
        if got != 401:
            failures.append(f"{key}: {got}")
    assert not failures, failures


class _Samples(dict[str, str]):
    def __missing__(self, name: str) -> str:
        return {"day": "2027-01-01", "kind": "care", "model": "M1"}.get(name, "1")


def test_role_matrix_lists_show_a_caregiver_only_their_elders(world: World) -> None:
    for own in (True, False):
        world.case(own)
    assert world.api.get("/api/v1/cases", headers=world.headers[CAREGIVER]).json()
    for path in ("/cases", "/notifications", f"/cases?elder_id={world.elder_b}"):
        assert set(world.visible_elders(CAREGIVER, path)) <= {world.elder_a}, path
    assert {world.elder_a, world.elder_b} <= set(world.visible_elders(OPERATOR, "/cases"))


def test_role_matrix_volunteer_sees_own_tasks_and_the_elder_only_once_accepted(
    world: World,
) -> None:
    offered = world.task(True)
    world.task(False)
    accepted = world.task(True, accepted=True)
    tasks = world.api.get("/api/v1/tasks", headers=world.headers[VOLUNTEER]).json()
    assert {t["volunteer_id"] for t in tasks} == {world.volunteer_v}
    by_id = {t["id"]: t for t in tasks}
    assert by_id[offered]["elder"] is None
    assert by_id[accepted]["elder"]["address"] == "12 Bamboo Lane"
    assert by_id[accepted]["elder"]["medical_notes"] is None  # this task does not need them


def test_role_matrix_merchant_sees_own_orders_with_address_but_no_medical_notes(
    world: World,
) -> None:
    mine = world.order(True)
    world.order(False)
    orders = world.api.get("/api/v1/orders", headers=world.headers[MERCHANT]).json()
    assert [o["id"] for o in orders] == [mine]
    assert orders[0]["elder"]["address"] == "12 Bamboo Lane"
    assert "diabetic" not in str(orders)
