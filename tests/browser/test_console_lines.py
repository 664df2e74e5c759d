"""The console shows each case's service line and lets the operator set it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from care_api.usecases.intake.reports import record_device_report
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, log_in, operator_token
from tests.helpers import press, seed_elder


def press_key(live: LiveConsole, seq: int, button: str, pattern: str = "single") -> str:
    report = press("T1001", seq=seq, pattern=pattern, button=button)
    outcome = record_device_report(
        live.services.uow, report, now=live.clock.now(), tz=live.services.tz
    )
    assert outcome.case_id is not None
    return outcome.case_id


def test_console_shows_the_line_and_the_call_back_sets_it(
    live_console: LiveConsole, page: Page, screenshot: Callable[[str], Path]
) -> None:
    live = live_console
    seed_elder(live.services, "T1001", contacts=1)
    legal = press_key(live, 1, "legal")
    single = press_key(live, 2, "main")
    log_in(page, operator_token(live))

    legal_row = page.locator(f"tr.case-row[data-case-id='{legal}']")
    single_row = page.locator(f"tr.case-row[data-case-id='{single}']")
    expect(legal_row.locator(".badge.line")).to_have_text("Legal help", timeout=UI_TIMEOUT_MS)
    expect(single_row.locator(".badge.line")).to_have_text("Life care")
    screenshot("lines-01-board")

    single_row.click()
    page.select_option("#reclass-kind", "")  # keep the kind: the line decides it
    page.select_option("#reclass-line", "care_home")
    page.fill("#reclass-note", "asks which homes take dementia")
    page.click("#act-reclassify")
    head = page.locator(".case-head")
    expect(head.locator(".badge.line")).to_have_text("Care-home advice", timeout=UI_TIMEOUT_MS)
    expect(head.locator(".badge.kind")).to_have_text("Consultation")
    screenshot("lines-02-case-set-line")
    page.click("#lang")  # 中文
    expect(head.locator(".badge.line")).to_have_text("养老机构咨询", timeout=UI_TIMEOUT_MS)
