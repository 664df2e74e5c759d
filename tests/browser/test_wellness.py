"""The case view's wellness card in a real Chromium: check-in windows, quiet watch."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from care_api.usecases.schedules.checkins import add_window, judge_window
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


def test_a_late_check_in_shows_on_its_case_and_one_click_resolves_it(
    live_console: LiveConsole, page: Page, screenshot: Shot
) -> None:
    live = live_console
    elder, _ = seed_elder(live.services, "T1001")
    tz = live.services.tz
    with live.services.uow() as uow:
        window = add_window(
            uow.session,
            elder,
            start="08:00",
            end="10:00",
            holidays_off=False,
            by="t",
            now=live.clock.now(),
            tz=tz,
        )
        uow.commit()
    # Monday 10:00 in Shanghai: the window closes unkept and its care case opens.
    live.clock.advance(hours=18)
    with live.services.uow() as uow:
        merged = uow.session.merge(window)
        missed = judge_window(uow, merged, closes_at=live.clock.now(), now=live.clock.now(), tz=tz)
        assert missed is not None
        case_id = missed.id
        uow.commit()
    live.clock.advance(minutes=10)
    assert press_button(live, "T1001", seq=1, pattern="single") == case_id

    log_in(page, operator_token(live))
    expect(page.locator(f"tr.case-row[data-case-id='{case_id}'] .flag")).to_have_text(
        "checked in late 10:10", timeout=UI_TIMEOUT_MS
    )
    page.goto(f"/#/case/{case_id}")
    expect(page.locator("#late-checkin")).to_contain_text(
        "The elder checked in late", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#history-card")).to_contain_text("Checked in late")
    expect(page.locator("#history-card")).to_contain_text("Wang Fang checked in late at 10:10")
    screenshot("11-late-check-in")
    page.click("#act-confirm-checkin")
    expect(page.locator(".case-view")).to_have_attribute(
        "data-state", "resolved", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#late-checkin")).to_have_count(0)
    expect(page.locator("#history-card")).to_contain_text("confirmed by the operator")
