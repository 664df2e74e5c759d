"""Onboarding in a real Chromium at 1280×720: password sign-in, lockout, the import page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func
from sqlmodel import select

from care_api.store.tables import Contact, Device, Elder
from care_api.usecases.people.staff import add_user
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS
from tests.onboarding.sheets import BAD, GOOD, as_csv, as_xlsx

Shot = Callable[[str], Path]
DESK = {"width": 1280, "height": 720}
PASSWORD = "night shift 2026"


@pytest.fixture
def desk(page: Page) -> Page:
    page.set_viewport_size(DESK)
    return page


def _user(live: LiveConsole, username: str, role: str) -> None:
    with live.services.uow() as uow:
        add_user(uow.session, username=username, role=role, password=PASSWORD, now=live.clock.now())
        uow.commit()


def _count(live: LiveConsole, table: type) -> int:
    with live.services.uow() as uow:
        return int(uow.session.exec(select(func.count()).select_from(table)).one())


def _sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#password-submit")


def _fits(page: Page) -> None:
    # Nothing wider than the desk's screen: no sideways scrolling, no clipped columns.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= DESK["width"], width


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_admin_signs_in_with_a_password_and_imports_a_sheet_with_three_bad_rows(
    live_console: LiveConsole, desk: Page, screenshot: Shot, tmp_path: Path, lang: str
) -> None:
    live, page = live_console, desk
    _user(live, "wang.admin", "admin")
    page.goto("/")
    if lang == "zh":
        # The button listens once the app has started: a click before is lost.
        expect(page.locator("#lang")).to_have_text("中文", timeout=UI_TIMEOUT_MS)
        page.click("#lang")
    expect(page.locator("#password-submit")).to_be_visible()
    screenshot(f"50-login-password-{lang}")
    _sign_in(page, "wang.admin")
    expect(page.locator("#board-open")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=UI_TIMEOUT_MS)
    # The session lives in an HttpOnly cookie: the page's script cannot read it.
    assert page.evaluate("document.cookie") == ""
    cookie = next(c for c in page.context.cookies() if c["name"] == "vnh_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.click("[data-route=imports]")
    bad = tmp_path / "register.xlsx"
    bad.write_bytes(as_xlsx(GOOD + BAD))
    page.set_input_files("#import-file", str(bad))
    problems = page.locator("#import-problems tbody tr")
    expect(problems).to_have_count(4, timeout=UI_TIMEOUT_MS)
    expect(problems.nth(0).locator("td").nth(0)).to_have_text("5")
    required = "phone is required" if lang == "en" else "必须填写 phone"
    expect(problems.nth(0).locator("td").nth(2)).to_have_text(required)
    expect(page.locator("#import-confirm")).to_have_count(0)  # no way to save a bad file
    _fits(page)
    screenshot(f"51-import-bad-rows-{lang}")
    assert _count(live, Elder) == 0

    good = tmp_path / "register.csv"
    good.write_bytes(as_csv(GOOD))
    page.set_input_files("#import-file", str(good))
    expect(page.locator("#import-confirm")).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert _count(live, Elder) == 0  # the preview wrote nothing
    screenshot(f"52-import-preview-{lang}")
    page.click("#import-confirm")
    expect(page.locator("#import-secrets")).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert (_count(live, Elder), _count(live, Contact), _count(live, Device)) == (3, 3, 2)
    screenshot(f"53-import-done-{lang}")
    with page.expect_download() as download:
        page.click("#import-secrets")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "device_id,secret" and len(lines) == 3

    # The same file again: nothing new, nothing to confirm.
    page.click("#import-check")
    expect(page.locator("#import-nothing")).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert _count(live, Elder) == 3

    page.click("#logout")
    expect(page.locator("#password-submit")).to_be_visible()
    page.goto("/#/board")
    expect(page.locator("#password-submit")).to_be_visible()


def test_an_operator_cannot_import_and_a_locked_username_is_told(
    live_console: LiveConsole, desk: Page, screenshot: Shot
) -> None:
    live, page = live_console, desk
    _user(live, "zhao.op", "operator")
    page.goto("/")
    for _ in range(5):
        _sign_in(page, "zhao.op", "not the password")
        expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    _sign_in(page, "zhao.op")
    expect(page.locator("#login-error")).to_contain_text("locked for 15 minutes")
    screenshot("54-login-locked-en")
    live.clock.advance(minutes=16)
    _sign_in(page, "zhao.op")
    expect(page.locator("#board-open")).to_be_visible(timeout=UI_TIMEOUT_MS)

    expect(page.locator("[data-route=imports]")).to_be_hidden()
    page.goto("/#/imports")
    expect(page.locator("#import-admin-only")).to_have_text("Only an administrator can import.")
    expect(page.locator("#import-file")).to_have_count(0)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_admin_adds_an_operator_and_resets_their_password(
    live_console: LiveConsole, browser: Browser, desk: Page, screenshot: Shot, lang: str
) -> None:
    live, page = live_console, desk
    _user(live, "wang.admin", "admin")
    page.goto("/")
    if lang == "zh":
        # The button listens once the app has started: a click before is lost.
        expect(page.locator("#lang")).to_have_text("中文", timeout=UI_TIMEOUT_MS)
        page.click("#lang")
    _sign_in(page, "wang.admin")
    page.click("[data-route=users]")
    page.fill("#user-username", "li.na")
    page.fill("#user-name", "Li Na")
    page.fill("#user-password", "short")
    page.click("#user-form-submit")
    expect(page.locator("#user-password-error")).not_to_be_empty(timeout=UI_TIMEOUT_MS)
    page.fill("#user-password", PASSWORD)
    page.click("#user-form-submit")
    expect(page.locator("#users-table tr[data-username='li.na']")).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )

    # Li Na signs in elsewhere; the admin resets her password, which ends that session.
    other = browser.new_context(base_url=live.base_url, viewport=DESK)
    try:
        tab = other.new_page()
        tab.goto("/")
        _sign_in(tab, "li.na")
        expect(tab.locator("#login-error")).to_have_text("", timeout=UI_TIMEOUT_MS)
        expect(tab.locator("#board-open")).to_be_visible(timeout=UI_TIMEOUT_MS)
        page.click("#users-table tr[data-username='li.na'] [data-action=reset]")
        page.fill("#user-reset-password", "a new password 1")
        screenshot(f"55-users-reset-{lang}")
        page.click("#user-reset-submit")
        expect(page.locator("form#user-reset")).to_have_count(0, timeout=UI_TIMEOUT_MS)
        _fits(page)
        tab.goto("/#/elders")
        expect(tab.locator("#password-submit")).to_be_visible(timeout=UI_TIMEOUT_MS)
        _sign_in(tab, "li.na", "a new password 1")  # back where she was: the elders
        expect(tab.locator("#elder-none")).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(tab.locator("[data-route=users]")).to_be_hidden()  # an operator: no staff page
    finally:
        other.close()


def test_switching_language_at_the_login_keeps_what_was_typed(
    live_console: LiveConsole, desk: Page
) -> None:
    page = desk
    page.goto("/")
    title = page.locator("#login-password h1")
    expect(title).not_to_be_empty(timeout=UI_TIMEOUT_MS)
    before = title.text_content()
    page.fill("#username", "wang.admin")
    page.fill("#password", PASSWORD)

    page.click("#lang")

    expect(title).not_to_have_text(before or "", timeout=UI_TIMEOUT_MS)  # redrawn in the other
    expect(page.locator("#username")).to_have_value("wang.admin")
    expect(page.locator("#password")).to_have_value(PASSWORD)
