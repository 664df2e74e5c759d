"""The admin's editors in a real Chromium at 1280×720: procedures, outcome codes, ladders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from care_api.domain.model import CaseKind, ServiceLine
from care_api.usecases.cases.desk import get_script, outcome_codes
from care_api.usecases.cases.ladders import Audience, get_ladder, is_default_ladder
from care_api.usecases.people.staff import add_user
from tests.browser.conftest import LiveConsole
from tests.browser.test_console import UI_TIMEOUT_MS

Shot = Callable[[str], Path]
DESK: ViewportSize = {"width": 1280, "height": 720}
PASSWORD = "night shift 2026"


@pytest.fixture
def desk(page: Page) -> Page:
    page.set_viewport_size(DESK)
    return page


def _user(live: LiveConsole, username: str, role: str) -> None:
    with live.services.uow() as uow:
        add_user(uow.session, username=username, role=role, password=PASSWORD, now=live.clock.now())
        uow.commit()


def _sign_in(page: Page, live: LiveConsole, username: str, role: str, lang: str) -> None:
    _user(live, username, role)
    page.goto("/")
    if lang == "zh":
        expect(page.locator("#lang")).to_have_text("中文", timeout=UI_TIMEOUT_MS)
        page.click("#lang")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN", timeout=UI_TIMEOUT_MS)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#password-submit")
    expect(page.locator("#board-open")).to_be_visible(timeout=UI_TIMEOUT_MS)


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= DESK["width"], width


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_admin_edits_the_emergency_procedure_on_one_line_and_the_outcome_codes(
    live_console: LiveConsole, desk: Page, screenshot: Shot, lang: str
) -> None:
    live, page = live_console, desk
    _sign_in(page, live, "wang.admin", "admin", lang)
    page.click("[data-route=procedures]")
    expect(page.locator("#script-default")).to_have_text(
        "默认" if lang == "zh" else "Default", timeout=UI_TIMEOUT_MS
    )
    page.select_option("#script-line", "medical")
    expect(page.locator("#script-inherited")).to_be_visible(timeout=UI_TIMEOUT_MS)

    # A step id with a space is refused: the field is marked, the reason shown, nothing saved.
    page.click("#script-add")
    page.fill("#script-4-id", "Call GP")
    page.fill("#script-4-en", "Call the family doctor")
    page.fill("#script-4-zh-CN", "联系家庭医生")
    page.click("#script-save")
    expect(page.locator("#script-4-id")).to_have_attribute(
        "aria-invalid", "true", timeout=UI_TIMEOUT_MS
    )
    refused = "格式不正确" if lang == "zh" else "Not in the expected form."
    expect(page.locator("#script-error")).to_contain_text(refused)
    with live.services.uow() as uow:
        assert get_script(uow.session, CaseKind.EMERGENCY, ServiceLine.MEDICAL).line == ""

    page.fill("#script-4-id", "call_gp")
    page.fill("#script-0-zh-CN", "先打给老人")
    page.click("#script-save")
    expect(page.locator("#script-default")).to_have_text(
        "中心已修改" if lang == "zh" else "Edited by the centre", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#script-inherited")).to_have_count(0)
    with live.services.uow() as uow:
        medical = get_script(uow.session, CaseKind.EMERGENCY, ServiceLine.MEDICAL)
        every = get_script(uow.session, CaseKind.EMERGENCY, None)
    assert medical.line == "medical"
    assert [s.id for s in medical.steps][-1] == "call_gp"
    assert medical.steps[-1].labels == {"en": "Call the family doctor", "zh-CN": "联系家庭医生"}
    assert medical.steps[0].labels["zh-CN"] == "先打给老人"
    assert "call_gp" not in [s.id for s in every.steps]  # the other lines keep theirs

    # Outcome codes: one more, with both languages' words; moved to the top.
    page.click("#codes-add")
    rows = page.locator("#codes-rows tbody tr")
    last = rows.count() - 1
    page.fill(f"#codes-{last}-code", "wandered_off")
    page.fill(f"#codes-{last}-en", "Wandered off, found")
    page.fill(f"#codes-{last}-zh-CN", "走失后找到")
    page.locator(f"#codes-rows tr[data-row='{last}'] [data-action=up]").click()
    screenshot(f"60-procedures-{lang}")
    _fits(page)
    page.click("#codes-save")
    expect(page.locator("#toast")).to_have_text(
        "结案代码已保存。" if lang == "zh" else "Outcome codes saved.", timeout=UI_TIMEOUT_MS
    )
    with live.services.uow() as uow:
        codes = outcome_codes(uow.session)
    assert [c.code for c in codes][-2:] == ["wandered_off", "other"]
    assert codes[-2].labels == {"en": "Wandered off, found", "zh-CN": "走失后找到"}

    # Back to the defaults for both.
    page.click("#codes-reset")
    expect(page.locator("#codes-rows tbody tr")).to_have_count(7, timeout=UI_TIMEOUT_MS)
    page.click("#script-reset")
    expect(page.locator("#script-inherited")).to_be_visible(timeout=UI_TIMEOUT_MS)
    with live.services.uow() as uow:
        assert get_script(uow.session, CaseKind.EMERGENCY, ServiceLine.MEDICAL).line == ""
        assert "wandered_off" not in [c.code for c in outcome_codes(uow.session)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_admin_edits_the_emergency_ladder_and_is_told_what_is_wrong(
    live_console: LiveConsole, desk: Page, screenshot: Shot, lang: str
) -> None:
    live, page = live_console, desk
    _sign_in(page, live, "wang.admin", "admin", lang)
    page.click("[data-route=ladders]")
    expect(page.locator("#ladder-kind")).to_have_value("emergency", timeout=UI_TIMEOUT_MS)
    expect(page.locator("fieldset.ladder-step")).to_have_count(3, timeout=UI_TIMEOUT_MS)
    expect(page.locator("#ladder-2-flag")).to_have_value("call 120")

    # A negative delay: the field is marked and the reason listed; nothing is written.
    page.fill("#ladder-1-after", "-5")
    page.fill("#ladder-repeat-every", "soon")
    page.click("#ladder-save")
    expect(page.locator("#ladder-1-after")).to_have_attribute(
        "aria-invalid", "true", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#ladder-repeat-every")).to_have_attribute("aria-invalid", "true")
    error = page.locator("#ladder-error")
    expect(error).to_contain_text("太小" if lang == "zh" else "Step 2 · Delay: Too small.")
    screenshot(f"61-ladder-refused-{lang}")
    with live.services.uow() as uow:
        assert is_default_ladder(uow.session, CaseKind.EMERGENCY)

    # A rule the service checks (the first step runs at once) is said in its words.
    page.fill("#ladder-1-after", "90")
    page.fill("#ladder-repeat-every", "600")
    page.fill("#ladder-0-after", "5")
    page.click("#ladder-save")
    expect(error).to_contain_text("after_s must be 0", timeout=UI_TIMEOUT_MS)
    with live.services.uow() as uow:
        assert is_default_ladder(uow.session, CaseKind.EMERGENCY)

    # Fixed: step 2 comes after 90 s and also calls the supervisor; the last repeats twice.
    page.fill("#ladder-0-after", "0")
    page.click("#ladder-1-add-target")
    page.select_option("#ladder-1-3-audience", "supervisor")
    page.check("#ladder-1-3-voice")
    page.uncheck("#ladder-1-3-sms")
    page.fill("#ladder-repeat", "2")
    page.click("#ladder-save")
    expect(page.locator("#ladder-default")).to_have_text(
        "中心已修改" if lang == "zh" else "Edited by the centre", timeout=UI_TIMEOUT_MS
    )
    expect(error).to_have_text("")
    screenshot(f"62-ladder-saved-{lang}")
    _fits(page)
    with live.services.uow() as uow:
        ladder = get_ladder(uow.session, CaseKind.EMERGENCY)
    assert [s.after_s for s in ladder.steps] == [0, 90, 300]
    added = ladder.steps[1].notify[-1]
    assert (added.audience, added.channels) == (Audience.SUPERVISOR, ("voice",))
    assert (ladder.repeat, ladder.repeat_every_s) == (2, 600)

    page.click("#ladder-reset")
    expect(page.locator("#ladder-default")).to_have_text(
        "默认" if lang == "zh" else "Default", timeout=UI_TIMEOUT_MS
    )
    with live.services.uow() as uow:
        assert is_default_ladder(uow.session, CaseKind.EMERGENCY)


def test_an_operator_sees_no_editor(live_console: LiveConsole, desk: Page) -> None:
    live, page = live_console, desk
    _sign_in(page, live, "li.na", "operator", "en")
    expect(page.locator("[data-route=procedures]")).to_be_hidden()
    expect(page.locator("[data-route=ladders]")).to_be_hidden()
    page.goto("/#/procedures")
    expect(page.locator("#procedures-admin-only")).to_have_text(
        "Only an administrator edits this.", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#script-save")).to_have_count(0)
    page.goto("/#/ladders")
    expect(page.locator("#ladders-admin-only")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("#ladder-save")).to_have_count(0)


def test_without_sso_set_up_the_login_offers_none(page: Page) -> None:
    """Without VNH_OIDC_ISSUER (conftest's services) the login shows no single sign-on."""
    page.goto("/")
    expect(page.locator("#password-submit")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    expect(page.locator("#sso-box")).to_be_hidden()
