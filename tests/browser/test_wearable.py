"""The case view's watch card in a real Chromium: position and track, safe zone, readings."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlmodel import select

from care_api.domain.fleet import DevicePosition, PositionSource
from care_api.store.tables import DeviceCommand
from care_api.usecases.fleet.positions import record_position
from care_api.usecases.fleet.readings import record_reading
from care_api.usecases.fleet.safe_zones import put_zone
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS, Shot, log_in, operator_token, press_button
from tests.helpers import seed_elder

WATCH = "8800000015"


def test_the_case_shows_where_the_watch_went_its_zone_and_readings(
    live_console: LiveConsole, page: Page, screenshot: Shot
) -> None:
    live = live_console
    services, now = live.services, live.clock.now()
    elder, _ = seed_elder(services, WATCH, wanders=True)  # only then is the zone watched
    with services.uow() as uow:
        put_zone(uow, elder, lat=29.079, lon=119.647, radius_m=500, by="t", now=now)
        uow.commit()
    for minutes, lat in ((-10, 29.0791), (-5, 29.0899)):
        at = now + timedelta(minutes=minutes)
        where = DevicePosition(at, lat, 119.647, True, PositionSource.GPS)
        assert record_position(services.uow, WATCH, "watch", where, now=at, tz=services.tz) is None
    record_reading(
        services.uow,
        WATCH,
        "watch",
        keyword="bphrt",
        systolic=128,
        diastolic=82,
        heart_rate=75,
        now=now,
    )
    log_in(page, operator_token(live))
    case_id = press_button(live, WATCH, seq=1, pattern="long")
    page.goto(f"/#/case/{case_id}")
    card = page.locator("#wearable-card")
    expect(card).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("#wearable-position")).to_contain_text("29.089900,119.647000")
    expect(page.locator("#wearable-track")).to_contain_text("2 positions over this case")
    expect(page.locator("#wearable-zone")).to_contain_text("500 m round home")
    expect(page.locator("#wearable-zone")).to_contain_text("outside since")
    expect(page.locator("#wearable-readings")).to_contain_text("blood pressure 128/82 mmHg")
    screenshot("12-wearable")
    page.click("#watch-locate")
    expect(page.locator("#toast")).to_contain_text("Sent to the watch: locate")
    with services.uow() as uow:
        sent = uow.session.exec(select(DeviceCommand)).all()
    assert [(c.device_id, c.cmd, c.requested_by.split(":")[0]) for c in sent] == [
        (WATCH, "locate", "operator")
    ]


def test_a_terminal_without_a_watch_shows_no_watch_card(
    live_console: LiveConsole, page: Page
) -> None:
    live = live_console
    seed_elder(live.services, "T1001")
    log_in(page, operator_token(live))
    case_id = press_button(live, "T1001", seq=1, pattern="long")
    page.goto(f"/#/case/{case_id}")
    expect(page.locator("#wellness-card")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("#wearable-card")).to_be_hidden()


def test_the_elder_page_shows_the_watchs_last_position_and_readings(
    live_console: LiveConsole, page: Page
) -> None:
    live = live_console
    services, now = live.services, live.clock.now()
    elder, _ = seed_elder(services, WATCH)
    where = DevicePosition(now, 29.0791, 119.647, False, PositionSource.WIFI)
    assert record_position(services.uow, WATCH, "watch", where, now=now, tz=services.tz) is None
    record_reading(services.uow, WATCH, "watch", keyword="heart", heart_rate=72, now=now)
    log_in(page, operator_token(live))
    page.goto(f"/#/elder/{elder}")
    expect(page.locator("#wearable-position")).to_contain_text(
        "29.079100,119.647000", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#wearable-position")).to_contain_text("wifi")
    expect(page.locator("#wearable-track")).to_have_count(0)  # no case: no track
    expect(page.locator("#wearable-zone")).to_contain_text("No safe zone.")
    expect(page.locator("#wearable-readings")).to_contain_text("heart rate 72/min")
