"""Server-made texts kept as catalogue keys: English where a string is read, any language later."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from alerts.ladder import spoken
from alerts.sms_segments import sms_segments
from care_api.domain.cases import summary_for
from care_api.domain.model import CaseKind
from care_api.domain.texts import Msg, joined, msg_json, stored_text, term
from care_api.i18n import render, t


def test_server_texts_a_msg_reads_as_english_and_renders_in_chinese() -> None:
    title = summary_for(
        CaseKind.EMERGENCY,
        Msg("{button} {pattern} press", button=term("main"), pattern=term("long")),
    )
    assert title == "Emergency (main long press)"
    assert render("zh-CN", title) == "紧急求助（主键长按）"
    assert render("en", title) == "Emergency (main long press)"


def test_server_texts_survive_the_json_column_and_old_rows_read_as_written() -> None:
    due = datetime(2026, 12, 4, 15, 10, tzinfo=UTC)
    why = Msg(
        "{matter}: {days} working day(s), due by {due}", matter=term("general"), days=5, due=due
    )
    stored = msg_json(why)
    assert stored is not None
    back = stored_text(str(why), stored)
    assert back == why == "general: 5 working day(s), due by 2026-12-04 15:10"
    assert render("zh-CN", back) == "一般事项：5个工作日，2026年12月04日 15:10前办结"
    # A row from before 0024 has no key; a key whose fields no longer fit keeps its text.
    assert stored_text("alerts sent", None) == "alerts sent"
    assert render("zh-CN", stored_text("as typed", {"key": "{gone}", "fields": {}})) == "as typed"
    assert msg_json("plain") is None


def test_server_texts_a_list_of_reasons_is_said_in_one_language() -> None:
    reasons = joined([Msg("no other contacts"), Msg("no volunteer near")])
    assert reasons == "no other contacts, no volunteer near"
    assert render("zh-CN", reasons) == "没有其他联系人、附近没有志愿者"
    assert joined([]) == ""


def test_server_texts_unknown_words_stay_as_they_are() -> None:
    assert term("Zhang") == "Zhang" and not isinstance(term("Zhang"), Msg)
    assert render("zh-CN", term("sms")) == "短信"


@given(st.text(alphabet="0123456789", min_size=3, max_size=12))
def test_server_texts_a_voice_reads_long_numbers_digit_by_digit(digits: str) -> None:
    said = spoken(f"call {digits} now")
    assert said == f"call {' '.join(digits)} now"


def test_server_texts_a_voice_says_a_case_by_its_short_code() -> None:
    assert spoken("You have case C-20261122-0007.") == "You have case 0 0 0 7."
    assert spoken("phone +8613800000000") == "phone 8 6 1 3 8 0 0 0 0 0 0 0 0"


def test_server_texts_chinese_emergency_notices_fit_two_segments() -> None:
    usual = {
        "case": "C-20261204-0007",
        "elder": "张秀英",
        "address": "金华市婺城区五一路3号2单元401室",
        "owner": "李娜（女儿）",
        "minutes": 30,
        "phone": "+8613800000000",
    }
    for key in (
        "EMERGENCY {case}: {elder} at {address}. {owner} took it {minutes} min ago but is not "
        "on site yet. Please check on {elder} or call the centre.",
        "You have case {case}: {elder}, {address}, phone {phone}. Please go now; the centre is "
        "informed. Reply 3 when you are with them.",
    ):
        assert sms_segments(t("zh-CN", key, **usual)) <= 2
