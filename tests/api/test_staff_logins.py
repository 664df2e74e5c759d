"""Named staff logins: password sign-in, the session cookie, lockout, an admin's reset."""

from __future__ import annotations

import pytest
from sqlmodel import select

from care_api.services import Services
from care_api.settings import Settings
from care_api.store.staff_tables import StaffUser
from care_api.usecases.people.staff import add_user, sign_in, use_password_hash_cost
from tests.api.support import ADMIN, TestClient, mint
from tests.fakes import FakeClock

PASSWORD = "correct horse battery"
CONSOLE = {"X-VNH-Console": "1"}


def _user(services: Services, username: str = "li.na", role: str = "operator") -> int:
    with services.uow() as uow:
        user = add_user(
            uow.session, username=username, role=role, password=PASSWORD, now=services.clock.now()
        )
        uow.commit()
        return user.id or 0


def _login(api: TestClient, password: str = PASSWORD, username: str = "li.na") -> int:
    return api.post(
        "/api/v1/session", json={"username": username, "password": password}
    ).status_code


def test_sign_in_sets_an_httponly_strict_cookie_that_opens_the_api(
    api: TestClient, services: Services
) -> None:
    _user(services)
    response = api.post("/api/v1/session", json={"username": "Li.Na ", "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "operator"
    cookie = response.headers["set-cookie"].lower()
    assert "vnh_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert api.get("/api/v1/devices").status_code == 200
    assert api.get("/api/v1/session").json() == {
        "name": "li.na",
        "role": "operator",
        "expires_at": None,
    }
    with services.uow() as uow:
        stored = uow.session.exec(select(StaffUser.password_hash)).one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_cookie_write_without_the_console_header_is_refused(
    api: TestClient, services: Services
) -> None:
    _user(services)
    assert _login(api) == 200
    body = {"name": "Wang Fang", "phone": "+8613800000001"}
    refused = api.post("/api/v1/elders", json=body)
    assert refused.status_code == 403
    assert "X-VNH-Console" in refused.json()["detail"]
    assert api.post("/api/v1/elders", json=body, headers=CONSOLE).status_code == 201


def test_sign_out_ends_the_session_on_the_server(api: TestClient, services: Services) -> None:
    _user(services)
    _login(api)
    secret = api.cookies.get("vnh_session")
    assert api.delete("/api/v1/session").status_code == 204
    api.cookies.set("vnh_session", secret or "")  # a copy of the cookie kept elsewhere
    assert api.get("/api/v1/devices").status_code == 401


def test_wrong_passwords_lock_the_username_for_15_minutes(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    _user(services)
    for _ in range(5):
        assert _login(api, "wrong password!") == 401
    locked = api.post("/api/v1/session", json={"username": "li.na", "password": PASSWORD})
    assert locked.status_code == 429  # even the right password, not even checked
    assert int(locked.headers["Retry-After"]) == 15 * 60
    clock.advance(minutes=14)
    assert _login(api) == 429
    clock.advance(minutes=1, seconds=1)
    assert _login(api) == 200


def test_failures_spread_over_more_than_15_minutes_do_not_lock(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    _user(services)
    for _ in range(8):
        assert _login(api, "wrong password!") == 401
        clock.advance(minutes=4)
    assert _login(api) == 200


def test_unknown_usernames_get_the_same_answer(api: TestClient, services: Services) -> None:
    _user(services)
    wrong = api.post("/api/v1/session", json={"username": "li.na", "password": "nope"})
    nobody = api.post("/api/v1/session", json={"username": "nobody", "password": "nope"})
    assert (wrong.status_code, wrong.json()) == (nobody.status_code, nobody.json())


def test_an_admin_resets_a_password_ending_sessions_and_the_lockout(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    user_id = _user(services)
    other = TestClient(api.app)
    assert _login(other) == 200
    for _ in range(5):
        _login(api, "wrong password!")
    assert _login(api) == 429
    new = {"password": "a brand new secret"}
    reset = api.post(f"/api/v1/users/{user_id}/password", json=new, headers=ADMIN)
    assert reset.status_code == 200, reset.text
    assert other.get("/api/v1/devices").status_code == 401  # signed out everywhere
    assert _login(api) == 401  # the old password is gone
    clock.advance(seconds=5)  # this address's own backoff (a sixth wrong password) ends
    assert _login(api, new["password"]) == 200


def test_only_an_admin_manages_users(api: TestClient, services: Services) -> None:
    operator = mint(api, "operator", "Zhao")
    body = {"username": "new.op", "role": "operator", "password": PASSWORD}
    assert api.post("/api/v1/users", json=body, headers=operator).status_code == 403
    assert api.get("/api/v1/users", headers=operator).status_code == 403
    user_id = _user(services, "op.one")
    assert (
        api.post(
            f"/api/v1/users/{user_id}/password", json={"password": "x" * 12}, headers=operator
        ).status_code
        == 403
    )
    # An operator signed in with a password is no admin either.
    _login(api, username="op.one")
    assert api.post("/api/v1/users", json=body, headers=CONSOLE).status_code == 403
    created = api.post("/api/v1/users", json=body, headers=ADMIN)
    assert created.status_code == 201
    assert "argon2" not in created.text and PASSWORD not in created.text
    assert api.post("/api/v1/users", json=body, headers=ADMIN).status_code == 409


def test_weak_or_odd_input_is_refused(api: TestClient) -> None:
    for body in (
        {"username": "short.pw", "role": "operator", "password": "123"},
        {"username": "x", "role": "operator", "password": PASSWORD},
        {"username": "vol.one", "role": "volunteer", "password": PASSWORD},
    ):
        assert api.post("/api/v1/users", json=body, headers=ADMIN).status_code == 422, body


def test_a_disabled_user_cannot_sign_in(api: TestClient, services: Services) -> None:
    user_id = _user(services)
    assert api.patch(f"/api/v1/users/{user_id}", json={"active": False}, headers=ADMIN).is_success
    assert _login(api) == 401


def test_docs_work_offline(api: TestClient) -> None:
    import re

    for page in ("/docs", "/redoc"):
        html = api.get(page).text
        urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", html)
        assert urls, html
        assert all(u.startswith("/") for u in urls), urls  # no CDN, no external host
        assert "http://" not in html and "https://" not in html
        for url in urls:
            if url != "/openapi.json":
                assert api.get(url).status_code == 200, url


def test_one_address_guessing_across_usernames_is_slowed_down(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    # Each username stays under its own lockout; the address guessing them all does not.
    answers = [_login(api, "summer2026!", username=f"user{n}") for n in range(7)]
    assert answers[:5] == [401] * 5
    assert answers[6] == 429
    clock.advance(seconds=30)
    _user(services)
    assert _login(api) == 200


def test_production_hashes_at_the_standard_cost_and_upgrades_a_cheaper_hash_on_sign_in(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The suite runs at VNH_PASSWORD_HASH_COST=minimal (tests/conftest.py); a service
    # started without the variable must hash at argon2's standard cost.
    monkeypatch.delenv("VNH_PASSWORD_HASH_COST")
    assert Settings(_env_file=None).password_hash_cost == "standard"  # type: ignore[call-arg]
    _user(services)  # hashed at the suite's minimal cost
    try:
        use_password_hash_cost("standard")
        with services.uow() as uow:
            sign_in(uow.session, "li.na", PASSWORD, now=services.clock.now())
            uow.commit()
    finally:
        use_password_hash_cost(services.settings.password_hash_cost)
    with services.uow() as uow:
        stored = uow.session.exec(select(StaffUser.password_hash)).one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), stored
