"""Working days: holidays, make-up days, due dates at the end of the local day, extensions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.workdays import (
    Matter,
    WorkCalendar,
    add_working_days,
    due_for,
    end_of_day,
    extended_due,
    working_days_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLAIN = WorkCalendar()
SUNDAY = date(2026, 11, 22)
# Monday the 23rd a holiday, Saturday the 28th a make-up working day (调休).
HOLIDAYS = WorkCalendar({date(2026, 11, 23): False, date(2026, 11, 28): True})
some_calendar = st.dictionaries(
    st.dates(date(2026, 1, 1), date(2027, 12, 31)), st.booleans(), max_size=40
).map(WorkCalendar)


def test_workdays_weekdays_work_and_overrides_win() -> None:
    assert [PLAIN.is_working_day(SUNDAY + timedelta(days=i)) for i in range(7)] == [
        False,  # Sun
        True,
        True,
        True,
        True,
        True,  # Fri
        False,  # Sat
    ]
    assert not HOLIDAYS.is_working_day(date(2026, 11, 23))
    assert HOLIDAYS.is_working_day(date(2026, 11, 28))


def test_workdays_add_skips_weekends_and_holidays() -> None:
    assert add_working_days(SUNDAY, 1, PLAIN) == date(2026, 11, 23)
    assert add_working_days(SUNDAY, 1, HOLIDAYS) == date(2026, 11, 24)
    assert add_working_days(date(2026, 11, 27), 1, PLAIN) == date(2026, 11, 30)  # Fri → Mon
    assert add_working_days(SUNDAY, 5, HOLIDAYS) == date(2026, 11, 28)  # the make-up Saturday
    assert add_working_days(SUNDAY, 0, PLAIN) == SUNDAY


def test_workdays_calendar_without_working_days_is_refused() -> None:
    never = WorkCalendar({SUNDAY + timedelta(days=i): False for i in range(4000)})
    with pytest.raises(ValueError, match="no 1 working days"):
        add_working_days(SUNDAY, 1, never)


def test_workdays_due_is_the_local_midnight_ending_the_last_day() -> None:
    filed = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # Sunday 16:00 in Shanghai
    assert due_for(filed, Matter.DEPARTMENT, HOLIDAYS, SHANGHAI) == datetime(
        2026, 11, 24, 16, 0, tzinfo=UTC
    )
    assert due_for(filed, Matter.GENERAL, HOLIDAYS, SHANGHAI) == end_of_day(
        date(2026, 11, 28), SHANGHAI
    )
    late_evening = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)  # Tuesday 01:30 local
    assert due_for(late_evening, Matter.DEPARTMENT, PLAIN, SHANGHAI) == end_of_day(
        date(2026, 11, 25), SHANGHAI
    )


def test_workdays_extension_counts_from_the_due_day_and_is_capped() -> None:
    due = end_of_day(date(2026, 11, 24), SHANGHAI)
    assert extended_due(due, 3, PLAIN, SHANGHAI) == end_of_day(date(2026, 11, 27), SHANGHAI)
    for days in (0, 16):
        with pytest.raises(ValueError, match="1 to 15"):
            extended_due(due, days, PLAIN, SHANGHAI)


@given(
    start=st.dates(date(2026, 1, 1), date(2027, 12, 31)), days=st.integers(0, 40), cal=some_calendar
)
def test_workdays_add_lands_on_a_working_day_exactly_days_later(
    start: date, days: int, cal: WorkCalendar
) -> None:
    due = add_working_days(start, days, cal)
    assert working_days_between(start, due, cal) == days
    if days:
        assert cal.is_working_day(due)
        assert due > start
