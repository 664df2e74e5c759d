"""Escalation ladders over HTTP: staff read them, the admin replaces and resets them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from care_api.http.app import create_app
from care_api.services import Services
from tests.api.support import ADMIN, TestClient, mint

FAST_EMERGENCY = {
    "steps": [
        {
            "after_s": 0,
            "notify": [
                {"audience": "contacts_all", "channels": ["sms", "voice"]},
                {"audience": "operators", "channels": ["console"]},
            ],
        },
        {
            "after_s": 60,
            "notify": [{"audience": "supervisor", "channels": ["sms"]}],
            "flag": "call 120",
        },
    ]
}


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as client:
        yield client


def test_ladders_api_default_emergency_ladder_is_readable_by_staff(api: TestClient) -> None:
    operator = mint(api, "operator", "Op")
    body = api.get("/api/v1/ladders/emergency", headers=operator).json()
    assert body["default"] is True
    assert [s["after_s"] for s in body["steps"]] == [0, 120, 300]
    assert body["steps"][2]["flag"] == "call 120"
    assert (body["repeat"], body["repeat_every_s"]) == (3, 300)  # the last step runs 4 times
    care = api.get("/api/v1/ladders/care", headers=operator).json()
    assert care["repeat"] == 0


def test_ladders_api_admin_replaces_and_resets_a_ladder(api: TestClient) -> None:
    put = api.put("/api/v1/ladders/emergency", json=FAST_EMERGENCY, headers=ADMIN)
    assert put.status_code == 200, put.text
    read = api.get("/api/v1/ladders/emergency", headers=ADMIN).json()
    assert read["default"] is False
    assert [s["after_s"] for s in read["steps"]] == [0, 60]
    assert read["steps"][0]["notify"][0]["audience"] == "contacts_all"

    reset = api.delete("/api/v1/ladders/emergency", headers=ADMIN).json()
    assert reset["default"] is True and len(reset["steps"]) == 3


def test_ladders_api_refuses_unfit_ladders_and_non_admins(api: TestClient) -> None:
    console_by_sms = {
        "steps": [{"after_s": 0, "notify": [{"audience": "operators", "channels": ["sms"]}]}]
    }
    unfit = api.put("/api/v1/ladders/emergency", json=console_by_sms, headers=ADMIN)
    assert unfit.status_code == 422
    assert "console only" in str(unfit.json()["detail"])
    late_start = {"steps": [{"after_s": 5, "notify": [], "flag": "x"}]}
    assert api.put("/api/v1/ladders/care", json=late_start, headers=ADMIN).status_code == 422
    assert api.put("/api/v1/ladders/fire", json=FAST_EMERGENCY, headers=ADMIN).status_code == 422
    for bad in ({"repeat": 21}, {"repeat": -1}, {"repeat_every_s": 5}, {"repeat": "often"}):
        refused = api.put(
            "/api/v1/ladders/emergency", json={**FAST_EMERGENCY, **bad}, headers=ADMIN
        )
        assert refused.status_code == 422, bad
    assert api.get("/api/v1/ladders/emergency", headers=ADMIN).json()["default"] is True

    operator = mint(api, "operator", "Op")
    assert (
        api.put("/api/v1/ladders/emergency", json=FAST_EMERGENCY, headers=operator).status_code
        == 403
    )
    caregiver = mint(api, "caregiver", "Li Na")
    assert api.get("/api/v1/ladders/emergency", headers=caregiver).status_code == 403
    assert api.get("/api/v1/ladders/emergency").status_code == 401
