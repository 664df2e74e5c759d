"""The console shows Contact ID codes, drill cases and info-only contacts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from care_api.usecases.people.registry import add_contact
from care_api.usecases.schedules.drills import start_drill
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, log_in, operator_token, press_button
from tests.helpers import seed_elder


def test_console_shows_codes_drills_and_info_only_contacts(
    live_console: LiveConsole, page: Page, screenshot: Callable[[str], Path]
) -> None:
    live = live_console
    wang, _ = seed_elder(live.services, "T1001", contacts=1)
    seed_elder(live.services, "T1002", name="Li Ming", contacts=1)
    with live.services.uow() as uow:
        son = {"name": "Wang Lei", "phone": "+447911123456", "notify_only": True}
        add_contact(uow.session, wang, son)
        start_drill(
            uow.session, device_id="T1002", district=None, note="", by="t", now=live.clock.now()
        )
        uow.commit()
    log_in(page, operator_token(live))

    real = press_button(live, "T1001", seq=1, pattern="long")
    drill = press_button(live, "T1002", seq=1, pattern="long")
    real_row = page.locator(f"tr.case-row[data-case-id='{real}']")
    drill_row = page.locator(f"tr.case-row[data-case-id='{drill}']")
    expect(real_row.locator(".badge.cid")).to_have_text("CID 1101", timeout=UI_TIMEOUT_MS)
    expect(real_row.locator(".badge.drill")).to_have_count(0)
    expect(drill_row.locator(".badge.drill")).to_have_text("DRILL", timeout=UI_TIMEOUT_MS)
    screenshot("issue9-01-board-codes-drill")

    real_row.click()
    head = page.locator(".case-head")
    expect(head.locator(".badge.cid")).to_have_attribute("data-cid", "1101", timeout=UI_TIMEOUT_MS)
    expect(head.locator(".badge.cid")).to_have_attribute(
        "title", "Contact ID 1101: Personal emergency"
    )
    expect(page.locator("#elder-card .badge.info-only")).to_have_text("info only")
    screenshot("issue9-02-case-codes-info-only")
    page.click("#lang")  # 中文
    info_only = page.locator("#elder-card .badge.info-only")
    expect(info_only).to_have_text("仅告知", timeout=UI_TIMEOUT_MS)
    expect(head.locator(".badge.cid")).to_have_attribute(
        "title", "Contact ID 代码 1101：个人紧急求助"
    )


def test_figures_page_switches_between_real_and_drill_figures(
    live_console: LiveConsole, page: Page, screenshot: Callable[[str], Path]
) -> None:
    live = live_console
    seed_elder(live.services, "T1001", contacts=1)
    seed_elder(live.services, "T1002", name="Li Ming", contacts=1, district="Wucheng")
    seed_elder(live.services, "T1003", name="Zhang Wei", contacts=1)
    seed_elder(live.services, "T1004", name="Chen Hua", contacts=1, district="Wucheng")
    seed_elder(live.services, "T1005", name="Zhou Min", contacts=1)
    with live.services.uow() as uow:
        start_drill(
            uow.session, device_id=None, district="Wucheng", note="", by="t", now=live.clock.now()
        )
        uow.commit()
    press_button(live, "T1001", seq=1, pattern="long")  # real
    press_button(live, "T1003", seq=1, pattern="long")  # real
    press_button(live, "T1005", seq=1, pattern="single")  # real
    press_button(live, "T1002", seq=1, pattern="long")  # drill
    log_in(page, operator_token(live))

    page.click("[data-route=kpi]")
    figures = page.locator(".kpi")
    total = page.locator("#kpi-total .value")
    banner = page.locator("#kpi-drill-banner")
    expect(total).to_have_text("3", timeout=UI_TIMEOUT_MS)
    expect(figures).to_have_attribute("data-mode", "real")
    expect(page.locator(".mode-switch [data-mode=real]")).to_have_attribute("aria-pressed", "true")
    expect(banner).to_have_count(0)

    page.click(".mode-switch [data-mode=drill]")
    expect(banner).to_have_text(
        "Drill figures — not real cases. Only cases opened by terminals in test mode are counted"
        " here; the centre's real figures are under “Real cases”.",
        timeout=UI_TIMEOUT_MS,
    )
    expect(figures).to_have_attribute("data-mode", "drill")
    expect(total).to_have_text("1")
    expect(page.locator(".mode-switch [data-mode=drill]")).to_have_attribute("aria-pressed", "true")
    # A new drill press reloads the drill figures, not the real ones, under the banner.
    press_button(live, "T1004", seq=1, pattern="long")
    expect(total).to_have_text("2", timeout=UI_TIMEOUT_MS)
    expect(figures).to_have_attribute("data-mode", "drill")
    expect(banner).to_be_visible()
    screenshot("issue9-03-kpi-drill")

    page.click(".mode-switch [data-mode=real]")
    expect(banner).to_have_count(0, timeout=UI_TIMEOUT_MS)
    expect(figures).to_have_attribute("data-mode", "real")
    expect(total).to_have_text("3")

    page.click("#lang")  # 中文: the view starts again on the real figures
    real_button = page.locator(".mode-switch [data-mode=real]")
    expect(real_button).to_have_text("实际", timeout=UI_TIMEOUT_MS)
    page.click(".mode-switch [data-mode=drill]")
    expect(banner).to_contain_text("演练数据，并非真实案件。", timeout=UI_TIMEOUT_MS)
    expect(total).to_have_text("2")
    screenshot("issue9-04-kpi-drill-zh")
