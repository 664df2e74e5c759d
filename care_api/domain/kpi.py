"""The centre's figures over a period: cases by kind and day, completion, satisfaction, speed."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from care_api.domain.errors import InvalidInput
from care_api.domain.model import CaseKind, CaseState
from care_api.domain.texts import Msg

# On the 1–5 callback scale, 4 (satisfied) and 5 (very satisfied) count towards 满意率.
SATISFIED_MIN_SCORE = 4
# A period of more days than this is refused rather than drawn as an unreadable chart.
MAX_PERIOD_DAYS = 366

# record_callback writes "reached=True, …, satisfaction=5, comment=…" with the comment last;
# everything from "comment=" on is the operator's free text and is never read as an answer.


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the figures need to know of one case."""

    kind: CaseKind
    state: CaseState
    opened_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def is_done(self) -> bool:
        """The need was met (resolved, whether or not the callback closed it yet)."""
        return self.resolved_at is not None or self.state is CaseState.RESOLVED

    @property
    def is_cancelled(self) -> bool:
        """The elder called it off, so it counts neither for nor against completion."""
        return self.state is CaseState.CANCELLED or (
            self.state is CaseState.CLOSED and self.resolved_at is None
        )


@dataclass(frozen=True, slots=True)
class CallbackFacts:
    """One callback (回访): whether the elder was reached and how satisfied they were."""

    reached: bool = True
    satisfaction: int | None = None  # 1–5, None when not asked or not answered


@dataclass(frozen=True, slots=True)
class DayCount:
    """Cases opened on one local day, by kind."""

    day: str  # YYYY-MM-DD in the centre's time zone
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class Kpi:
    """The centre's figures; a rate is None when there is nothing to divide by."""

    since: datetime
    until: datetime
    total: int
    by_kind: dict[str, int]
    by_state: dict[str, int]
    per_day: list[DayCount]
    completion_rate: float | None
    callback_rate: float | None
    satisfaction_rate: float | None
    callbacks: int
    ack_count: int
    ack_p50_s: float | None
    ack_p90_s: float | None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (0 < fraction ≤ 1) of `values`, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def local_days(since: datetime, until: datetime, tz: tzinfo) -> list[str]:
    """Every local day touched by `[since, until)`, oldest first."""
    first = since.astimezone(tz).date()
    last = (until - timedelta(microseconds=1)).astimezone(tz).date()
    count = (last - first).days + 1
    if count > MAX_PERIOD_DAYS:
        raise InvalidInput(
            Msg("a period may span at most {max_period_days} days", max_period_days=MAX_PERIOD_DAYS)
        )
    return [(first + timedelta(days=i)).isoformat() for i in range(max(count, 0))]


def compute_kpi(
    cases: Iterable[CaseFacts],
    callbacks: Iterable[CallbackFacts],
    *,
    since: datetime,
    until: datetime,
    tz: tzinfo,
) -> Kpi:
    """Figures over the cases opened in `[since, until)` and the callbacks made on them.

    Completion (办结率) is resolved cases over all cases but the ones the elder cancelled;
    the callback rate is closed-after-callback over resolved; satisfaction (满意率) is the
    callbacks scoring at least SATISFIED_MIN_SCORE over those that gave a score.
    """
    if until <= since:
        raise InvalidInput(Msg("the period must end after it starts"))
    chosen = [c for c in cases if since <= c.opened_at < until]
    days = local_days(since, until, tz)
    per_day = {day: dict.fromkeys(map(str, CaseKind), 0) for day in days}
    for case in chosen:
        per_day[case.opened_at.astimezone(tz).date().isoformat()][str(case.kind)] += 1

    by_kind = Counter(str(c.kind) for c in chosen)
    by_state = Counter(str(c.state) for c in chosen)
    countable = [c for c in chosen if not c.is_cancelled]
    done = [c for c in countable if c.is_done]
    called_back = [c for c in done if c.state is CaseState.CLOSED]

    answers = list(callbacks)
    scored = [a.satisfaction for a in answers if a.reached and a.satisfaction is not None]
    satisfied = [s for s in scored if s >= SATISFIED_MIN_SCORE]

    waits = [
        (c.acknowledged_at - c.opened_at).total_seconds()
        for c in chosen
        if c.acknowledged_at is not None
    ]
    return Kpi(
        since=since,
        until=until,
        total=len(chosen),
        by_kind={str(k): by_kind.get(str(k), 0) for k in CaseKind},
        by_state={str(s): by_state.get(str(s), 0) for s in CaseState},
        per_day=[DayCount(day, counts) for day, counts in per_day.items()],
        completion_rate=_rate(len(done), len(countable)),
        callback_rate=_rate(len(called_back), len(done)),
        satisfaction_rate=_rate(len(satisfied), len(scored)),
        callbacks=len(answers),
        ack_count=len(waits),
        ack_p50_s=percentile(waits, 0.5),
        ack_p90_s=percentile(waits, 0.9),
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
