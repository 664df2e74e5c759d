"""Input limits: bounded strings, lists and pages in the OpenAPI document, and clear 4xx answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.role_world import World, open_world
from tests.api.support import ADMIN, TestClient
from tests.fakes import FakeClock

MAX_PAGE = 200
# List routes that page otherwise, or not yet; each names why, or whom it waits for.
PAGING_EXCEPTIONS = {
    "GET /api/v1/calendar": "a date range, itself capped at 366 days",
    # Fleet owner: the console's fleet view reads up to 1000 terminals in one call.
    "GET /api/v1/devices": "limit up to 1000 (console fleet view)",
    # Fleet owner: add limit/offset (MAX_PAGE) to the device history and command lists.
    "GET /api/v1/devices/{device_id}/history": "not paged yet",
    "GET /api/v1/devices/{device_id}/commands": "not paged yet",
    "GET /api/v1/users": "the centre's staff logins: a few dozen",
    "GET /api/v1/handover": "the last day's handover notes, capped by HANDOVER_LIMIT",
    "GET /api/v1/hotline/missed-calls": "missed calls still to call back, capped at 200",
    "GET /api/v1/outcome-codes": "the centre's outcome codes: a configured handful",
    "GET /api/v1/elders/{elder_id}/readings": "the newest readings of one elder, limit capped",
    "GET /api/v1/incidents": "open incidents and the last closed ones, limit capped",
}
# An unescaped + or * makes a pattern unbounded; {m,n} and ? keep it bounded.
_UNBOUNDED = re.compile(r"(?<!\\)[+*]")


@pytest.fixture
def world(sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    with open_world(sqlite_url, clock) as opened:
        yield opened


@pytest.fixture
def spec(world: World) -> dict[str, Any]:
    document: dict[str, Any] = world.api.get("/openapi.json").json()
    return document


def _unbounded(
    node: dict[str, Any], spec: dict[str, Any], where: str, seen: frozenset[str]
) -> Iterator[str]:
    """Every string without a length bound, list without maxItems, map without maxProperties."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            schema = spec["components"]["schemas"][name]
            yield from _unbounded(schema, spec, where, seen | {name})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            yield from _unbounded(sub, spec, where, seen)
    kind = node.get("type")
    if kind == "string" and not ({"maxLength", "enum", "const", "format"} & node.keys()):
        pattern = node.get("pattern")
        if pattern is None or _UNBOUNDED.search(pattern):
            yield f"{where}: string without maxLength"
    if kind == "array":
        if "maxItems" not in node:
            yield f"{where}: list without maxItems"
        yield from _unbounded(node.get("items", {}), spec, f"{where}[]", seen)
    for name, prop in node.get("properties", {}).items():
        yield from _unbounded(prop, spec, f"{where}.{name}", seen)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        if "maxProperties" not in node:
            yield f"{where}: map without maxProperties"
        yield from _unbounded(extra, spec, f"{where}{{}}", seen)
        yield from _unbounded(node.get("propertyNames", {}), spec, f"{where}<key>", seen)


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_input_limits_every_body_and_parameter_is_bounded(spec: dict[str, Any]) -> None:
    problems = []
    for key, operation in _operations(spec):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            problems += [
                f"{key} {p}" for p in _unbounded(body["schema"], spec, "body", frozenset())
            ]
        for param in operation.get("parameters", []):
            where = f"{param['in']}:{param['name']}"
            problems += [
                f"{key} {p}" for p in _unbounded(param["schema"], spec, where, frozenset())
            ]
    assert not problems, "\n".join(problems)


def _is_list(operation: dict[str, Any]) -> bool:
    ok = operation.get("responses", {}).get("200", {})
    schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
    names = {p["name"] for p in operation.get("parameters", [])}
    return schema.get("type") == "array" or "limit" in names


def test_input_limits_every_list_route_pages_at_most_200(spec: dict[str, Any]) -> None:
    unpaged = set()
    for key, operation in _operations(spec):
        if not key.startswith("GET") or not _is_list(operation):
            continue
        params = {p["name"]: p["schema"] for p in operation.get("parameters", [])}
        limit, offset = params.get("limit", {}), params.get("offset", {})
        if not (0 < limit.get("maximum", 10**9) <= MAX_PAGE and offset.get("minimum") == 0):
            unpaged.add(key)
    assert unpaged - PAGING_EXCEPTIONS.keys() == set(), "list routes without limit ≤ 200 / offset"
    assert PAGING_EXCEPTIONS.keys() - unpaged == set(), "these page now: drop them from the list"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/elders", {"name": "x" * 201, "phone": "+8613800000000"}),
        ("POST", "/api/v1/elders", {"name": "Wang", "phone": "call me"}),
        (
            "POST",
            "/api/v1/elders",
            {"name": "Wang", "phone": "+86138", "medical_notes": "x" * 4001},
        ),
        (
            "POST",
            "/api/v1/elders",
            {"name": "Wang", "phone": "+86138", "keymap_override": {"x" * 65: "care"}},
        ),
        ("POST", "/api/v1/tokens", {"role": "caregiver", "name": "x", "elder_ids": [1] * 1001}),
        ("POST", "/api/v1/tokens", {"role": "caregiver", "name": 7}),
        ("POST", "/api/v1/elders", [1, 2, 3]),
        ("PUT", "/api/v1/ladders/care", {"steps": [{"after_s": 0}] * 500}),
    ],
    ids=[
        "long-name",
        "bad-phone",
        "long-notes",
        "long-keymap-key",
        "long-list",
        "wrong-type",
        "not-an-object",
        "too-many-steps",
    ],
)
def test_input_limits_bad_body_is_422_naming_the_field(
    world: World, method: str, path: str, body: Any
) -> None:
    response = world.api.request(method, path, json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and all("loc" in error and "msg" in error for error in detail)


def test_input_limits_malformed_json_is_422(world: World) -> None:
    headers = {**ADMIN, "Content-Type": "application/json"}
    response = world.api.post("/api/v1/elders", content=b'{"name": ', headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/elders/99999999999999999999999",
        "/api/v1/cases?elder_id=99999999999999999999999",
        "/api/v1/cases?offset=99999999999999999999999",
        "/api/v1/volunteers/9223372036854775808",
    ],
)
def test_input_limits_number_past_the_database_is_422_not_500(world: World, path: str) -> None:
    response = world.api.get(path, headers=ADMIN)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("query", ["limit=201", "limit=0", "offset=-1"])
@pytest.mark.parametrize("path", ["/api/v1/cases", "/api/v1/merchants", "/api/v1/audit"])
def test_input_limits_page_bounds_are_422(world: World, path: str, query: str) -> None:
    assert world.api.get(f"{path}?{query}", headers=ADMIN).status_code == 422


def test_input_limits_huge_body_is_413_before_it_is_read(world: World) -> None:
    api: TestClient = world.api
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = {**ADMIN, "Content-Type": "application/json"}
    response = api.post("/api/v1/elders", content=huge, headers=headers)
    assert response.status_code == 413
    chunks = iter([huge[:1000], huge[1000:]])  # no Content-Length: counted as it arrives
    response = api.post("/api/v1/elders", content=chunks, headers=headers)
    assert response.status_code == 413


def test_input_limits_merchants_and_contacts_page(world: World) -> None:
    for i in range(3):
        world.post(
            f"/elders/{world.elder_a}/contacts", {"name": f"C{i}", "phone": "+8613900000000"}
        )
    contacts = world.api.get(
        f"/api/v1/elders/{world.elder_a}/contacts?limit=2&offset=1", headers=ADMIN
    ).json()
    assert [c["name"] for c in contacts] == ["C1", "C2"]
    merchants = world.api.get("/api/v1/merchants?limit=1&offset=1", headers=ADMIN).json()
    assert [m["id"] for m in merchants] == [world.merchant_n]
