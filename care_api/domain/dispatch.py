"""Merchant dispatch, pure: nearest, fair, best (就近、公平、择优) and the cards of a bad record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

CONTACT_LIMIT_S = 10 * 60  # the merchant confirms contact with the elder within this
FAIR_WINDOW_DAYS = 30  # "an even share of orders" counts the orders of this many days
NEAR_LIMIT_KM = 20.0  # a merchant this far or farther scores nothing for nearness
MAX_RATING = 5.0
BAD_SCORE_MAX = 2  # a callback scoring this or less on quality or satisfaction is a strike


class Strategy(StrEnum):
    """How the operator wants the merchant chosen."""

    BALANCED = "balanced"  # all three together (the default)
    NEAREST = "nearest"
    FAIR = "fair"
    BEST = "best"


# (nearness, fairness, quality) weights; the others still break ties.
WEIGHTS: dict[Strategy, tuple[float, float, float]] = {
    Strategy.BALANCED: (0.4, 0.3, 0.3),
    Strategy.NEAREST: (1.0, 0.0, 0.0),
    Strategy.FAIR: (0.0, 1.0, 0.0),
    Strategy.BEST: (0.0, 0.0, 1.0),
}


class MerchantStatus(StrEnum):
    """A merchant's standing: each strike moves one step down, an admin's revoke one up."""

    ACTIVE = "active"
    YELLOW = "yellow"  # warned; still gets orders
    RED = "red"  # suspended from new orders (停单) until red_until
    REMOVED = "removed"  # the third strike


@dataclass(frozen=True, slots=True)
class Candidate:
    """A merchant of the right category, as the scoring sees them."""

    merchant_id: int
    distance_km: float | None  # None when the elder or the merchant has no location
    rating: float  # 0–5
    recent_orders: int  # orders given to them in the last FAIR_WINDOW_DAYS


@dataclass(frozen=True, slots=True)
class Ranked:
    """A candidate with its score (0–1) and the three parts it is made of."""

    candidate: Candidate
    score: float
    nearness: float
    fairness: float
    quality: float


def may_take_orders(status: str, red_until: datetime | None, now: datetime) -> bool:
    """Active and yellow-carded merchants take orders; a red card only once its time is up."""
    if status in (MerchantStatus.ACTIVE, MerchantStatus.YELLOW):
        return True
    if status == MerchantStatus.RED:
        return red_until is not None and red_until <= now
    return False


def nearness(distance_km: float | None) -> float:
    """1 at the elder's door, falling linearly to 0 at NEAR_LIMIT_KM; 0 when unknown."""
    if distance_km is None:
        return 0.0
    return max(0.0, 1.0 - distance_km / NEAR_LIMIT_KM)


def rank_merchants(
    candidates: Iterable[Candidate], strategy: Strategy = Strategy.BALANCED
) -> list[Ranked]:
    """Candidates best first under `strategy`.

    Fairness is 1 for the merchant with the fewest recent orders among the candidates and 0
    for the one with the most, so the share evens out; quality is the rating over 5. Ties
    go to the nearer, then the less busy, then the better rated, then the lower id.
    """
    pool = list(candidates)
    if not pool:
        return []
    least = min(c.recent_orders for c in pool)
    most = max(c.recent_orders for c in pool)
    spread = most - least
    w_near, w_fair, w_best = WEIGHTS[strategy]
    ranked = []
    for c in pool:
        near = nearness(c.distance_km)
        fair = 1.0 if spread == 0 else 1.0 - (c.recent_orders - least) / spread
        best = min(max(c.rating, 0.0), MAX_RATING) / MAX_RATING
        score = w_near * near + w_fair * fair + w_best * best
        ranked.append(Ranked(c, round(score, 6), near, fair, best))

    def order(r: Ranked) -> tuple[float, float, int, float, int]:
        c = r.candidate
        far = c.distance_km if c.distance_km is not None else float("inf")
        return (-r.score, far, c.recent_orders, -c.rating, c.merchant_id)

    return sorted(ranked, key=order)


def is_bad_callback(quality: int | None, satisfaction: int | None) -> bool:
    """A callback that counts as a strike against the merchant who served the case."""
    return any(s is not None and s <= BAD_SCORE_MAX for s in (quality, satisfaction))


def status_for_strikes(count: int) -> MerchantStatus:
    """The standing after `count` strikes in force: 1 yellow, 2 red, 3 or more removed."""
    if count <= 0:
        return MerchantStatus.ACTIVE
    if count == 1:
        return MerchantStatus.YELLOW
    if count == 2:
        return MerchantStatus.RED
    return MerchantStatus.REMOVED


@dataclass(frozen=True, slots=True)
class Standing:
    """A merchant's status and, for a red card, when it ends."""

    status: MerchantStatus
    red_until: datetime | None = None


def standing_of(strikes_at: Sequence[datetime], red_period: timedelta) -> Standing:
    """The standing from the times of the strikes in force (revoked ones left out).

    A red card runs `red_period` from the second strike in force, so revoking the first of
    three leaves a red card dated from the strike that is now the second.
    """
    ordered = sorted(strikes_at)
    status = status_for_strikes(len(ordered))
    if status is MerchantStatus.RED:
        return Standing(status, ordered[1] + red_period)
    return Standing(status)
