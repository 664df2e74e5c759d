"""The case view's wellness card (issue 9) in a real Chromium: check-in windows, quiet watch."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "playwright.sync_api", reason="playwright is missing: `pip install playwright` (make test)"
)
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, Shot, log_in, operator_token, press_button
from tests.helpers import seed_elder


def test_operator_adds_a_check_in_window_and_starts_the_quiet_watch(
    live_console: LiveConsole, page: Page, screenshot: Shot
) -> None:
    live = live_console
    seed_elder(live.services, "T1001")
    log_in(page, operator_token(live))
    case_id = press_button(live, "T1001", seq=1, pattern="double")
    page.goto(f"/#/case/{case_id}")
    card = page.locator("#wellness-card")
    expect(card).to_contain_text("No check-in window.", timeout=UI_TIMEOUT_MS)

    page.fill("#checkin-start", "08:00")
    page.fill("#checkin-end", "10:00")
    page.click("#checkin-form button[type=submit]")
    expect(page.locator("#checkin-table")).to_contain_text("08:00–10:00", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#checkin-table")).to_contain_text("from the next one")

    page.click("#quiet-start")
    expect(page.locator("#quiet-state")).to_contain_text("after 13 h", timeout=UI_TIMEOUT_MS)
    screenshot("10-wellness")
    page.click("#quiet-stop")
    expect(page.locator("#quiet-state")).to_have_text("Not watched.", timeout=UI_TIMEOUT_MS)
