"""Rotas and hours: who is on duty at a moment, and whether weekly hours are open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.rota import (
    DutyRole,
    Shift,
    check_shift_span,
    is_on_duty,
    is_open,
    on_duty,
    supervisor_on_duty,
)
from care_api.domain.volunteering import WEEKDAYS

BASE = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
minutes = st.integers(0, 7 * 24 * 60)


@st.composite
def shifts(draw: st.DrawFn, shift_id: int = 1) -> Shift:
    start = BASE + timedelta(minutes=draw(minutes))
    length = timedelta(minutes=draw(st.integers(1, 24 * 60)))
    role = draw(st.sampled_from(DutyRole))
    return Shift(shift_id, f"p{shift_id}", role, "+8613700000000", start, start + length)


@st.composite
def rotas(draw: st.DrawFn) -> list[Shift]:
    count = draw(st.integers(0, 8))
    return [draw(shifts(i + 1)) for i in range(count)]


@given(shifts(), minutes)
def test_on_duty_from_start_up_to_not_including_end(shift: Shift, at_min: int) -> None:
    at = BASE + timedelta(minutes=at_min)
    assert is_on_duty(shift, at) == (shift.start <= at < shift.end)
    assert is_on_duty(shift, shift.start)
    assert not is_on_duty(shift, shift.end)


@given(rotas(), minutes)
def test_supervisor_on_duty_is_a_running_supervisor_who_started_last(
    rota: list[Shift], at_min: int
) -> None:
    at = BASE + timedelta(minutes=at_min)
    chosen = supervisor_on_duty(rota, at)
    running = [s for s in rota if s.role is DutyRole.SUPERVISOR and s.start <= at < s.end]
    if not running:
        assert chosen is None
        return
    assert chosen in running
    assert chosen is not None and chosen.start == max(s.start for s in running)
    assert on_duty(rota, at, DutyRole.SUPERVISOR)[0] == chosen


@given(rotas(), minutes)
def test_on_duty_lists_exactly_the_running_shifts(rota: list[Shift], at_min: int) -> None:
    at = BASE + timedelta(minutes=at_min)
    assert {s.shift_id for s in on_duty(rota, at)} == {
        s.shift_id for s in rota if is_on_duty(s, at)
    }


def test_handover_overlap_goes_to_the_incoming_supervisor() -> None:
    day = Shift(1, "Day", DutyRole.SUPERVISOR, "1", BASE, BASE + timedelta(hours=12, minutes=15))
    night = Shift(
        2, "Night", DutyRole.SUPERVISOR, "2", BASE + timedelta(hours=12), BASE + timedelta(hours=24)
    )
    assert supervisor_on_duty([day, night], BASE + timedelta(hours=11)) == day
    assert supervisor_on_duty([day, night], BASE + timedelta(hours=12, minutes=5)) == night
    assert supervisor_on_duty([day, night], BASE + timedelta(hours=24)) is None


def test_shift_span_checks() -> None:
    check_shift_span(BASE, BASE + timedelta(hours=8))
    for end in (BASE, BASE - timedelta(minutes=1), BASE + timedelta(days=8)):
        with pytest.raises(ValueError):
            check_shift_span(BASE, end)
    with pytest.raises(ValueError, match="offset"):
        check_shift_span(BASE.replace(tzinfo=None), BASE.replace(tzinfo=None) + timedelta(hours=1))


@given(minutes)
def test_no_hours_is_always_open_and_an_empty_table_never(at_min: int) -> None:
    at = BASE + timedelta(minutes=at_min)
    assert is_open(None, at)
    assert not is_open({}, at)


@given(
    st.sampled_from(WEEKDAYS),
    st.integers(0, 23 * 60),
    st.integers(1, 60),
    minutes,
)
def test_open_exactly_inside_the_day_span(day: str, start: int, length: int, at_min: int) -> None:
    end = min(start + length, 24 * 60)
    span = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    at = BASE + timedelta(minutes=at_min)
    minute = at.hour * 60 + at.minute
    expected = WEEKDAYS[at.weekday()] == day and start <= minute < end
    assert is_open({day: [span]}, at) == expected


def test_merchant_open_in_the_centres_local_time() -> None:
    hours = {"mon": ["08:00-20:00"]}
    shanghai_morning = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in UTC+8
    assert is_open(hours, shanghai_morning.astimezone(ZoneInfo("Asia/Shanghai")))
    assert not is_open(hours, shanghai_morning)  # 01:00 UTC: closed
