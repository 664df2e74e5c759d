"""The console's editors through a staff login's cookie: an admin edits, an operator may not."""

from __future__ import annotations

from typing import Any

import pytest

from care_api.services import Services
from care_api.usecases.people.staff import add_user
from tests.api.support import TestClient

PASSWORD = "correct horse battery"
CONSOLE = {"X-VNH-Console": "1"}  # what the console sends with its cookie
SCRIPT = {"line": "medical", "steps": [{"id": "call_gp", "labels": {"en": "Call the GP"}}]}
CODES = [{"code": "wandered_off", "labels": {"en": "Wandered off", "zh-CN": "走失"}}]
LADDER = {
    "steps": [{"after_s": 0, "notify": [{"audience": "operators", "channels": ["console"]}]}],
    "repeat": 0,
    "repeat_every_s": 600,
}
EDITS = [
    ("PUT", "/api/v1/scripts/emergency", SCRIPT),
    ("DELETE", "/api/v1/scripts/emergency?line=medical", None),
    ("PUT", "/api/v1/outcome-codes", CODES),
    ("DELETE", "/api/v1/outcome-codes", None),
    ("PUT", "/api/v1/ladders/care", LADDER),
    ("DELETE", "/api/v1/ladders/care", None),
]


def _sign_in(api: TestClient, services: Services, username: str, role: str) -> None:
    with services.uow() as uow:
        add_user(
            uow.session, username=username, role=role, password=PASSWORD, now=services.clock.now()
        )
        uow.commit()
    signed = api.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert signed.status_code == 200


def _state(api: TestClient) -> list[Any]:
    return [
        api.get("/api/v1/scripts/emergency?line=medical", headers=CONSOLE).json(),
        api.get("/api/v1/outcome-codes", headers=CONSOLE).json(),
        api.get("/api/v1/ladders/care", headers=CONSOLE).json(),
    ]


@pytest.mark.parametrize(("method", "path", "body"), EDITS)
def test_an_operator_signed_in_with_a_password_cannot_edit(
    api: TestClient, services: Services, method: str, path: str, body: object
) -> None:
    _sign_in(api, services, "li.na", "operator")
    before = _state(api)  # an operator reads them all: the case page shows them
    refused = api.request(method, path, json=body, headers=CONSOLE)
    assert refused.status_code == 403
    assert _state(api) == before


def test_an_admin_signed_in_with_a_password_edits_and_resets_all_three(
    api: TestClient, services: Services
) -> None:
    _sign_in(api, services, "wang.admin", "admin")
    before = _state(api)
    for method, path, body in EDITS[::2]:
        assert api.request(method, path, json=body, headers=CONSOLE).status_code == 200
    script, codes, ladder = _state(api)
    assert script["line"] == "medical" and not script["default"]
    assert [c["code"] for c in codes] == ["wandered_off"]
    assert ladder["repeat_every_s"] == 600 and not ladder["default"]
    for method, path, body in EDITS[1::2]:
        assert api.request(method, path, json=body, headers=CONSOLE).status_code == 200
    assert _state(api) == before


def test_a_refused_ladder_says_why_and_changes_nothing(api: TestClient, services: Services) -> None:
    _sign_in(api, services, "wang.admin", "admin")
    before = _state(api)
    late_start = {**LADDER, "steps": [{"after_s": 5, "flag": "late"}]}
    refused = api.put("/api/v1/ladders/care", json=late_start, headers=CONSOLE)
    assert refused.status_code == 422
    assert "after_s must be 0" in refused.json()["detail"]
    negative = {**LADDER, "repeat_every_s": -1}
    assert api.put("/api/v1/ladders/care", json=negative, headers=CONSOLE).status_code == 422
    bad_code = [{"code": "Wandered Off", "labels": {"en": "x"}}]
    assert api.put("/api/v1/outcome-codes", json=bad_code, headers=CONSOLE).status_code == 422
    assert _state(api) == before
