"""Single sign-on (OpenID Connect) against a local provider: PKCE, the id_token, who gets in."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from joserfc.jwk import RSAKey
from pydantic import SecretStr

from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.usecases.people.staff import add_user, find_user, set_active
from tests.api.support import TestClient
from tests.fakes import FakeClock
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running_provider

PASSWORD = "correct horse battery"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    # The stand-in speaks plain HTTP on 127.0.0.1; a real IdP is https:// only.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with running_provider() as idp:
        yield idp


@pytest.fixture
def sso(db_url: str, clock: FakeClock, provider: Provider) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=SecretStr(CLIENT_SECRET),
        oidc_email_domain="centre.example",
        _env_file=None,  # type: ignore[call-arg]
    )
    services = build_services(settings, clock=clock)
    with services.uow() as uow:
        for username, role in (("li.na", "operator"), ("wang.admin", "admin")):
            add_user(uow.session, username=username, role=role, password=PASSWORD, now=clock.now())
        uow.commit()
    with TestClient(create_app(services)) as client:
        client.app_services = services  # type: ignore[attr-defined]
        yield client
    services.close()


def _round_trip(api: TestClient) -> str:
    """Console → IdP → callback, as a browser follows the redirects; the final Location."""
    start = api.get("/api/v1/session/sso/login", follow_redirects=False)
    assert start.status_code == 303
    at_idp = requests.get(start.headers["location"], allow_redirects=False, timeout=30)
    assert at_idp.status_code == 302, at_idp.text
    back = urlparse(at_idp.headers["location"])
    done = api.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.status_code == 303
    return str(done.headers["location"])


def test_sso_is_offered_only_when_set_up(api: TestClient, sso: TestClient) -> None:
    assert api.get("/api/v1/session/sso").json() == {"enabled": False}
    assert api.get("/api/v1/session/sso/login", follow_redirects=False).status_code == 404
    assert sso.get("/api/v1/session/sso").json() == {"enabled": True}


def test_sso_signs_in_the_staff_login_the_idp_names_with_pkce(
    sso: TestClient, provider: Provider
) -> None:
    provider.claims = {"preferred_username": "Li.Na"}
    start = sso.get("/api/v1/session/sso/login", follow_redirects=False)
    asked = parse_qs(urlparse(start.headers["location"]).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["nonce"]
    assert asked["redirect_uri"] == ["http://testserver/api/v1/session/sso/callback"]
    assert "vnh_sso_state" in start.headers["set-cookie"]
    at_idp = requests.get(start.headers["location"], allow_redirects=False, timeout=30)
    back = urlparse(at_idp.headers["location"])
    done = sso.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.headers["location"] == "/?sso=ok#/board"
    assert "httponly" in done.headers["set-cookie"].lower()
    assert provider.token_requests[-1]["code_verifier"]  # PKCE's verifier went with the code
    who = sso.get("/api/v1/session")
    assert who.json()["name"] == "li.na" and who.json()["role"] == "operator"
    # The operator is still no admin.
    assert sso.get("/api/v1/users", headers={"X-VNH-Console": "1"}).status_code == 403
    # The code and state were single-use: the same answer again is refused.
    again = sso.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert again.headers["location"] == "/?sso=refused"


def test_sso_a_verified_email_at_the_centres_domain_names_the_login(
    sso: TestClient, provider: Provider
) -> None:
    provider.claims = {"email": "wang.admin@centre.example", "email_verified": True}
    assert _round_trip(sso) == "/?sso=ok#/board"
    assert sso.get("/api/v1/session").json()["role"] == "admin"


@pytest.mark.parametrize(
    "claims",
    [
        {"preferred_username": "nobody.here"},  # no staff login of that name
        {"email": "wang.admin@elsewhere.example", "email_verified": True},  # another domain
        {"email": "wang.admin@centre.example", "email_verified": False},  # unverified
        {},  # names nobody
    ],
)
def test_sso_refuses_who_has_no_staff_login_here(
    sso: TestClient, provider: Provider, claims: dict[str, object]
) -> None:
    provider.claims = claims
    assert _round_trip(sso) == "/?sso=refused"
    assert sso.get("/api/v1/session").status_code == 401


def test_sso_refuses_a_disabled_login(sso: TestClient, provider: Provider) -> None:
    services: Services = sso.app_services  # type: ignore[attr-defined]
    with services.uow() as uow:
        user_id = find_user(uow.session, "li.na").id or 0
        set_active(uow.session, user_id, False, services.clock.now())
        uow.commit()
    provider.claims = {"preferred_username": "li.na"}
    assert _round_trip(sso) == "/?sso=refused"
    assert sso.get("/api/v1/session").status_code == 401


def test_sso_refuses_a_forged_token_a_wrong_nonce_and_another_browser(
    sso: TestClient, provider: Provider
) -> None:
    provider.claims = {"preferred_username": "wang.admin"}
    provider.forge_with = RSAKey.generate_key(2048, {"kid": "test-1"})
    assert _round_trip(sso) == "/?sso=refused"
    provider.forge_with = None
    provider.nonce_override = "replayed-nonce"
    assert _round_trip(sso) == "/?sso=refused"
    provider.nonce_override = None
    # A callback reached without this browser's state cookie (login CSRF) is refused.
    start = sso.get("/api/v1/session/sso/login", follow_redirects=False)
    at_idp = requests.get(start.headers["location"], allow_redirects=False, timeout=30)
    back = urlparse(at_idp.headers["location"])
    sso.cookies.clear()
    done = sso.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.headers["location"] == "/?sso=refused"
    assert sso.get("/api/v1/session").status_code == 401
