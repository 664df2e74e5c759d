"""Missed calls on the board, and the operator's "Called back" (real Chromium)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from care_api.domain.hotline import CallerKind, CallStatus
from care_api.store.tables import HotlineCall
from care_api.usecases.hotline.calls import Caller, mark_missed, start_call
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, log_in, operator_token

STRANGER = "+8613311112222"


def test_a_missed_call_is_on_the_board_until_an_operator_calls_back(
    live_console: LiveConsole, page: Page, screenshot: Callable[[str], Path]
) -> None:
    live = live_console
    now = live.clock.now()
    with live.services.uow() as uow:
        caller = Caller(CallerKind.STRANGER, STRANGER, (), None, "en")
        call = start_call(uow, "CA" + "7" * 32, caller, status=CallStatus.DIALING, now=now)
        mark_missed(uow, call, why="operators busy", now=now, tz=live.services.tz)
        uow.commit()
        call_id = call.id

    log_in(page, operator_token(live))

    card = page.locator("#board-missed")
    expect(card).to_contain_text(STRANGER, timeout=UI_TIMEOUT_MS)
    expect(card).to_contain_text("unknown number")
    screenshot("40-board-missed-call")
    card.get_by_role("button", name="Called back").click()
    expect(page.locator("#board-missed")).to_have_count(0, timeout=UI_TIMEOUT_MS)
    with live.services.uow() as uow:
        row = uow.session.get(HotlineCall, call_id)
        assert row is not None and row.called_back_at is not None
        assert row.called_back_by is not None and "operator" in row.called_back_by
