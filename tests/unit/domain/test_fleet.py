"""The fleet's pure rules: silence, battery crossings, intervals, durations for people."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.fleet import (
    BatteryChange,
    battery_change,
    check_heartbeat_s,
    describe_duration,
    is_silent,
)

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_fleet_silent_after_three_of_its_own_intervals() -> None:
    assert not is_silent(NOW - timedelta(seconds=900), 300, NOW)
    assert is_silent(NOW - timedelta(seconds=901), 300, NOW)
    assert is_silent(NOW - timedelta(seconds=181), 60, NOW)
    assert not is_silent(None, 300, NOW)  # never heard from: not an outage


@pytest.mark.parametrize(
    ("was_low", "level", "change"),
    [
        (False, 19, BatteryChange.CROSSED_LOW),
        (False, 20, None),
        (True, 20, None),
        (True, 5, None),
        (True, 21, BatteryChange.RECOVERED),
        (False, 80, None),
    ],
)
def test_fleet_battery_changes_only_on_a_crossing(
    was_low: bool, level: int, change: BatteryChange | None
) -> None:
    assert battery_change(was_low, level) is change


@given(st.lists(st.integers(0, 100), max_size=50))
def test_fleet_battery_crossings_alternate(levels: list[int]) -> None:
    low, changes = False, []
    for level in levels:
        change = battery_change(low, level)
        if change is not None:
            changes.append(change)
            low = change is BatteryChange.CROSSED_LOW
    assert all(a is not b for a, b in itertools.pairwise(changes))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (1050, "17 min 30 s"), (7500, "2 h 5 min"), (3600, "1 h"), (273_600, "3 d 4 h")],
)
def test_fleet_durations_read_like_people_say_them(seconds: int, text: str) -> None:
    assert describe_duration(timedelta(seconds=seconds)) == text


@pytest.mark.parametrize("bad", [0, -1, 86_401, 1.5, "300", True, None])
def test_fleet_heartbeat_interval_is_checked(bad: object) -> None:
    with pytest.raises(ValueError, match="heartbeat_s"):
        check_heartbeat_s(bad)
    assert check_heartbeat_s(300) == 300
