"""The board's header line tells who is on duty, from the rota (real Chromium)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from care_api.usecases.schedules.rotas import add_shift
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, log_in, operator_token


def test_console_board_shows_who_is_on_duty(
    live_console: LiveConsole, page: Page, screenshot: Callable[[str], Path]
) -> None:
    live = live_console
    now = live.clock.now()
    with live.services.uow() as uow:
        for person, role in (("Sun Li", "supervisor"), ("Zhao Desk", "operator")):
            data = {"person": person, "role": role, "phone": "+8613711111111"}
            data |= {"start": now - timedelta(hours=1), "end": now + timedelta(hours=7)}
            add_shift(uow.session, data, by="admin", now=now)
        uow.commit()

    log_in(page, operator_token(live))

    line = page.locator("#on-duty")
    expect(line).to_contain_text("Supervisor on duty: Sun Li", timeout=UI_TIMEOUT_MS)
    expect(line).to_contain_text("Operators on duty: Zhao Desk")
    screenshot("20-board-on-duty")
