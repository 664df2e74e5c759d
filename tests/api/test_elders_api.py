"""Elders and contacts over HTTP: create, read, patch, validation, who may see what."""

from __future__ import annotations

import pytest
from sqlmodel import select

from care_api.services import Services
from care_api.store.tables import Contact, Elder
from tests.api.support import ADMIN, TestClient, mint

WANG = {
    "name": "Wang Fang",
    "phone": "+86 138-0000-0000",
    "address": "12 Bamboo Lane",
    "lat": 29.08,
    "lon": 119.65,
    "medical_notes": "diabetic; insulin in the fridge",
    "keymap_override": {"main:single": "care"},
}


def create(api: TestClient, **changes: object) -> dict[str, object]:
    resp = api.post("/api/v1/elders", json={**WANG, **changes}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    body: dict[str, object] = resp.json()
    return body


def elder_rows(services: Services) -> list[tuple[str, str]]:
    """(name, medical notes) of every stored elder."""
    with services.uow() as uow:
        return [(e.name, e.medical_notes) for e in uow.session.exec(select(Elder)).all()]


def test_elders_create_then_get_returns_the_profile(api: TestClient) -> None:
    created = create(api)
    got = api.get(f"/api/v1/elders/{created['id']}", headers=ADMIN)
    assert got.status_code == 200
    body = got.json()
    assert body == created
    assert {k: body[k] for k in WANG} == {**WANG, "phone": "+8613800000000"}  # E.164
    assert body["created_at"] == "2026-11-22T08:00:00+00:00"


def test_elders_patch_changes_only_what_is_sent(api: TestClient) -> None:
    elder_id = create(api)["id"]
    resp = api.patch(f"/api/v1/elders/{elder_id}", json={"phone": "+8613900000001"}, headers=ADMIN)
    assert resp.status_code == 200
    body = api.get(f"/api/v1/elders/{elder_id}", headers=ADMIN).json()
    assert body["phone"] == "+8613900000001"
    assert {k: body[k] for k in WANG if k != "phone"} == {
        k: v for k, v in WANG.items() if k != "phone"
    }


def test_phones_are_stored_in_e164_and_invalid_ones_refused_with_422(
    api: TestClient, services: Services
) -> None:
    elder_id = create(api, phone="138 0000 0000")["id"]  # local input: the centre's region
    contact = {"name": "Li Na", "phone": "0086 139 0000 0001", "relation": "daughter"}
    added = api.post(f"/api/v1/elders/{elder_id}/contacts", json=contact, headers=ADMIN)
    assert added.status_code == 201, added.text
    assert added.json()["phone"] == "+8613900000001"

    for bad in ("+1 390 000 0001", "+86 138", "12345"):
        wrong = api.post(
            f"/api/v1/elders/{elder_id}/contacts", json={**contact, "phone": bad}, headers=ADMIN
        )
        assert wrong.status_code == 422, wrong.text
        assert wrong.json() == {"detail": f"phone {bad!r} is not a valid phone number"}
        patched = api.patch(f"/api/v1/elders/{elder_id}", json={"phone": bad}, headers=ADMIN)
        assert patched.status_code == 422, patched.text
    with services.uow() as uow:
        assert [c.phone for c in uow.session.exec(select(Contact)).all()] == ["+8613900000001"]
        assert [e.phone for e in uow.session.exec(select(Elder)).all()] == ["+8613800000000"]


def test_elders_patch_null_clears_location_and_keymap(api: TestClient) -> None:
    elder_id = create(api)["id"]
    resp = api.patch(
        f"/api/v1/elders/{elder_id}",
        json={"lat": None, "lon": None, "keymap_override": None},
        headers=ADMIN,
    )
    assert resp.status_code == 200
    assert (resp.json()["lat"], resp.json()["lon"], resp.json()["keymap_override"]) == (None,) * 3
    assert resp.json()["name"] == WANG["name"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"phone": "call me"}, "phone"),
        ({"lat": 90.5}, "lat"),
        ({"lon": -181}, "lon"),
        ({"medical_notes": "n" * 4001}, "medical_notes"),
        ({"keymap_override": {"main": "care"}}, "keymap_override"),
        ({"keymap_override": {"main:single": "pizza"}}, "keymap_override"),
    ],
)
def test_elders_bad_body_is_422_naming_the_field_and_writes_nothing(
    api: TestClient, services: Services, changes: dict[str, object], field: str
) -> None:
    resp = api.post("/api/v1/elders", json={**WANG, **changes}, headers=ADMIN)
    assert resp.status_code == 422
    assert [e["loc"] for e in resp.json()["detail"]] == [["body", field]]
    assert elder_rows(services) == []


def test_elders_missing_required_field_is_422(api: TestClient, services: Services) -> None:
    resp = api.post("/api/v1/elders", json={"name": "No Phone"}, headers=ADMIN)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "phone"]
    assert elder_rows(services) == []


@pytest.mark.parametrize("patch", [{"name": None}, {"medical_notes": None}, {"nmae": "typo"}])
def test_elders_bad_patch_is_422_and_changes_nothing(
    api: TestClient, services: Services, patch: dict[str, object]
) -> None:
    elder_id = create(api)["id"]
    resp = api.patch(f"/api/v1/elders/{elder_id}", json=patch, headers=ADMIN)
    assert resp.status_code == 422
    assert resp.json()["detail"]
    assert elder_rows(services) == [(WANG["name"], WANG["medical_notes"])]


def test_elders_unknown_id_is_404(api: TestClient) -> None:
    assert api.get("/api/v1/elders/999", headers=ADMIN).json() == {"detail": "elder 999 not found"}
    assert api.patch("/api/v1/elders/999", json={}, headers=ADMIN).status_code == 404


def test_elders_contacts_added_and_listed_first_to_alert_first(
    api: TestClient, services: Services
) -> None:
    elder_id = create(api)["id"]
    for name, priority in (("Son", 2), ("Daughter", 1)):
        resp = api.post(
            f"/api/v1/elders/{elder_id}/contacts",
            json={
                "name": name,
                "phone": "+8613911112222",
                "relation": "child",
                "priority": priority,
            },
            headers=ADMIN,
        )
        assert resp.status_code == 201
        assert resp.json()["elder_id"] == elder_id
    listed = api.get(f"/api/v1/elders/{elder_id}/contacts", headers=ADMIN).json()
    assert [(c["name"], c["priority"]) for c in listed] == [("Daughter", 1), ("Son", 2)]
    with services.uow() as uow:
        assert len(uow.session.exec(select(Contact)).all()) == 2


def test_elders_contact_bad_priority_422_and_missing_elder_404(api: TestClient) -> None:
    elder_id = create(api)["id"]
    contact = {"name": "Son", "phone": "+8613911112222", "priority": 0}
    assert (
        api.post(f"/api/v1/elders/{elder_id}/contacts", json=contact, headers=ADMIN).status_code
        == 422
    )
    contact["priority"] = 1
    assert api.post("/api/v1/elders/999/contacts", json=contact, headers=ADMIN).status_code == 404


def test_elders_caregiver_sees_their_elder_and_not_another(api: TestClient) -> None:
    mine, other = create(api)["id"], create(api, name="Li Ming")["id"]
    caregiver = mint(api, "caregiver", "Wang Jun", elder_ids=[mine])
    own = api.get(f"/api/v1/elders/{mine}", headers=caregiver)
    assert own.status_code == 200
    assert own.json()["medical_notes"] == WANG["medical_notes"]
    assert api.get(f"/api/v1/elders/{mine}/contacts", headers=caregiver).status_code == 200
    # Another elder's profile answers exactly like a missing one: its existence does not leak.
    assert api.get(f"/api/v1/elders/{other}", headers=caregiver).json() == {
        "detail": f"elder {other} not found"
    }
    assert api.get(f"/api/v1/elders/{other}/contacts", headers=caregiver).status_code == 404
    assert api.get("/api/v1/elders/999", headers=caregiver).status_code == 404


def test_elders_caregiver_may_not_create_or_change(api: TestClient) -> None:
    elder_id = create(api)["id"]
    caregiver = mint(api, "caregiver", elder_ids=[elder_id])
    assert api.post("/api/v1/elders", json=WANG, headers=caregiver).status_code == 403
    resp = api.patch(f"/api/v1/elders/{elder_id}", json={"name": "X"}, headers=caregiver)
    assert resp.status_code == 403


@pytest.mark.parametrize("role", ["volunteer", "merchant"])
def test_elders_volunteer_and_merchant_are_refused_profiles(api: TestClient, role: str) -> None:
    elder_id = create(api)["id"]
    resp = api.get(f"/api/v1/elders/{elder_id}", headers=mint(api, role))
    assert resp.status_code == 403
    assert "may not" in resp.json()["detail"]


def test_elders_operator_creates_and_changes_profiles(api: TestClient) -> None:
    operator = mint(api, "operator", "Operator Zhao")
    resp = api.post("/api/v1/elders", json=WANG, headers=operator)
    assert resp.status_code == 201
    elder_id = resp.json()["id"]
    resp = api.patch(f"/api/v1/elders/{elder_id}", json={"address": "3 Pine Rd"}, headers=operator)
    assert resp.json()["address"] == "3 Pine Rd"


def test_elders_without_token_is_401_with_bearer_challenge(api: TestClient) -> None:
    resp = api.post("/api/v1/elders", json=WANG)
    assert resp.status_code == 401
    assert resp.json() == {"detail": "not authenticated"}
    assert resp.headers["www-authenticate"] == "Bearer"


def _directory(api: TestClient, headers: dict[str, str] = ADMIN, **query: object) -> list[str]:
    resp = api.get("/api/v1/elders", params=query, headers=headers)
    assert resp.status_code == 200, resp.text
    return [e["name"] for e in resp.json()]


def test_elders_directory_finds_by_name_phone_digits_or_terminal_and_pages(
    api: TestClient,
) -> None:
    wang = create(api)["id"]
    create(api, name="Li Ming", phone="+8613911112222")
    create(api, name="Zhao 50%_off", phone="+8613700000000")
    device = {"device_id": "T7001", "elder_id": wang}
    assert api.post("/api/v1/devices", json=device, headers=ADMIN).status_code == 201

    assert _directory(api) == ["Li Ming", "Wang Fang", "Zhao 50%_off"]
    assert _directory(api, q="wang") == ["Wang Fang"]
    # The digits of the phone (typed "+86 138-0000-0000", stored in E.164).
    assert _directory(api, q="13800000000") == ["Wang Fang"]
    assert _directory(api, q="1391111") == ["Li Ming"]
    assert _directory(api, q="t70") == ["Wang Fang"]
    # % and _ are the operator's text, not wildcards.
    assert _directory(api, q="%") == ["Zhao 50%_off"]
    assert _directory(api, q="nobody") == []
    assert _directory(api, limit=2) == ["Li Ming", "Wang Fang"]
    assert _directory(api, limit=2, offset=2) == ["Zhao 50%_off"]
    [listed] = api.get("/api/v1/elders", params={"q": "T7001"}, headers=ADMIN).json()
    assert listed == {
        "id": wang,
        "name": "Wang Fang",
        "phone": "+8613800000000",  # stored in E.164, whatever was typed
        "district": "",
        "devices": ["T7001"],
    }


def test_elders_directory_is_for_staff_bounded_and_audited(api: TestClient) -> None:
    elder_id = create(api)["id"]
    caregiver = mint(api, "caregiver", elder_ids=[elder_id])
    assert api.get("/api/v1/elders", headers=caregiver).status_code == 403
    assert api.get("/api/v1/elders", params={"limit": 201}, headers=ADMIN).status_code == 422
    assert api.get("/api/v1/elders", params={"q": "x" * 201}, headers=ADMIN).status_code == 422
    operator = mint(api, "operator", "Operator Zhao")
    assert _directory(api, operator, q="Wang") == ["Wang Fang"]
    rows = api.get("/api/v1/audit", params={"elder_id": elder_id}, headers=ADMIN).json()
    # The admin's own registration is audited too; the directory read is the operator's.
    assert [(r["actor"], r["what"], r["route"]) for r in rows if r["what"] == "elder_list"] == [
        ("operator:Operator Zhao", "elder_list", "GET /api/v1/elders")
    ]
