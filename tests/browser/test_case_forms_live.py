"""A live update of the case page keeps every half-filled form of every card, in Chromium.

Each card redraws itself on case news; what the operator was typing, ticking or picking
there, and where the caret was, must survive the redraw.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from care_api.domain.fleet import DevicePosition, PositionSource
from care_api.domain.model import CaseState
from care_api.usecases.cases.actions import get_case
from care_api.usecases.cases.log import add_note, move_case
from care_api.usecases.fleet.positions import record_position
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, log_in, operator_token, press_button
from tests.helpers import seed_elder


def case_news(live: LiveConsole, case_id: str, line: str) -> None:
    """A line in the case's history, announced on the stream as other news would be."""
    with live.services.uow() as uow:
        case = get_case(uow.session, case_id)
        add_note(uow, case, action="note", by="system:test", why=line, now=live.clock.now())
        uow.commit()
    live.stream.announce({"case_id": case_id, "change": "noted"})


def open_case(page: Page, case_id: str) -> None:
    page.goto(f"/#/case/{case_id}")
    expect(page.locator(".case-view")).to_have_attribute("data-case-id", case_id)
    # The wellness card reads its own data after the page is drawn.
    expect(page.locator("#checkin-form")).to_be_visible(timeout=UI_TIMEOUT_MS)


def test_a_live_update_keeps_the_service_cases_forms_and_the_caret(
    live_console: LiveConsole, page: Page
) -> None:
    live = live_console
    seed_elder(live.services, "T3101")
    log_in(page, operator_token(live))
    case_id = press_button(live, "T3101", seq=1, pattern="single")
    open_case(page, case_id)

    page.fill("#dispatch-category", "plumb")
    page.select_option("#dispatch-strategy", "fair")
    page.fill("#dispatch-note", "Kitchen tap")
    page.select_option("#resolve-outcome", index=1)
    page.fill("#resolve-note", "Sorted by")
    page.fill("#reclass-note", "It is a care")
    page.fill("#checkin-start", "07:30")
    page.select_option("#note-kind", "call_attempt")
    page.fill("#note-text", "Rang the daughter, no ans")
    page.locator("#note-text").press("ArrowLeft")  # the caret is not at the end

    case_news(live, case_id, "The merchant list changed")
    expect(page.locator("#history-card")).to_contain_text(
        "The merchant list changed", timeout=UI_TIMEOUT_MS
    )
    # The wellness card reads again on news; give it the time to draw what it read.
    expect(page.locator("#checkin-form")).to_be_visible()

    expect(page.locator("#dispatch-category")).to_have_value("plumb")
    expect(page.locator("#dispatch-strategy")).to_have_value("fair")
    expect(page.locator("#dispatch-note")).to_have_value("Kitchen tap")
    expect(page.locator("#resolve-outcome")).not_to_have_value("")
    expect(page.locator("#resolve-note")).to_have_value("Sorted by")
    expect(page.locator("#reclass-note")).to_have_value("It is a care")
    expect(page.locator("#checkin-start")).to_have_value("07:30")
    expect(page.locator("#note-kind")).to_have_value("call_attempt")
    expect(page.locator("#note-text")).to_have_value("Rang the daughter, no ans")
    expect(page.locator("#note-text")).to_be_focused()
    caret = page.evaluate("document.getElementById('note-text').selectionStart")
    assert caret == len("Rang the daughter, no ans") - 1


def test_a_live_update_keeps_the_offer_form_then_the_callback_form(
    live_console: LiveConsole, page: Page
) -> None:
    live = live_console
    seed_elder(live.services, "T3102")
    log_in(page, operator_token(live))
    case_id = press_button(live, "T3102", seq=1, pattern="double")
    open_case(page, case_id)

    page.fill("#offer-need", "Groceries for the wee")
    page.fill("#offer-skill", "driving")
    page.check("#offer-medical")
    case_news(live, case_id, "Daughter is on her way")
    expect(page.locator("#history-card")).to_contain_text(
        "Daughter is on her way", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#offer-need")).to_have_value("Groceries for the wee")
    expect(page.locator("#offer-skill")).to_have_value("driving")
    expect(page.locator("#offer-medical")).to_be_checked()
    expect(page.locator("#offer-medical")).to_be_focused()

    with live.services.uow() as uow:
        case = get_case(uow.session, case_id)
        move_case(uow, case, CaseState.RESOLVED, by="system:test", why="", now=live.clock.now())
        uow.commit()
    expect(page.locator("#callback-form")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.uncheck("#cb-reached")
    page.select_option("#cb-satisfaction", "4")
    page.select_option("#cb-price", "false")
    page.fill("#cb-comment", "Line was bu")
    case_news(live, case_id, "Second try at four")
    expect(page.locator("#history-card")).to_contain_text(
        "Second try at four", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#cb-reached")).not_to_be_checked()
    expect(page.locator("#cb-satisfaction")).to_have_value("4")
    expect(page.locator("#cb-price")).to_have_value("false")
    expect(page.locator("#cb-comment")).to_have_value("Line was bu")
    expect(page.locator("#cb-comment")).to_be_focused()


def test_a_live_update_keeps_the_number_typed_on_the_watch_card(
    live_console: LiveConsole, page: Page
) -> None:
    live = live_console
    watch = "8800000016"
    seed_elder(live.services, watch)
    now = live.clock.now()
    where = DevicePosition(now, 29.0791, 119.647, True, PositionSource.GPS)
    assert (
        record_position(live.services.uow, watch, "watch", where, now=now, tz=live.services.tz)
        is None
    )
    log_in(page, operator_token(live))
    case_id = press_button(live, watch, seq=1, pattern="long")
    open_case(page, case_id)
    expect(page.locator("#monitor-number")).to_be_visible(timeout=UI_TIMEOUT_MS)

    page.fill("#monitor-number", "+86 139 0000")
    case_news(live, case_id, "Son called the centre")
    expect(page.locator("#history-card")).to_contain_text(
        "Son called the centre", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#wearable-position")).to_be_visible()
    expect(page.locator("#monitor-number")).to_have_value("+86 139 0000")
    expect(page.locator("#monitor-number")).to_be_focused()
