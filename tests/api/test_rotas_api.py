"""Rotas over HTTP: the admin puts people on shifts; staff see who is on duty (moved clock)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from care_api.http.app import create_app
from care_api.services import build_services
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient, mint
from tests.conftest import make_settings
from tests.fakes import FakeClock

SETTING_PHONE = "+8613700000000"
# The fake clock starts at 2026-11-22 08:00 UTC (16:00 in Shanghai).
DAY = {
    "person": "Li Day",
    "role": "supervisor",
    "phone": "+8613711111111",
    "start": "2026-11-22T08:00:00+08:00",
    "end": "2026-11-22T20:00:00+08:00",
}
NIGHT = {**DAY, "person": "Wu Night", "phone": "+8613722222222"}
NIGHT |= {"start": "2026-11-22T20:00:00+08:00", "end": "2026-11-23T08:00:00+08:00"}
OPERATOR = {**DAY, "person": "Zhao Desk", "role": "operator", "phone": None}


@pytest.fixture
def api(db_url: str, clock: FakeClock) -> Iterator[TestClient]:
    settings = make_settings(db_url, supervisor_phone=SETTING_PHONE, admin_token=ADMIN_TOKEN)
    services = build_services(settings, clock=clock)
    with TestClient(create_app(services)) as client:
        yield client
    services.close()


def _post(api: TestClient, body: dict[str, object]) -> dict[str, object]:
    response = api.post("/api/v1/shifts", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_rotas_api_on_duty_follows_the_clock_and_falls_back_to_the_setting(
    api: TestClient, clock: FakeClock
) -> None:
    operator = mint(api, "operator", "Op")
    before = api.get("/api/v1/on-duty", headers=operator).json()
    assert (before["supervisor_phone"], before["supervisor_source"]) == (SETTING_PHONE, "setting")
    assert before["operators"] == [] and before["supervisor"] is None

    day, night, desk = _post(api, DAY), _post(api, NIGHT), _post(api, OPERATOR)
    assert (day["start"], day["created_by"]) == ("2026-11-22T00:00:00+00:00", "admin:admin")

    now = api.get("/api/v1/on-duty", headers=operator).json()
    assert (now["supervisor"], now["supervisor_source"]) == ("Li Day", "rota")
    assert now["supervisor_phone"] == DAY["phone"]
    assert [p["person"] for p in now["operators"]] == ["Zhao Desk"]
    assert now["operators"][0]["until"] == "2026-11-22T12:00:00+00:00"

    clock.advance(hours=4)  # 20:00 local: the night supervisor takes over
    later = api.get("/api/v1/on-duty", headers=operator).json()
    assert (later["supervisor"], later["operators"]) == ("Wu Night", [])
    asked = api.get("/api/v1/on-duty", params={"at": "2026-11-22T09:00:00+08:00"}, headers=operator)
    assert asked.json()["supervisor"] == "Li Day"

    listed = api.get(
        "/api/v1/shifts", params={"since": "2026-11-22T00:00:00+08:00"}, headers=operator
    )
    assert [s["id"] for s in listed.json()] == [day["id"], desk["id"], night["id"]]
    supervisors = api.get(
        "/api/v1/shifts",
        params={"since": "2026-11-22T00:00:00+08:00", "role": "supervisor"},
        headers=ADMIN,
    )
    assert [s["person"] for s in supervisors.json()] == ["Li Day", "Wu Night"]

    assert api.delete(f"/api/v1/shifts/{night['id']}", headers=ADMIN).status_code == 204
    assert api.get("/api/v1/on-duty", headers=operator).json()["supervisor_source"] == "setting"
    assert api.delete(f"/api/v1/shifts/{night['id']}", headers=ADMIN).status_code == 404


def test_rotas_api_refuses_unfit_shifts_and_changes_nothing(api: TestClient) -> None:
    for bad in (
        {**DAY, "end": DAY["start"]},
        {**DAY, "end": "2026-12-22T08:00:00+08:00"},  # a month
        {**DAY, "start": "2026-11-22T08:00:00"},  # no offset
        {**DAY, "role": "janitor"},
        {**DAY, "phone": "call me"},
    ):
        response = api.post("/api/v1/shifts", json=bad, headers=ADMIN)
        assert response.status_code == 422, bad
        assert response.json()["detail"]
    listed = api.get("/api/v1/shifts", params={"since": "2026-11-01T00:00:00+08:00"}, headers=ADMIN)
    assert listed.json() == []
    span = {"since": "2026-11-22T00:00:00+08:00", "until": "2026-11-21T00:00:00+08:00"}
    assert api.get("/api/v1/shifts", params=span, headers=ADMIN).status_code == 422
    # The rota form says why in the admin's language.
    chinese = {**ADMIN, "Accept-Language": "zh-CN"}
    empty = api.post("/api/v1/shifts", json={**DAY, "end": DAY["start"]}, headers=chinese)
    assert empty.json() == {"detail": "班次的结束时间须晚于开始时间"}
    english = api.post("/api/v1/shifts", json={**DAY, "end": DAY["start"]}, headers=ADMIN)
    assert english.json() == {"detail": "a shift must end after it starts"}


def test_rotas_api_only_the_admin_edits_the_rota(api: TestClient) -> None:
    operator = mint(api, "operator", "Op")
    assert api.post("/api/v1/shifts", json=DAY, headers=operator).status_code == 403
    shift = _post(api, DAY)
    assert api.delete(f"/api/v1/shifts/{shift['id']}", headers=operator).status_code == 403
    caregiver = mint(api, "caregiver", "Wang Jun")
    assert api.get("/api/v1/on-duty", headers=caregiver).status_code == 403


def test_rotas_api_supervisor_without_phone_is_shown_but_the_setting_is_paged(
    api: TestClient, clock: FakeClock
) -> None:
    _post(api, {**DAY, "phone": None})
    clock.advance(minutes=1)
    duty = api.get("/api/v1/on-duty", headers=ADMIN).json()
    assert [p["person"] for p in duty["supervisors"]] == ["Li Day"]
    assert (duty["supervisor_phone"], duty["supervisor_source"]) == (SETTING_PHONE, "setting")
