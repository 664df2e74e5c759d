"""Single sign-on in a real Chromium at 1280×720, against the local OpenID Connect stand-in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from pydantic import SecretStr

from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.usecases.people.staff import add_user
from tests.browser.conftest import ADMIN_TOKEN
from tests.browser.test_console import UI_TIMEOUT_MS
from tests.fakes import FakeClock
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running_provider

Shot = Callable[[str], Path]
DESK: ViewportSize = {"width": 1280, "height": 720}


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the stand-in is plain HTTP
    with running_provider() as idp:
        yield idp


@pytest.fixture
def browser_services(sqlite_url: str, clock: FakeClock, provider: Provider) -> Iterator[Services]:
    """The browser tests' services with single sign-on set up (overrides conftest's)."""
    settings = Settings(
        database_url=sqlite_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=SecretStr(CLIENT_SECRET),
        _env_file=None,  # type: ignore[call-arg]
    )
    svc = build_services(settings, clock=clock)
    with svc.uow() as uow:
        add_user(uow.session, username="li.na", role="operator", password="x" * 12, now=clock.now())
        uow.commit()
    yield svc
    svc.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_operator_signs_in_through_the_centres_idp(
    page: Page, provider: Provider, screenshot: Shot, lang: str
) -> None:
    page.set_viewport_size(DESK)
    page.goto("/")
    if lang == "zh":
        expect(page.locator("#lang")).to_have_text("中文", timeout=UI_TIMEOUT_MS)
        page.click("#lang")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN", timeout=UI_TIMEOUT_MS)
    button = page.locator("#sso-login")
    expect(button).to_have_text(
        "使用中心统一身份认证登录" if lang == "zh" else "Sign in with the centre's single sign-on",
        timeout=UI_TIMEOUT_MS,
    )
    screenshot(f"56-login-sso-{lang}")

    # The IdP knows someone with no staff login here: back at the login, told why.
    provider.claims = {"preferred_username": "stranger"}
    button.click()
    expect(page.locator("#login-error")).to_contain_text(
        "统一身份认证登录未成功" if lang == "zh" else "Single sign-on did not sign you in",
        timeout=UI_TIMEOUT_MS,
    )
    assert "sso=" not in page.url

    provider.claims = {"preferred_username": "li.na"}
    page.click("#sso-login")
    expect(page.locator("#board-open")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=UI_TIMEOUT_MS)
    assert page.url.endswith("/#/board")
    expect(page.locator("[data-route=users]")).to_be_hidden()  # an operator: no staff page
