"""Answer-time figures (issue 9): answered within 60 s / 180 s, on site p50/p90, shifts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.answer_times import (
    DAY,
    NIGHT,
    EmergencyFacts,
    ShiftHours,
    answer_times,
    share_within,
    shift_of,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NOW = T0 + timedelta(days=1)


def answered(after_s: float, *, on_site_min: float | None = None, **more: object) -> EmergencyFacts:
    on_site = T0 + timedelta(minutes=on_site_min) if on_site_min is not None else None
    return EmergencyFacts(
        opened_at=T0,
        acknowledged_at=T0 + timedelta(seconds=after_s),
        on_site_at=on_site,
        **more,  # type: ignore[arg-type]
    )


def test_shares_within_60_and_180_seconds() -> None:
    facts = [answered(30), answered(59), answered(61), answered(179), answered(400)]
    figures = answer_times(facts, now=NOW, tz=SHANGHAI, hours=ShiftHours()).overall
    assert figures.emergencies == 5
    assert figures.within == {60: 2 / 5, 180: 4 / 5}


def test_nobody_answered_is_a_miss_once_the_limit_passed() -> None:
    unanswered = EmergencyFacts(opened_at=T0)
    assert share_within([answered(10), unanswered], 60, NOW) == 0.5
    # 40 s after the press it may still be answered in time: not counted yet.
    assert share_within([answered(10), unanswered], 60, T0 + timedelta(seconds=40)) == 1.0


def test_cancelled_before_the_limit_is_left_out_after_it_a_miss() -> None:
    early = EmergencyFacts(opened_at=T0, cancelled_at=T0 + timedelta(seconds=20))
    late = EmergencyFacts(opened_at=T0, cancelled_at=T0 + timedelta(seconds=100))
    assert share_within([answered(10), early], 60, NOW) == 1.0
    assert share_within([answered(10), late], 60, NOW) == 0.5
    assert share_within([answered(10), late], 180, NOW) == 1.0
    assert share_within([early], 60, NOW) is None


def test_time_on_site_percentiles() -> None:
    facts = [answered(20, on_site_min=m) for m in (10, 12, 15, 20, 40)] + [answered(20)]
    figures = answer_times(facts, now=NOW, tz=SHANGHAI, hours=ShiftHours()).overall
    assert (figures.on_site, figures.on_site_p50_s, figures.on_site_p90_s) == (5, 900, 2400)


@pytest.mark.parametrize(
    ("local_hour", "shift"), [(8, DAY), (13, DAY), (19, DAY), (20, NIGHT), (23, NIGHT), (3, NIGHT)]
)
def test_shift_by_the_centres_local_clock(local_hour: int, shift: str) -> None:
    moment = datetime(2026, 11, 22, local_hour, 30, tzinfo=SHANGHAI).astimezone(UTC)
    assert shift_of(moment, SHANGHAI, ShiftHours()) == shift


def test_night_shift_hours_may_wrap_either_way() -> None:
    late_day = ShiftHours(day_start=22, night_start=6)  # a "day" of 22–06
    at = datetime(2026, 11, 22, 23, 0, tzinfo=SHANGHAI)
    assert shift_of(at, SHANGHAI, late_day) == DAY
    with pytest.raises(ValueError, match="different hours"):
        ShiftHours(8, 8)


def test_split_by_district_and_by_the_shift_that_answered() -> None:
    night_ack = EmergencyFacts(
        opened_at=datetime(2026, 11, 22, 19, 59, 30, tzinfo=SHANGHAI),
        acknowledged_at=datetime(2026, 11, 22, 20, 0, 30, tzinfo=SHANGHAI),
        district="east",
    )
    facts = [answered(30, district="east"), answered(200, district="west"), night_ack]
    times = answer_times(facts, now=NOW, tz=SHANGHAI, hours=ShiftHours())
    assert {d: f.emergencies for d, f in times.by_district.items()} == {"east": 2, "west": 1}
    assert times.by_district["west"].within[180] == 0.0
    assert {s: f.emergencies for s, f in times.by_shift.items()} == {DAY: 2, NIGHT: 1}
    assert times.targets == {60: 0.975, 180: 0.99}


@given(st.lists(st.floats(min_value=0, max_value=3600), max_size=30))
def test_within_180_is_never_below_within_60(waits: list[float]) -> None:
    facts = [answered(w) for w in waits]
    a, b = share_within(facts, 60, NOW), share_within(facts, 180, NOW)
    assert (a is None) == (b is None) == (not waits)
    if a is not None and b is not None:
        assert 0 <= a <= b <= 1
