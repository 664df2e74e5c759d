"""Tokens over HTTP: the admin mints and revokes; unknown, revoked and expired tokens get 401."""

from __future__ import annotations

import pytest
from sqlmodel import select

from care_api.services import Services
from care_api.store.tables import ApiToken
from care_api.usecases.people.credentials import hash_secret
from tests.api.support import ADMIN, TestClient, bearer, mint
from tests.fakes import FakeClock
from tests.helpers import seed_elder

ELDER = {"name": "Wang Fang", "phone": "+8613800000000"}


def test_tokens_admin_mints_token_shown_once_and_stored_as_hash(
    api: TestClient, services: Services
) -> None:
    elder_id, _ = seed_elder(services)
    resp = api.post(
        "/api/v1/tokens",
        json={
            "role": "caregiver",
            "name": "Wang Jun",
            "elder_ids": [elder_id],
            "expires_in_days": 30,
        },
        headers=ADMIN,
    )
    assert resp.status_code == 201
    body = resp.json()
    assert (body["role"], body["name"]) == ("caregiver", "Wang Jun")
    assert body["expires_at"] == "2026-12-22T08:00:00+00:00"
    with services.uow() as uow:
        rows = uow.session.exec(select(ApiToken)).all()
        assert [(r.token_hash, r.elder_ids) for r in rows] == [
            (hash_secret(body["token"]), [elder_id])
        ]
        assert body["token"] not in {str(v) for v in rows[0].model_dump().values()}


def test_tokens_operator_token_works_and_may_not_mint(api: TestClient) -> None:
    operator = mint(api, "operator", "Operator Zhao")
    assert api.post("/api/v1/elders", json=ELDER, headers=operator).status_code == 201
    resp = api.post("/api/v1/tokens", json={"role": "admin", "name": "me"}, headers=operator)
    assert resp.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"role": "janitor", "name": "x"},
        {"role": "operator", "name": ""},
        {"role": "operator", "name": "x" * 81},
        {"role": "operator", "name": "x", "expires_in_days": 0},
        {"role": "caregiver", "name": "x", "elder_ids": [999]},
    ],
)
def test_tokens_bad_mint_is_422_and_writes_nothing(
    api: TestClient, services: Services, body: dict[str, object]
) -> None:
    resp = api.post("/api/v1/tokens", json=body, headers=ADMIN)
    assert resp.status_code == 422
    assert resp.json()["detail"]
    with services.uow() as uow:
        assert uow.session.exec(select(ApiToken)).all() == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
    ],
)
def test_tokens_missing_or_unknown_token_is_401(api: TestClient, headers: dict[str, str]) -> None:
    resp = api.get("/api/v1/cases", headers=headers)
    assert resp.status_code == 401
    assert resp.json() == {"detail": "not authenticated"}
    assert resp.headers["www-authenticate"] == "Bearer"


def test_tokens_revoked_token_is_401_at_once(api: TestClient) -> None:
    resp = api.post("/api/v1/tokens", json={"role": "operator", "name": "Zhao"}, headers=ADMIN)
    token_id, operator = resp.json()["id"], bearer(resp.json()["token"])
    assert api.get("/api/v1/cases", headers=operator).status_code == 200
    assert api.delete(f"/api/v1/tokens/{token_id}", headers=ADMIN).status_code == 204
    assert api.get("/api/v1/cases", headers=operator).status_code == 401
    # Revoking again is harmless; an unknown token is 404.
    assert api.delete(f"/api/v1/tokens/{token_id}", headers=ADMIN).status_code == 204
    assert api.delete("/api/v1/tokens/999", headers=ADMIN).status_code == 404


def test_tokens_only_admin_revokes(api: TestClient) -> None:
    resp = api.post("/api/v1/tokens", json={"role": "operator", "name": "Zhao"}, headers=ADMIN)
    operator = bearer(resp.json()["token"])
    assert api.delete(f"/api/v1/tokens/{resp.json()['id']}", headers=operator).status_code == 403


def test_tokens_expired_token_is_401(api: TestClient, clock: FakeClock) -> None:
    operator = mint(api, "operator", expires_in_days=1)
    assert api.get("/api/v1/cases", headers=operator).status_code == 200
    clock.advance(days=1)
    assert api.get("/api/v1/cases", headers=operator).status_code == 401
