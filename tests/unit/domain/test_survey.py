"""The callback survey's rules: keys, question order, and the working-hours slot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.survey import (
    OK,
    PRICE_OK,
    SATISFACTION,
    TIME_OK,
    callback_result,
    callback_slot,
    next_question,
    questions,
    read_key,
)
from care_api.domain.workdays import WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def slot(at: datetime, calendar: WorkCalendar | None = None) -> datetime:
    return callback_slot(
        at, tz=SHANGHAI, calendar=calendar or WorkCalendar(), start_hour=8, end_hour=20
    )


def test_survey_asks_the_price_only_where_a_merchant_served() -> None:
    assert questions(False) == (OK, SATISFACTION, TIME_OK)
    assert questions(True) == (OK, SATISFACTION, TIME_OK, PRICE_OK)
    assert next_question(TIME_OK, questions(False)) is None
    assert next_question(TIME_OK, questions(True)) == PRICE_OK
    assert next_question("", questions(False)) == OK


@given(st.text(max_size=4))
def test_survey_keys_only_answer_what_they_mean(digits: str) -> None:
    score = read_key(SATISFACTION, digits)
    yes_no = read_key(TIME_OK, digits)
    assert score is None or (digits.strip() in "12345" and score == int(digits))
    assert yes_no is None or yes_no is (digits.strip() == "1")
    if digits.strip() not in {"1", "2"}:
        assert yes_no is None


def test_survey_result_is_the_typed_callback_fields() -> None:
    result = callback_result({OK: True, SATISFACTION: 5, TIME_OK: False})
    assert result == {
        "reached": True,
        "satisfaction": 5,
        "time_ok": False,
        "price_ok": None,
        "comment": "callback by machine",
    }


def test_callback_slot_waits_for_working_hours_and_working_days() -> None:
    monday_9 = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
    assert slot(monday_9) == monday_9
    friday_21 = datetime(2026, 11, 27, 21, 0, tzinfo=SHANGHAI)
    assert slot(friday_21) == datetime(2026, 11, 30, 8, 0, tzinfo=SHANGHAI)
    holiday = WorkCalendar({date(2026, 11, 23): False})
    sunday_noon = datetime(2026, 11, 22, 12, 0, tzinfo=SHANGHAI)
    assert slot(sunday_noon, holiday) == datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)))
def test_callback_slot_is_never_earlier_and_always_in_hours(naive: datetime) -> None:
    at = naive.replace(tzinfo=UTC)
    found = slot(at)
    local = found.astimezone(SHANGHAI)
    assert found >= at
    assert 8 <= local.hour < 20
    assert local.weekday() < 5
    assert found - at < timedelta(days=4)
