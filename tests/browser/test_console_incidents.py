"""A district blackout on the console: one incident line on the board and the fleet view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from care_api.domain.model import ReportType
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, log_in, operator_token
from tests.fleet.support import Reporter
from tests.helpers import seed_elder


def test_console_shows_a_district_blackout_as_one_incident_growing_live(
    live_console: LiveConsole, page: Page, screenshot: Callable[[str], Path]
) -> None:
    live = live_console
    fleet = []
    for i in range(30):
        seed_elder(live.services, f"T{3000 + i}", contacts=1, district="Huangpu")
        fleet.append(Reporter(live.services, f"T{3000 + i}"))
    for term in fleet[:12]:
        term.send(ReportType.POWER, state="lost")

    log_in(page, operator_token(live))
    card = page.locator("#incidents")
    expect(card).to_contain_text("Mains power lost", timeout=UI_TIMEOUT_MS)
    expect(card).to_contain_text("district Huangpu")
    expect(card.locator("td.terminals")).to_have_text("12")
    expect(page.locator("#board-open")).to_contain_text("No open cases.")  # folded, none each

    for term in fleet[12:]:
        term.send(ReportType.POWER, state="lost")
    expect(card.locator("td.terminals")).to_have_text("30", timeout=UI_TIMEOUT_MS)  # live
    screenshot("30-board-incident")

    page.goto("/#/fleet")
    expect(page.locator("#incidents td.terminals")).to_have_text("30", timeout=UI_TIMEOUT_MS)
