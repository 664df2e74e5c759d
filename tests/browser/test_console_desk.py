"""The centre's desk in a real Chromium at 1280×720: onboarding without curl, search, alarms."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from care_api.store.tables import Contact, Device, Elder, Merchant, Volunteer
from care_api.usecases.people.credentials import secret_matches
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import (
    UI_TIMEOUT_MS,
    escalate,
    log_in,
    operator_token,
    press_button,
)
from tests.helpers import seed_elder

Shot = Callable[[str], Path]
DESK = {"width": 1280, "height": 720}
# alarm.js and watch.js: a tone repeats this often; a lost link sounds after this long.
REPEAT_MS = 4000
LOST_SOUND_AFTER_MS = 3000


@pytest.fixture
def desk(page: Page) -> Page:
    """The console at the size of a centre's desk monitor."""
    page.set_viewport_size(DESK)
    return page


def rows_of(live: LiveConsole, table: type) -> list:  # type: ignore[type-arg]
    with live.services.uow() as uow:
        return list(uow.session.exec(select(table)).all())


def test_desk_registers_an_elder_with_contacts_and_a_terminal(
    live_console: LiveConsole, desk: Page, screenshot: Shot
) -> None:
    live, page = live_console, desk
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, operator_token(live))

    page.click("[data-route=elders]")
    expect(page.locator("#elder-none")).to_have_text("No elder registered yet.")
    page.click("#elder-new")
    # Refused input: each reason beside its field, and nothing is written.
    page.fill("#elder-phone", "call me")
    page.fill("#elder-lat", "north")
    page.click("#elder-form-submit")
    expect(page.locator("#elder-name-error")).to_have_text("Required.", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#elder-phone-error")).to_have_text("Not in the expected form.")
    expect(page.locator("#elder-lat-error")).to_have_text("Must be a number.")
    expect(page.locator("#elder-name")).to_be_focused()
    screenshot("30-elder-new-refused")
    assert rows_of(live, Elder) == []

    page.fill("#elder-name", "Zhang Xiuying")
    page.fill("#elder-phone", "+86 138 0000 0000")
    page.fill("#elder-address", "3 Wuyi Road")
    page.fill("#elder-district", "Wucheng")
    page.fill("#elder-lat", "29.08")
    page.fill("#elder-lon", "119.65")
    page.fill("#elder-medical_notes", "Hypertension; takes amlodipine at 8")
    page.click("#elder-form-submit")
    expect(page.locator(".elder-view h1")).to_have_text("Zhang Xiuying", timeout=UI_TIMEOUT_MS)
    [elder] = rows_of(live, Elder)
    assert (elder.phone, elder.district, elder.lat, elder.lon) == (
        "+8613800000000",  # typed with spaces, stored in E.164
        "Wucheng",
        29.08,
        119.65,
    )
    assert elder.medical_notes == "Hypertension; takes amlodipine at 8"
    assert page.url.endswith(f"#/elder/{elder.id}")
    expect(page.locator("[data-route=elders]")).to_have_class("active")

    # Contacts: the first is paged first; an info-only one is never paged.
    page.fill("#contact-name", "Li Na")
    page.click("#contact-form-submit")
    expect(page.locator("#contact-phone-error")).to_have_text("Not in the expected form.")
    page.fill("#contact-phone", "+8613900000001")
    page.fill("#contact-relation", "daughter")
    page.click("#contact-form-submit")
    expect(page.locator("#contact-table tbody tr")).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(page.locator("#contact-name")).to_have_value("")  # ready for the next one
    page.fill("#contact-name", "Zhang Wei")
    page.fill("#contact-phone", "+8613900000002")
    page.fill("#contact-relation", "son, abroad")
    expect(page.locator("#contact-priority")).to_have_value("2")
    page.check("#contact-notify_only")
    page.click("#contact-form-submit")
    contacts = page.locator("#contact-table tbody tr")
    expect(contacts).to_have_count(2, timeout=UI_TIMEOUT_MS)
    expect(contacts.nth(1)).to_contain_text("info only")
    stored = sorted((c.priority, c.name, c.notify_only) for c in rows_of(live, Contact))
    assert stored == [(1, "Li Na", False), (2, "Zhang Wei", True)]

    # A terminal: its secret is shown once, with a copy button and a warning.
    page.fill("#device-device_id", "T5001")
    page.click("#device-form-submit")
    panel = page.locator("#device-secret")
    expect(panel).to_contain_text("Shown this once", timeout=UI_TIMEOUT_MS)
    secret = page.locator("#secret-value").input_value()
    [device] = rows_of(live, Device)
    assert (device.device_id, device.elder_id) == ("T5001", elder.id)
    assert secret_matches(secret, device.secret_hash)
    page.click("#secret-copy")
    expect(page.locator("#toast")).to_have_text("Secret copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(page.locator("#terminal-table")).to_contain_text("T5001")
    screenshot("31-elder-terminal-secret")
    # The same id again: refused beside the field; the secret panel stays until dismissed.
    page.fill("#device-device_id", "T5001")
    page.click("#device-form-submit")
    expect(page.locator("#device-device_id-error")).to_have_text(
        "Terminal T5001 is already provisioned.", timeout=UI_TIMEOUT_MS
    )
    page.click("#secret-done")
    expect(panel).to_have_count(0)
    page.reload()
    expect(page.locator("#terminal-table")).to_contain_text("T5001", timeout=UI_TIMEOUT_MS)
    assert secret not in page.content()
    assert page.evaluate("JSON.stringify({...sessionStorage, ...localStorage})").find(secret) < 0

    # Editing the profile changes what was changed.
    page.fill("#elder-district", "Jindong")
    page.click("#elder-form-submit")
    expect(page.locator("#toast")).to_contain_text("profile saved", timeout=UI_TIMEOUT_MS)
    [elder] = rows_of(live, Elder)
    assert (elder.district, elder.address) == ("Jindong", "3 Wuyi Road")
    screenshot("32-elder-page")

    page.click("#lang")
    expect(page.locator("#profile-card h2")).to_have_text("基本信息", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#contacts-card")).to_contain_text("仅知会")
    page.fill("#elder-phone", "打电话")
    page.click("#elder-form-submit")
    expect(page.locator("#elder-phone-error")).to_have_text("格式不正确。", timeout=UI_TIMEOUT_MS)
    screenshot("33-elder-page-zh")
    page.click("[data-route=elders]")
    expect(page.locator("#elder-table")).to_contain_text("T5001", timeout=UI_TIMEOUT_MS)
    screenshot("34-elders-zh")


def test_desk_registers_volunteers_and_merchants(
    live_console: LiveConsole, desk: Page, screenshot: Shot
) -> None:
    live, page = live_console, desk
    log_in(page, operator_token(live))

    page.click("[data-route=volunteers]")
    expect(page.locator("#volunteers-card")).to_contain_text("No volunteer registered yet.")
    page.fill("#volunteer-name", "Ann Liu")
    page.fill("#volunteer-phone", "+8613100000001")
    page.fill("#volunteer-lat", "95")
    page.click("#volunteer-form-submit")
    expect(page.locator("#volunteer-lat-error")).to_have_text("Too large.", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#volunteer-lon-error")).to_have_text("Must be a number.")
    assert rows_of(live, Volunteer) == []
    page.fill("#volunteer-lat", "29.1")
    page.fill("#volunteer-lon", "119.65")
    page.fill("#volunteer-skills", "first aid, Shopping")
    page.click("#volunteer-form-submit")
    row = page.locator("#volunteer-table tbody tr")
    expect(row).to_contain_text("Ann Liu", timeout=UI_TIMEOUT_MS)
    expect(row).to_contain_text("first aid, shopping")
    [ann] = rows_of(live, Volunteer)
    assert (ann.skills, ann.active, ann.lat) == (["first aid", "shopping"], True, 29.1)
    screenshot("35-volunteers")

    page.click("[data-route=merchants]")
    page.fill("#merchant-name", "Golden Spoon Kitchen")
    page.fill("#merchant-phone", "+8615100000001")
    page.click("#merchant-form-submit")
    expect(page.locator("#merchant-categories-error")).to_have_text(
        "Give at least one.", timeout=UI_TIMEOUT_MS
    )
    assert rows_of(live, Merchant) == []
    page.fill("#merchant-categories", "meals，cleaning")  # a Chinese comma separates too
    page.fill("#merchant-rating", "4.5")
    page.click("#merchant-form-submit")
    row = page.locator("#merchant-table tbody tr")
    expect(row).to_contain_text("Golden Spoon Kitchen", timeout=UI_TIMEOUT_MS)
    expect(row).to_contain_text("4.5")
    [kitchen] = rows_of(live, Merchant)
    assert kitchen.categories == ["cleaning", "meals"]
    screenshot("36-merchants")

    page.click("#lang")
    expect(page.locator("#merchant-new h2")).to_have_text("登记加盟商", timeout=UI_TIMEOUT_MS)
    expect(row).to_contain_text("正常")
    screenshot("37-merchants-zh")
    page.click("[data-route=volunteers]")
    expect(page.locator("#volunteer-new h2")).to_have_text("登记志愿者", timeout=UI_TIMEOUT_MS)
    screenshot("38-volunteers-zh")


def test_desk_finds_an_elder_by_name_phone_or_terminal_and_opens_their_cases(
    live_console: LiveConsole, desk: Page, screenshot: Shot
) -> None:
    live, page = live_console, desk
    seed_elder(live.services, "T6001", name="Wang Fang", phone="+86 138 1111 0001")
    seed_elder(live.services, "T6002", name="Li Ming", phone="+86 138 1111 0002")
    first = press_button(live, "T6002", seq=1, pattern="single")
    live.clock.advance(minutes=5)
    second = press_button(live, "T6002", seq=2, pattern="long")
    log_in(page, operator_token(live))

    # A terminal id from the board's header: the one elder it belongs to opens at once.
    page.keyboard.press("/")
    expect(page.locator("#search-q")).to_be_focused()
    page.keyboard.type("t6002")
    page.keyboard.press("Enter")
    expect(page.locator(".elder-view h1")).to_have_text("Li Ming", timeout=UI_TIMEOUT_MS)
    cases = page.locator("#elder-cases tbody tr")
    expect(cases).to_have_count(2)
    expect(cases.first).to_have_attribute("data-case-id", second)  # newest first
    expect(cases.nth(1)).to_have_attribute("data-case-id", first)
    screenshot("40-search-terminal-elder-cases")
    cases.first.click()
    expect(page.locator(".case-view")).to_have_attribute("data-case-id", second)
    page.go_back()
    expect(page.locator(".elder-view h1")).to_have_text("Li Ming", timeout=UI_TIMEOUT_MS)

    # Phone digits shared by both: the directory lists them, a click opens one.
    page.fill("#search-q", "1381111")
    page.press("#search-q", "Enter")
    rows = page.locator("#elder-table tbody tr")
    expect(rows).to_have_count(2, timeout=UI_TIMEOUT_MS)
    expect(page.locator("#elder-search")).to_have_value("1381111")
    page.fill("#elder-search", "wang")
    expect(rows).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(rows.first).to_contain_text("T6001")
    rows.first.click()
    expect(page.locator(".elder-view h1")).to_have_text("Wang Fang", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#elder-cases")).to_contain_text("No case yet.")

    # A case number opens the case itself; a new case of the elder shows up on their page.
    page.fill("#search-q", first.lower())
    page.press("#search-q", "Enter")
    expect(page.locator(".case-view")).to_have_attribute("data-case-id", first)
    page.fill("#search-q", "Wang")
    page.press("#search-q", "Enter")
    expect(page.locator(".elder-view h1")).to_have_text("Wang Fang", timeout=UI_TIMEOUT_MS)
    third = press_button(live, "T6001", seq=1, pattern="double")
    expect(page.locator(f"#elder-cases tr[data-case-id='{third}']")).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )

    page.click("#lang")
    expect(page.locator("#search-q")).to_have_attribute("placeholder", re.compile("姓名、电话"))
    page.fill("#search-q", "没有这个人")
    page.press("#search-q", "Enter")
    expect(page.locator("#elder-none")).to_have_text(
        "没有与“没有这个人”匹配的老人。", timeout=UI_TIMEOUT_MS
    )
    page.fill("#elder-search", "")
    expect(rows).to_have_count(2, timeout=UI_TIMEOUT_MS)
    screenshot("41-elders-directory-zh")


def ring_count(page: Page) -> int:
    """How many times a tone has played on this page (the alarm counts what it sounds)."""
    return int(page.evaluate("document.body.dataset.rings || '0'"))


def body_data(page: Page, name: str) -> str | None:
    value = page.evaluate(f"document.body.dataset.{name}")
    return None if value is None else str(value)


def test_desk_alarm_repeats_until_taken_with_a_tone_per_urgency(
    live_console: LiveConsole, desk: Page, screenshot: Shot
) -> None:
    live, page = live_console, desk
    for device, name in (("T8001", "Wang Fang"), ("T8002", "Li Ming"), ("T8003", "Chen Hua")):
        seed_elder(live.services, device, name=name)
    first = press_button(live, "T8001", seq=1, pattern="long")
    live.clock.advance(seconds=30)
    second = press_button(live, "T8002", seq=1, pattern="long")
    press_button(live, "T8003", seq=1, pattern="single")  # a service request sounds nothing
    # The page's timers run on a clock the test moves: repeats are checked without waiting.
    page.clock.install()

    # Emergencies already waiting at login are announced at once; the login click armed sound.
    log_in(page, operator_token(live))
    banner = page.locator("#banner")
    expect(page.locator("#banner-count")).to_have_text("2 emergencies not taken")
    expect(banner).to_contain_text(f"{first} · Wang Fang")
    expect(banner).to_contain_text(second)
    expect(page.locator("#sound")).to_have_attribute("data-state", "on")
    assert body_data(page, "alarms") == "1"  # one flash for what was waiting
    assert body_data(page, "ringing") == "emergency"
    assert body_data(page, "lastTone") == "emergency"
    rings = ring_count(page)
    assert rings >= 1
    page.clock.run_for(2 * REPEAT_MS)
    assert ring_count(page) >= rings + 2  # it repeats; one beep would be easy to miss
    screenshot("50-alarm-two-waiting")

    escalate(live, second, step=1, flag="supervisor alerted")
    expect(banner).to_have_attribute("data-tone", "escalation", timeout=UI_TIMEOUT_MS)
    assert body_data(page, "lastTone") == "escalation"
    escalate(live, first, step=2, flag="call 120")
    expect(banner).to_have_attribute("data-tone", "call120", timeout=UI_TIMEOUT_MS)
    expect(banner.locator(".flag")).to_have_text("call 120")
    assert body_data(page, "lastTone") == "call120"
    screenshot("51-alarm-call-120")

    page.click("#banner-open")  # the oldest: Wang Fang's, now "call 120"
    expect(page.locator(".case-view")).to_have_attribute("data-case-id", first)
    page.click("#act-ack")
    expect(page.locator("#banner-count")).to_have_text(
        "1 emergency not taken", timeout=UI_TIMEOUT_MS
    )
    expect(banner).to_have_attribute("data-tone", "escalation")
    page.click("#banner-open")
    expect(page.locator(".case-view")).to_have_attribute("data-case-id", second)
    page.click("#act-ack")
    expect(banner).to_be_hidden(timeout=UI_TIMEOUT_MS)
    assert body_data(page, "ringing") == ""
    rings = ring_count(page)
    page.clock.run_for(3 * REPEAT_MS)
    assert ring_count(page) == rings  # taken: silence

    third = press_button(live, "T8003", seq=2, pattern="long")
    expect(page.locator("#banner-count")).to_have_text(
        "1 emergency not taken", timeout=UI_TIMEOUT_MS
    )
    expect(banner).to_contain_text(third)
    assert body_data(page, "alarms") == "2"
    assert body_data(page, "lastTone") == "emergency"

    page.click("#lang")
    expect(page.locator("#banner-count")).to_have_text("1 起紧急呼叫未受理")
    expect(page.locator("#sound")).to_be_hidden()  # armed: nothing to warn about
    screenshot("52-alarm-zh")


def test_desk_reload_announces_waiting_emergencies_and_says_sound_is_off(
    live_console: LiveConsole, desk: Page, screenshot: Shot
) -> None:
    live, page = live_console, desk
    seed_elder(live.services, "T8101")
    log_in(page, operator_token(live))
    expect(page.locator("#banner")).to_be_hidden()
    waiting = press_button(live, "T8101", seq=1, pattern="long")
    expect(page.locator("#banner-count")).to_have_text(
        "1 emergency not taken", timeout=UI_TIMEOUT_MS
    )

    page.reload()  # no click on this page yet: the browser will not play a sound
    expect(page.locator("#banner-count")).to_have_text(
        "1 emergency not taken", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#banner")).to_contain_text(waiting)
    sound = page.locator("#sound")
    expect(sound).to_have_attribute("data-state", "off")
    expect(sound).to_have_text("Sound off — click to enable")
    assert body_data(page, "ringing") == "emergency"
    assert ring_count(page) == 0
    screenshot("53-reload-sound-off")
    page.evaluate("localStorage.setItem('vnh.lang', 'zh')")  # a click would arm the sound
    page.reload()
    expect(sound).to_have_text("声音已关闭——点击开启", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#banner-count")).to_have_text("1 起紧急呼叫未受理")
    screenshot("54-reload-sound-off-zh")
    sound.click()
    expect(sound).to_have_attribute("data-state", "on")
    expect(sound).to_be_hidden()
    assert ring_count(page) == 1  # armed while an emergency waits: it sounds at once
    assert body_data(page, "lastTone") == "emergency"


def drop_the_link(live: LiveConsole, page: Page) -> None:
    """The network between console and server fails: open streams end, reconnecting fails."""
    page.context.set_offline(True)  # new requests fail; an open stream would not notice
    for client in list(live.stream._clients):
        client.close()


def test_desk_lost_connection_is_loud_and_the_board_catches_up(
    live_console: LiveConsole, desk: Page, screenshot: Shot
) -> None:
    live, page = live_console, desk
    seed_elder(live.services, "T8201", name="Zhou Lan")
    page.clock.install()
    log_in(page, operator_token(live))

    drop_the_link(live, page)
    bar = page.locator("#offline")
    expect(bar).to_have_text(
        re.compile("Connection lost — this board is not live."), timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("body")).to_have_class(re.compile(r"\boffline\b"))
    page.clock.run_for(LOST_SOUND_AFTER_MS + 100)
    assert body_data(page, "ringing") == "lost"
    assert body_data(page, "lastTone") == "lost"
    missed = press_button(live, "T8201", seq=1, pattern="long")  # while the board is blind
    screenshot("55-connection-lost")

    page.context.set_offline(False)
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=10_000)
    expect(bar).to_be_hidden()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\boffline\b"))
    # What happened while it was blind is on the board and sounds now.
    expect(page.locator(f"tr.case-row[data-case-id='{missed}']")).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#banner-count")).to_have_text("1 emergency not taken")
    assert body_data(page, "ringing") == "emergency"

    page.click("#lang")  # the words come from the server: switched while it is reachable
    expect(page.locator("#banner-count")).to_have_text("1 起紧急呼叫未受理")
    expect(page.locator("#board-open h2")).to_contain_text("未结案件", timeout=UI_TIMEOUT_MS)
    drop_the_link(live, page)
    expect(bar).to_contain_text("连接已断开——本看板不是实时的。", timeout=UI_TIMEOUT_MS)
    screenshot("56-connection-lost-zh")
    page.context.set_offline(False)
    expect(bar).to_be_hidden(timeout=10_000)
