"""Working a case in a real Chromium at 1280×720, in English and 中文: notes, the procedure,
outcome codes, the countdown to the next escalation, people by name, handover, contacts, map."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlmodel import select

from alerts.runtime import AlertsComponent
from care_api.store.desk_tables import CaseOutcome, HandoverNote
from care_api.store.tables import CaseEvent, Contact, Device, Elder, Volunteer
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import (
    UI_TIMEOUT_MS,
    alerts,  # noqa: F401  the alerts engine fixture, run on the fake clock
    log_in,
    operator_token,
    press_button,
    settle,
)
from tests.helpers import seed_elder

Shot = Callable[[str], Path]
DESK = {"width": 1280, "height": 720}
HOME = (29.08, 119.65)


def seed_street(live: LiveConsole) -> int:
    """Wang Fang at home with a watch that last reported 300 m north, and two volunteers."""
    elder_id, _ = seed_elder(live.services, "T1001", lat=HOME[0], lon=HOME[1])
    now = live.clock.now()
    with live.services.uow() as uow:
        device = uow.session.get(Device, "T1001")
        assert device is not None
        device.position_at, device.position_lat, device.position_lon = now, 29.0827, 119.65
        device.position_fix, device.position_source = True, "gps"
        uow.session.add(device)
        uow.session.add(
            Volunteer(
                name="Zhou Min", phone="+8613700000001", lat=29.09, lon=HOME[1], created_at=now
            )
        )
        uow.session.add(
            Volunteer(name="Far Qian", phone="+8613700000002", lat=30.5, lon=120.0, created_at=now)
        )
        uow.commit()
    return elder_id


def rows_of(live: LiveConsole, table: type) -> list:  # type: ignore[type-arg]
    with live.services.uow() as uow:
        return list(uow.session.exec(select(table)).all())


def not_clipped(page: Page, selector: str) -> None:
    """No table under `selector` is wider than its card: nothing is cut off at this size."""
    over = page.evaluate(
        """(sel) => [...document.querySelectorAll(sel + ' table')]
            .filter((t) => t.scrollWidth > t.parentElement.clientWidth + 1).length""",
        selector,
    )
    assert over == 0, f"{over} table(s) under {selector} are clipped"


def test_casework_notes_procedure_countdown_outcome_and_map(
    live_console: LiveConsole,
    page: Page,
    alerts: AlertsComponent,  # noqa: F811  the fixture imported above
    screenshot: Shot,
) -> None:
    live = live_console
    page.set_viewport_size(DESK)
    seed_street(live)
    log_in(page, operator_token(live))

    case_id = press_button(live, "T1001", seq=1, pattern="long")
    settle(alerts)  # step 0 ran: contact 1 paged, step 1 due in 2 minutes
    board_row = page.locator(f"tr.case-row[data-case-id='{case_id}']")
    expect(board_row.locator(".countdown-left")).to_contain_text(
        re.compile(r"in (2 min 00 s|1 min 5\d s)"), timeout=UI_TIMEOUT_MS
    )
    board_row.click()
    view = page.locator(".case-view")
    unowned = re.compile("open|dispatched")
    expect(view).to_have_attribute("data-state", unowned, timeout=UI_TIMEOUT_MS)

    # The countdown: when the next step runs and whom it reaches, by name.
    countdown = page.locator("#next-escalation")
    expect(countdown).to_contain_text("Next escalation (step 1)")
    # It counts down in the browser: a second or two may pass before the assertion reads it.
    expect(countdown).to_contain_text(re.compile(r"in (2 min 00 s|1 min 5\d s)"))
    expect(countdown).to_contain_text("Other contacts: Contact 2")
    expect(countdown).to_contain_text("Up to 5 nearest volunteers")
    # People by name and role: the terminal that opened it, never "device:T1001".
    history = page.locator("#history-card")
    expect(history).to_contain_text("Terminal T1001")
    expect(history).not_to_contain_text("device:T1001")
    expect(history).not_to_contain_text("system:vnh")
    # Whom the step paged, by name in the history line and in the messages sent.
    expect(history).to_contain_text("step 0: Contact 1 · Contact")
    expect(history).not_to_contain_text("contact:1")
    expect(page.locator("#notifications-card")).to_contain_text("Contact 1 · Contact")
    expect(page.locator("#notifications-card")).not_to_contain_text("contact:1")

    # The map: home, the volunteer 1.1 km away, the watch 300 m off; no tiles set.
    card = page.locator("#map-card")
    expect(card.locator("svg.map.plain")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(card.locator("#map-home")).to_have_count(1)
    expect(card.locator("[data-responder]")).to_have_count(1)
    expect(card).to_contain_text("Zhou Min · 1.1 km")
    expect(card).to_contain_text("Watch · 300 m")
    expect(card).to_contain_text("No map tiles set")

    # A call attempt and a note: the history grows, the state does not move.
    page.select_option("#note-kind", "call_attempt")
    page.fill("#note-text", "No answer, rang 8 times")
    page.click("#note-submit")
    expect(history).to_contain_text("No answer, rang 8 times", timeout=UI_TIMEOUT_MS)
    last = history.locator("tbody tr").last
    expect(last).to_contain_text("Call attempt")
    expect(last).to_contain_text("Li Na · Operator")
    # The procedure: tick "call the elder"; the tick is in the history and stays ticked.
    page.check("#step-call_elder")
    expect(page.locator("#step-call_elder")).to_be_disabled(timeout=UI_TIMEOUT_MS)
    expect(page.locator("#script-card .count")).to_have_text("1/4")
    expect(history.locator("tr.ev-script_step")).to_contain_text("Call the elder")
    screenshot("40-case-notes-procedure-countdown")
    not_clipped(page, ".case-view")

    page.click("#act-ack")
    expect(view).to_have_attribute("data-state", "accepted", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#next-escalation")).to_have_count(0)
    expect(page.locator(".case-head")).to_contain_text("Li Na · Operator")
    # Resolving needs an outcome: refused in the page, nothing sent.
    page.click("#act-resolve")
    expect(page.locator("#toast")).to_contain_text("Pick the outcome", timeout=UI_TIMEOUT_MS)
    expect(view).to_have_attribute("data-state", "accepted")
    page.select_option("#resolve-outcome", "fall_no_injury")
    page.fill("#resolve-note", "Helped up by the neighbour")
    page.click("#act-resolve")
    expect(view).to_have_attribute("data-state", "resolved", timeout=UI_TIMEOUT_MS)
    expect(page.locator(".case-head")).to_contain_text("Outcome: Fall without injury")
    assert [o.code for o in rows_of(live, CaseOutcome)] == ["fall_no_injury"]
    actions = [e.action for e in rows_of(live, CaseEvent) if e.case_id == case_id]
    assert {"call_attempt", "script_step"} <= set(actions)

    page.click("[data-route=kpi]")
    outcomes = page.locator("#kpi-outcomes")
    expect(outcomes).to_contain_text("Fall without injury", timeout=UI_TIMEOUT_MS)
    bar = outcomes.locator("g.hbar", has=page.locator(".oc-fall_no_injury"))
    expect(bar.locator("text.value")).to_have_text("1")
    none = outcomes.locator("g.hbar", has=page.locator(".oc-false_alarm"))
    expect(none.locator("text.value")).to_have_text("0")

    # 中文: the same case, every label translated, one time format.
    page.click("#lang")
    expect(outcomes).to_contain_text("跌倒，未受伤", timeout=UI_TIMEOUT_MS)
    page.goto(f"/#/case/{case_id}")
    expect(page.locator("#history-card")).to_contain_text("致电记录", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#history-card")).to_contain_text("Li Na · 话务员")
    expect(page.locator("#history-card")).to_contain_text("终端 T1001")
    expect(page.locator("#script-card h2")).to_contain_text("处置流程")
    expect(page.locator("#script-card")).to_contain_text("致电老人")
    expect(page.locator(".case-head")).to_contain_text("处理结果: 跌倒，未受伤")
    expect(page.locator("#map-card")).to_contain_text("手表 · 300 m")
    screenshot("41-case-resolved-zh")
    not_clipped(page, ".case-view")


def test_casework_handover_notes_on_the_board_in_both_languages(
    live_console: LiveConsole, page: Page, screenshot: Shot
) -> None:
    live = live_console
    page.set_viewport_size(DESK)
    seed_elder(live.services, "T1001")
    log_in(page, operator_token(live, "Zhang Wei"))
    press_button(live, "T1001", seq=1, pattern="long")
    expect(page.locator("#handover-card")).to_contain_text("No handover notes in the last day.")
    page.fill("#handover-text", "Wang Fang's terminal battery is low; call her at 8")
    page.click("#handover-submit")
    note = page.locator("#handover-card li").first
    expect(note).to_contain_text("Wang Fang's terminal battery is low", timeout=UI_TIMEOUT_MS)
    expect(note).to_contain_text("Zhang Wei · Operator")
    [row] = rows_of(live, HandoverNote)
    assert row.by == "operator:Zhang Wei"
    screenshot("42-board-handover")
    not_clipped(page, ".board")
    page.click("#lang")
    expect(page.locator("#handover-card h2")).to_contain_text("交接班", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#handover-card li").first).to_contain_text("Zhang Wei · 话务员")
    screenshot("43-board-handover-zh")
    not_clipped(page, ".board")


def test_casework_edits_and_removes_contacts_with_language_and_access_notes(
    live_console: LiveConsole, page: Page, screenshot: Shot
) -> None:
    live = live_console
    page.set_viewport_size(DESK)
    elder_id, _ = seed_elder(live.services, "T1001")
    log_in(page, operator_token(live))
    page.goto(f"/#/elder/{elder_id}")
    expect(page.locator("#elder-access_notes")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.fill("#elder-access_notes", "Key safe by the door, code 4821")
    page.select_option("#elder-language", "en")
    page.click("#elder-form-submit")
    expect(page.locator("#toast")).to_contain_text("saved", timeout=UI_TIMEOUT_MS)
    [elder] = rows_of(live, Elder)
    assert (elder.access_notes, elder.language) == ("Key safe by the door, code 4821", "en")

    first = rows_of(live, Contact)[0]
    page.click(f"[data-edit='{first.id}']")
    expect(page.locator("#contact-name")).to_have_value("Contact 1")
    page.fill("#contact-name", "Wang Jun")
    page.fill("#contact-relation", "son")
    page.select_option("#contact-language", "zh-CN")
    page.click(f"#contact-form-{first.id}-submit")
    row = page.locator(f"tr[data-contact-id='{first.id}']")
    expect(row).to_contain_text("Wang Jun", timeout=UI_TIMEOUT_MS)
    expect(row).to_contain_text("son")
    screenshot("44-elder-contact-edited")
    not_clipped(page, ".elder-view")

    second = rows_of(live, Contact)[1]
    page.click(f"[data-remove='{second.id}']")
    expect(page.locator(f"[data-remove='{second.id}']")).to_have_text("Click again to remove")
    assert len(rows_of(live, Contact)) == 2  # one click removes nothing
    page.click(f"[data-remove='{second.id}']")
    gone = page.locator(f"tr[data-contact-id='{second.id}']")
    expect(gone).to_have_count(0, timeout=UI_TIMEOUT_MS)
    assert [(c.name, c.relation, c.language) for c in rows_of(live, Contact)] == [
        ("Wang Jun", "son", "zh-CN")
    ]
    page.click("#lang")
    access = page.locator("label[for='elder-access_notes']")
    expect(access).to_have_text("入户说明", timeout=UI_TIMEOUT_MS)
    expect(page.locator(f"[data-edit='{first.id}']")).to_have_text("编辑")
    screenshot("45-elder-contacts-zh")
    not_clipped(page, ".elder-view")


def test_casework_map_draws_the_centres_tiles_when_set(
    live_console: LiveConsole, page: Page, screenshot: Shot
) -> None:
    live = live_console
    page.set_viewport_size(DESK)
    seed_street(live)
    # The console's own origin stands in for the centre's tile server (no network here).
    template = f"{live.base_url}/console/static/favicon.svg?z={{z}}&x={{x}}&y={{y}}"
    live.services.settings.map_tiles = template
    log_in(page, operator_token(live))
    case_id = press_button(live, "T1001", seq=1, pattern="long")
    page.goto(f"/#/case/{case_id}")
    tiled = page.locator("#map-card svg.map.tiled")
    expect(tiled).to_be_visible(timeout=UI_TIMEOUT_MS)
    tiles = tiled.locator("image.tile")
    assert tiles.count() >= 2
    href = tiles.first.get_attribute("href") or ""
    assert href.startswith(f"{live.base_url}/console/static/favicon.svg?z=")
    expect(page.locator("#map-legend")).to_contain_text("tile server")
    screenshot("46-case-map-tiles")
