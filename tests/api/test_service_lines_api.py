"""Service lines over HTTP: on every case, `?line=`, set by press, filing and reclassify."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from care_api.http.app import create_app
from care_api.services import Services
from care_api.store.tables import Case
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import ADMIN, TestClient
from tests.helpers import press, seed_elder


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    """The API with the console's routes, where reclassify lives."""
    with TestClient(create_app(services)) as client:
        yield client


def pressed(services: Services, seq: int, button: str, pattern: str = "single") -> str:
    report = press("T1001", seq=seq, pattern=pattern, button=button)
    outcome = record_device_report(services.uow, report, now=services.clock.now(), tz=services.tz)
    assert outcome.case_id is not None
    return outcome.case_id


def cases(api: TestClient, query: str = "") -> list[dict[str, Any]]:
    resp = api.get(f"/api/v1/cases{query}", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()
    return found


def test_lines_pressed_apart_stay_apart_and_filter(api: TestClient, services: Services) -> None:
    seed_elder(services)
    legal = pressed(services, 1, "legal")
    care_home = pressed(services, 2, "care_home")
    medical = pressed(services, 3, "medical")
    life = pressed(services, 4, "main", "double")
    assert pressed(services, 5, "legal", "long") == legal  # the same line joins

    assert len({legal, care_home, medical, life}) == 4
    lines = {c["id"]: (c["kind"], c["line"]) for c in cases(api)}
    assert lines == {
        legal: ("consult", "legal"),
        care_home: ("consult", "care_home"),
        medical: ("care", "medical"),
        life: ("care", "life_care"),
    }
    assert [c["id"] for c in cases(api, "?line=legal")] == [legal]
    assert [c["id"] for c in cases(api, "?line=medical&kind=care")] == [medical]
    assert api.get(f"/api/v1/cases/{care_home}", headers=ADMIN).json()["line"] == "care_home"
    assert api.get("/api/v1/cases?line=tea", headers=ADMIN).status_code == 422
    # A consultation a terminal opened has its working-day deadline, as a filed one does.
    due = api.get(f"/api/v1/cases/{legal}/deadline", headers=ADMIN)
    assert (due.status_code, due.json()["matter"], due.json()["limit_days"]) == (200, "general", 5)


def test_lines_filed_by_hand_with_a_line(api: TestClient, services: Services) -> None:
    elder_id, _ = seed_elder(services)
    filed = api.post(
        "/api/v1/cases",
        json={"elder_id": elder_id, "line": "care_home", "summary": "which homes take dementia"},
        headers=ADMIN,
    )
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert (body["kind"], body["line"], body["deadline"]["limit_days"]) == (
        "consult",
        "care_home",
        5,
    )
    nursing = api.post(
        "/api/v1/cases",
        json={"elder_id": elder_id, "kind": "care", "line": "medical", "summary": "dressing"},
        headers=ADMIN,
    )
    assert (nursing.status_code, nursing.json()["line"]) == (201, "medical")
    plain = api.post(
        "/api/v1/cases",
        json={"elder_id": elder_id, "kind": "service", "summary": "boiler"},
        headers=ADMIN,
    )
    assert plain.json()["line"] == "life_care"  # the kind's default line


def test_lines_bad_filings_are_422_and_open_nothing(api: TestClient, services: Services) -> None:
    elder_id, _ = seed_elder(services)
    for body in (
        {"elder_id": elder_id, "kind": "care", "line": "legal", "summary": "x"},
        {"elder_id": elder_id, "summary": "neither kind nor line"},
        {"elder_id": elder_id, "line": "emergency", "summary": "not filed by hand"},
        {"elder_id": elder_id, "line": "tea", "summary": "no such line"},
    ):
        resp = api.post("/api/v1/cases", json=body, headers=ADMIN)
        assert resp.status_code == 422, (body, resp.text)
        assert "detail" in resp.json()
    with services.uow() as uow:
        assert uow.session.exec(select(Case)).all() == []


def test_lines_reclassify_sets_the_line_from_the_call_back(
    api: TestClient, services: Services
) -> None:
    seed_elder(services)
    # A one-button terminal: a single press asks for a call back, which finds legal help.
    case_id = pressed(services, 1, "main")
    assert cases(api)[0]["line"] == "life_care"
    board = api.get("/api/v1/console/board", headers=ADMIN).json()["cases"]
    assert [row["line"] for row in board] == ["life_care"]
    url = f"/api/v1/cases/{case_id}/reclassify"

    bad = api.post(url, json={"kind": "emergency", "line": "legal"}, headers=ADMIN)
    assert bad.status_code == 422
    assert api.post(url, json={}, headers=ADMIN).status_code == 422
    assert (cases(api)[0]["kind"], cases(api)[0]["line"]) == ("service", "life_care")

    moved = api.post(url, json={"line": "legal", "note": "a landlord dispute"}, headers=ADMIN)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["kind"], moved.json()["line"]) == ("consult", "legal")
    assert [c["id"] for c in cases(api, "?line=legal")] == [case_id]
    assert api.get(f"/api/v1/cases/{case_id}/deadline", headers=ADMIN).status_code == 200
    events = api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()["events"]
    assert ("line", "life_care → legal") in [(e["action"], e["why"]) for e in events]
    assert ("reclassified", "service → consult: a landlord dispute") in [
        (e["action"], e["why"]) for e in events
    ]
    # Another line of the same kind: only the line changes.
    again = api.post(url, json={"line": "care_home"}, headers=ADMIN)
    assert (again.json()["kind"], again.json()["line"]) == ("consult", "care_home")
    assert api.post(url, json={"line": "care_home"}, headers=ADMIN).status_code == 409
    # A later legal press does not fold into the care-home matter.
    assert pressed(services, 2, "legal") != case_id
