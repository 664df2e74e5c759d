"""The storm rule: which areas storm, from signals alone (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.storms import (
    ALL,
    Area,
    Scope,
    Signal,
    StormRule,
    Trouble,
    find_storms,
    may_close,
)

NOW = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
RULE = StormRule()

signals = st.builds(
    Signal,
    device_id=st.sampled_from([f"T{i}" for i in range(60)]),
    trouble=st.sampled_from(list(Trouble)),
    at=st.integers(min_value=-300, max_value=10).map(lambda s: NOW + timedelta(seconds=s)),
    district=st.sampled_from(["", "Huangpu", "Xuhui"]),
    hub=st.sampled_from(["", "/dev/ttyUSB0"]),
)
sizes = st.fixed_dictionaries(
    {
        Area(Scope.DISTRICT, "Huangpu"): st.integers(0, 2000),
        Area(Scope.DISTRICT, "Xuhui"): st.integers(0, 2000),
        Area(Scope.HUB, "/dev/ttyUSB0"): st.integers(0, 500),
        ALL: st.integers(0, 5000),
    }
)


def _in_window(signal: Signal) -> bool:
    return NOW - timedelta(seconds=RULE.window_s) <= signal.at <= NOW


@given(st.lists(signals, max_size=200), sizes)
def test_never_a_storm_below_the_threshold(found: list[Signal], size: dict[Area, int]) -> None:
    for storm in find_storms(found, size, RULE, NOW):
        distinct = {s.device_id for s in found if _in_window(s) and storm.area in s.areas()}
        area_size = max(size.get(storm.area, 0), len(distinct))
        assert len(distinct) >= RULE.threshold(storm.area, area_size)


@given(st.lists(signals, max_size=200), sizes)
def test_the_count_is_the_distinct_terminals_of_the_window(
    found: list[Signal], size: dict[Area, int]
) -> None:
    for storm in find_storms(found, size, RULE, NOW):
        distinct = {s.device_id for s in found if _in_window(s) and storm.area in s.areas()}
        assert storm.terminals == distinct
        assert storm.count == len(distinct)
        assert storm.since == min(s.at for s in found if _in_window(s) and storm.area in s.areas())


@given(st.lists(signals, max_size=200), sizes)
def test_resends_of_one_terminal_never_make_a_storm(
    found: list[Signal], size: dict[Area, int]
) -> None:
    one = [Signal("T1", s.trouble, s.at, s.district, s.hub) for s in found]
    assert find_storms(one, size, RULE, NOW) == []


def test_twenty_terminals_of_a_district_within_two_minutes_storm() -> None:
    huangpu = Area(Scope.DISTRICT, "Huangpu")
    twenty = [
        Signal(f"T{i}", Trouble.POWER_LOST, NOW - timedelta(seconds=i), "Huangpu")
        for i in range(20)
    ]
    [storm] = find_storms(twenty, {huangpu: 10_000, ALL: 50_000}, RULE, NOW)
    assert (storm.area, storm.trouble, storm.count) == (huangpu, Trouble.POWER_LOST, 20)
    assert storm.since == NOW - timedelta(seconds=19)
    assert find_storms(twenty[:19], {huangpu: 10_000, ALL: 50_000}, RULE, NOW) == []


def test_five_percent_of_a_small_district_storms_but_never_fewer_than_the_floor() -> None:
    small = Area(Scope.DISTRICT, "Xuhui")
    assert RULE.threshold(small, 200) == 10  # 5 % of 200
    assert RULE.threshold(small, 20) == 5  # 5 % would be 1: the floor
    assert RULE.threshold(ALL, 100_000) == 5_000  # the whole fleet: its share only


def test_signals_outside_the_window_count_for_nothing() -> None:
    old = [
        Signal(f"T{i}", Trouble.OFFLINE, NOW - timedelta(seconds=121), "Huangpu") for i in range(30)
    ]
    assert find_storms(old, {}, RULE, NOW) == []


def test_an_incident_closes_when_most_of_its_terminals_are_back() -> None:
    assert not may_close(100, 79, 0.8)
    assert may_close(100, 80, 0.8)
    assert not may_close(0, 0, 0.8)


def test_a_lone_power_loss_settles_others_hold_and_a_lone_silence_waits_for_nothing() -> None:
    rule = StormRule()
    assert rule.wait_s(Trouble.POWER_LOST, others=False) == rule.settle_s == 30
    assert rule.wait_s(Trouble.POWER_LOST, others=True) == rule.hold_s == 60
    assert rule.wait_s(Trouble.OFFLINE, others=True) == rule.hold_s
    assert rule.wait_s(Trouble.OFFLINE, others=False) == 0  # silent 3 intervals already
    assert StormRule(settle_s=0).wait_s(Trouble.POWER_LOST, others=False) == 0
