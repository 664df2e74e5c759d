"""The elder form's watch flags in a real Chromium: wandering, and a case for a watch left off."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlmodel import select

from care_api.store.tables import Elder
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, log_in, operator_token
from tests.helpers import seed_elder


def test_an_operator_flags_an_elder_for_wandering_and_for_a_watch_left_off(
    live_console: LiveConsole, page: Page
) -> None:
    live = live_console
    elder_id, _ = seed_elder(live.services, "T1001")
    log_in(page, operator_token(live))
    page.goto(f"/#/elder/{elder_id}")
    wanders = page.locator("#elder-wanders")
    expect(wanders).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(wanders).not_to_be_checked()
    wanders.check()
    page.locator("#elder-taken_off_case").check()
    page.click("#elder-form-submit")
    expect(page.locator("#toast")).to_contain_text("saved", timeout=UI_TIMEOUT_MS)
    with live.services.uow() as uow:
        elder = uow.session.exec(select(Elder)).one()
        assert (elder.wanders, elder.taken_off_case) == (True, True)
    page.reload()
    expect(page.locator("#elder-wanders")).to_be_checked(timeout=UI_TIMEOUT_MS)
