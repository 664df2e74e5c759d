"""The case page's "Call" in a real Chromium: a bridged call through the real twilio client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from alerts.notify.outbox import OutboxNotifier
from alerts.ports import Channel
from alerts.runtime import AlertsComponent
from care_api.domain.texts import Msg
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.call_tables import CaseCall
from care_api.usecases.cases.actions import get_case, resolve
from care_api.usecases.cases.auto_callbacks import fall_back, start_auto_callback
from tests.browser.conftest import ADMIN_TOKEN, LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, log_in, operator_token, press_button
from tests.fakes import FakeClock
from tests.helpers import seed_elder
from tests.twilio_server import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, RecordingTwilioServer

OPERATOR_PHONE = "+8613700000001"
CALL_TIMEOUT_MS = 10_000  # the page looks again every 3 s while a call is under way


@pytest.fixture
def twilio() -> Iterator[RecordingTwilioServer]:
    with RecordingTwilioServer() as server:
        yield server


@pytest.fixture
def browser_services(
    sqlite_url: str, clock: FakeClock, twilio: RecordingTwilioServer
) -> Iterator[Services]:
    """The service with a Twilio account (the recording stand-in) and a public URL."""
    settings = Settings(
        database_url=sqlite_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        twilio_account_sid=DEFAULT_ACCOUNT_SID,
        twilio_auth_token=SecretStr(DEFAULT_AUTH_TOKEN),
        twilio_from="+15005550006",
        twilio_api_url=twilio.base_url,
        public_url="https://vnh.example.org",
        _env_file=None,  # type: ignore[call-arg]
    )
    svc = build_services(settings, clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def alerts(live_console: LiveConsole) -> Iterator[AlertsComponent]:
    outbox = OutboxNotifier()
    component = AlertsComponent(
        live_console.services.settings,
        live_console.services,
        notifiers={Channel.sms: outbox, Channel.voice: outbox},
    )
    component.attach()
    yield component
    component.stop()


def test_console_call_places_a_bridged_call_and_shows_its_state(
    live_console: LiveConsole,
    alerts: AlertsComponent,
    page: Page,
    twilio: RecordingTwilioServer,
) -> None:
    seed_elder(live_console.services)
    case_id = press_button(live_console, "T1001", 1, "long")
    alerts.run_pending()
    log_in(page, operator_token(live_console))
    page.evaluate(f"localStorage.setItem('vnh.operator_phone', '{OPERATOR_PHONE}')")
    page.goto(f"/#/case/{case_id}")

    call = page.locator("#act-call")
    expect(call).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert call.evaluate("node => node.tagName") == "BUTTON"  # not a tel: link any more
    call.click()
    expect(page.locator("#case-calls li").first).to_have_attribute(
        "data-state", "requested", timeout=UI_TIMEOUT_MS
    )
    alerts.run_pending()  # the engine places it

    [placed] = twilio.calls()
    assert placed.form["To"] == OPERATOR_PHONE
    expect(page.locator("#case-calls li").first).to_have_attribute(
        "data-state", "dialing", timeout=CALL_TIMEOUT_MS
    )
    with live_console.services.uow() as uow:
        row = uow.session.get(CaseCall, 1)
        assert row is not None and row.call_sid
        sid = row.call_sid
    # What Twilio's signed webhooks report (tests/integration/test_calls_out.py signs them).
    alerts.calls.dialed(1, sid, "completed", "42")
    alerts.calls.progress(1, sid, "completed")

    item = page.locator("#case-calls li").first
    expect(item).to_have_attribute("data-state", "completed", timeout=CALL_TIMEOUT_MS)
    expect(item).to_contain_text("Wang Fang")
    expect(page.locator("#history-card")).to_contain_text("call to Wang Fang (elder): talked 42 s")


def test_board_lists_the_callbacks_the_machine_could_not_make(
    live_console: LiveConsole, alerts: AlertsComponent, page: Page
) -> None:
    services = live_console.services
    seed_elder(services)
    case_id = press_button(live_console, "T1001", 1, "double")
    now = live_console.clock.now()
    with services.uow() as uow:
        resolve(uow, case_id, by="operator:Li Na", why="helped", now=now)
        row = start_auto_callback(
            uow.session, get_case(uow.session, case_id), default_language="en", now=now
        )
        assert row is not None
        row.attempts = 3
        why = Msg("not reached in {n} calls by machine", n=3)
        fall_back(uow, row, reason=why, due_at=now, now=now, tz=services.tz)
        uow.commit()
    log_in(page, operator_token(live_console))

    due = page.locator("#board-callbacks tr[data-case-id]")
    expect(due).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(due).to_contain_text("Wang Fang")
    expect(due).to_contain_text("not reached in 3 calls by machine")
    due.locator("td.mono").first.click()
    expect(page.locator(".case-view")).to_have_attribute("data-case-id", case_id)
