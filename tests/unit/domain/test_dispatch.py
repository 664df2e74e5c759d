"""Merchant dispatch, pure: nearest / fair / best scoring, order eligibility, and the cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from care_api.domain.dispatch import (
    Candidate,
    MerchantStatus,
    Ranked,
    Strategy,
    is_bad_callback,
    may_take_orders,
    nearness,
    rank_merchants,
    standing_of,
    status_for_strikes,
)

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NEAR_BUSY_AVERAGE = Candidate(1, distance_km=1.0, rating=3.0, recent_orders=10)
FAR_IDLE_AVERAGE = Candidate(2, distance_km=12.0, rating=3.0, recent_orders=0)
MID_BUSY_BEST = Candidate(3, distance_km=6.0, rating=5.0, recent_orders=10)
ALL = [NEAR_BUSY_AVERAGE, FAR_IDLE_AVERAGE, MID_BUSY_BEST]


def ids(strategy: Strategy) -> list[int]:
    return [r.candidate.merchant_id for r in rank_merchants(ALL, strategy)]


def test_rank_each_strategy_puts_its_own_virtue_first() -> None:
    assert ids(Strategy.NEAREST) == [1, 3, 2]
    assert ids(Strategy.FAIR) == [2, 1, 3]  # the idle one, then nearer of the busy ones
    assert ids(Strategy.BEST) == [3, 1, 2]  # equal ratings: the nearer first


def test_rank_balanced_weighs_all_three() -> None:
    ranked = rank_merchants(ALL)
    scores = {r.candidate.merchant_id: r.score for r in ranked}
    # 0.4 × nearness + 0.3 × fairness + 0.3 × rating/5:
    # near 0.38 + 0 + 0.18; far 0.16 + 0.3 + 0.18; mid 0.28 + 0 + 0.3
    assert scores == pytest.approx({1: 0.56, 2: 0.64, 3: 0.58})
    assert [r.candidate.merchant_id for r in ranked] == [2, 3, 1]


def test_rank_equal_shares_are_all_fair_and_ties_go_to_the_lower_id() -> None:
    twins = [Candidate(9, 2.0, 4.0, 3), Candidate(4, 2.0, 4.0, 3)]
    ranked = rank_merchants(twins, Strategy.FAIR)
    assert [r.fairness for r in ranked] == [1.0, 1.0]
    assert [r.candidate.merchant_id for r in ranked] == [4, 9]
    assert rank_merchants([]) == []


def test_nearness_falls_to_zero_and_unknown_distance_scores_nothing() -> None:
    assert nearness(0) == 1.0
    assert nearness(10) == pytest.approx(0.5)
    assert nearness(40) == 0.0
    assert nearness(None) == 0.0
    unknown = Candidate(5, None, 5.0, 0)
    assert ids_of(rank_merchants([unknown, NEAR_BUSY_AVERAGE], Strategy.NEAREST)) == [1, 5]


def ids_of(ranked: list[Ranked]) -> list[int]:
    return [r.candidate.merchant_id for r in ranked]


@pytest.mark.parametrize(
    ("status", "red_until", "expected"),
    [
        ("active", None, True),
        ("yellow", None, True),
        ("red", NOW + timedelta(days=1), False),
        ("red", NOW, True),  # the red card has run out
        ("removed", None, False),
    ],
)
def test_may_take_orders_follows_the_card(
    status: str, red_until: datetime | None, expected: bool
) -> None:
    assert may_take_orders(status, red_until, NOW) is expected


def test_cards_yellow_red_then_removed() -> None:
    assert [status_for_strikes(n) for n in range(5)] == [
        MerchantStatus.ACTIVE,
        MerchantStatus.YELLOW,
        MerchantStatus.RED,
        MerchantStatus.REMOVED,
        MerchantStatus.REMOVED,
    ]


def test_standing_red_card_runs_from_the_second_strike_in_force() -> None:
    period = timedelta(days=30)
    first, second, third = NOW, NOW + timedelta(days=1), NOW + timedelta(days=2)
    assert standing_of([second, first], period).red_until == second + period
    # The first of three revoked: red again, dated from the strike that is now second.
    assert standing_of([second, third], period).red_until == third + period
    assert standing_of([first, second, third], period).status is MerchantStatus.REMOVED
    assert standing_of([], period).status is MerchantStatus.ACTIVE


@pytest.mark.parametrize(
    ("quality", "satisfaction", "bad"),
    [
        (5, 5, False),
        (2, 5, True),
        (5, 1, True),
        (3, 3, False),
        (None, None, False),
        (None, 2, True),
    ],
)
def test_bad_callback_is_a_low_quality_or_satisfaction(
    quality: int | None, satisfaction: int | None, bad: bool
) -> None:
    assert is_bad_callback(quality, satisfaction) is bad
