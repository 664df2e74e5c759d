"""Each person's language over HTTP: elders, contacts, volunteers, merchants."""

from __future__ import annotations

import pytest

from tests.api.support import ADMIN, TestClient

ELDER = {"name": "Wang Fang", "phone": "+8613800000000", "address": "12 Bamboo Lane"}


def test_languages_a_person_without_one_gets_none_the_centres(api: TestClient) -> None:
    elder = api.post("/api/v1/elders", json=ELDER, headers=ADMIN).json()
    assert elder["language"] is None


def test_languages_tags_are_normalised_and_kept(api: TestClient) -> None:
    elder = api.post("/api/v1/elders", json={**ELDER, "language": "zh-Hans"}, headers=ADMIN)
    assert elder.json()["language"] == "zh-CN"
    eid = elder.json()["id"]
    contact = api.post(
        f"/api/v1/elders/{eid}/contacts",
        json={"name": "Tom", "phone": "+447911123457", "language": "en-GB"},
        headers=ADMIN,
    )
    assert contact.json()["language"] == "en"
    patched = api.patch(f"/api/v1/elders/{eid}", json={"language": "en"}, headers=ADMIN)
    assert patched.json()["language"] == "en"
    volunteer = api.post(
        "/api/v1/volunteers",
        json={"name": "Li", "phone": "+8613900000009", "lat": 29.0, "lon": 119.6, "language": "zh"},
        headers=ADMIN,
    )
    assert volunteer.json()["language"] == "zh-CN"
    merchant = api.post(
        "/api/v1/merchants",
        json={
            "name": "Fix-it",
            "phone": "+8613900000010",
            "categories": ["repair"],
            "language": "en",
        },
        headers=ADMIN,
    )
    assert merchant.json()["language"] == "en"


@pytest.mark.parametrize("tag", ["fr", "xx-YY", ""])
def test_languages_one_the_service_does_not_speak_is_422_and_writes_nothing(
    api: TestClient, tag: str
) -> None:
    answer = api.post("/api/v1/elders", json={**ELDER, "language": tag}, headers=ADMIN)
    assert answer.status_code == 422
    assert api.get("/api/v1/elders/1", headers=ADMIN).status_code == 404
