"""Without a Twilio account the case page's "Call" stays a tel: link (dial by hand)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, log_in, operator_token, press_button
from tests.helpers import seed_elder


def test_console_call_without_twilio_is_a_tel_link(live_console: LiveConsole, page: Page) -> None:
    seed_elder(live_console.services)
    case_id = press_button(live_console, "T1001", 1, "long")
    log_in(page, operator_token(live_console))
    page.goto(f"/#/case/{case_id}")

    call = page.locator("#act-call")
    expect(call).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(call).to_have_attribute("href", "tel:+8613800000000")
    expect(page.locator("#elder-card a.tel").first).to_have_attribute("href", "tel:+8613800000000")
