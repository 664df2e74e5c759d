"""Check-in windows, pure: bounds in local time, the next check, presses that count, days off."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.checkins import (
    check_window,
    is_checkin_press,
    is_day_off,
    is_open,
    next_window_end,
    parse_hhmm,
    was_kept,
    window_bounds,
)
from care_api.domain.workdays import WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
EIGHT, TEN = time(8), time(10)


def test_window_bounds_are_local_times() -> None:
    opens, closes = window_bounds(date(2026, 11, 23), EIGHT, TEN, SHANGHAI)
    assert (opens, closes) == (
        datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
    )


def test_next_check_is_the_next_close_strictly_after() -> None:
    before = datetime(2026, 11, 23, 9, 59, tzinfo=SHANGHAI)
    at_close = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    assert next_window_end(before, EIGHT, TEN, SHANGHAI) == at_close
    assert next_window_end(at_close, EIGHT, TEN, SHANGHAI) == datetime(
        2026, 11, 24, 10, 0, tzinfo=SHANGHAI
    )


def test_a_window_across_the_clock_change_keeps_its_local_hours() -> None:
    # Berlin leaves summer time on 25 October 2026 at 03:00.
    after = datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN)
    closes = next_window_end(after, EIGHT, TEN, BERLIN)
    assert closes.astimezone(BERLIN).hour == 10 and closes.astimezone(UTC).hour == 9


@pytest.mark.parametrize(
    ("start", "end"), [("10:00", "09:00"), ("08:00", "08:10"), ("8:00", "9:00")]
)
def test_bad_windows_are_refused(start: str, end: str) -> None:
    with pytest.raises(ValueError):
        check_window(start, end)


def test_open_is_half_open() -> None:
    assert is_open(datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI), EIGHT, TEN, SHANGHAI)
    assert not is_open(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI), EIGHT, TEN, SHANGHAI)


def test_which_presses_say_i_am_ok() -> None:
    assert is_checkin_press("main", "single") and is_checkin_press("ok", "long")
    assert not is_checkin_press("main", "long") and not is_checkin_press("sos", "single")


def test_days_off_are_away_days_and_public_holidays_not_weekends() -> None:
    calendar = WorkCalendar({date(2026, 10, 1): False, date(2026, 10, 10): True})
    sunday = date(2026, 11, 22)
    assert is_day_off(date(2026, 10, 1), calendar, set(), holidays_off=True)
    assert not is_day_off(date(2026, 10, 1), calendar, set(), holidays_off=False)
    assert not is_day_off(sunday, calendar, set(), holidays_off=True)
    assert is_day_off(sunday, calendar, {sunday}, holidays_off=False)


def test_kept_only_by_a_press_inside_the_window() -> None:
    opens, closes = window_bounds(date(2026, 11, 23), EIGHT, TEN, SHANGHAI)
    assert was_kept(opens, opens, closes) and not was_kept(closes, opens, closes)
    assert not was_kept(None, opens, closes)


@given(st.text(max_size=8))
def test_parse_hhmm_accepts_only_hh_mm(text: str) -> None:
    try:
        parsed = parse_hhmm(text)
    except ValueError:
        return
    assert text == parsed.strftime("%H:%M")
