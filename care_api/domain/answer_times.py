"""Answer-time figures of emergencies, pure: answered in 60 s / 180 s, time on site.

The telecare industry judges a centre by the share of alarms a person answers within 60 s
(target 97.5 %) and within 180 s (target 99 %). Here "answered" is the case's
`acknowledged_at` (only people acknowledge: a press, a timer or the ladder never does).
An emergency nobody answered counts as a miss once a limit has passed, unless it was
cancelled before that limit (then nothing was left to answer). Time on site runs from the
press to the owner's "on site".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from care_api.domain.errors import InvalidInput
from care_api.domain.kpi import percentile
from care_api.domain.texts import Msg

ANSWER_LIMITS_S = (60, 180)
# The industry's targets for the share answered within each limit.
ANSWER_TARGETS = {60: 0.975, 180: 0.99}
DAY, NIGHT = "day", "night"
NO_DISTRICT = ""


@dataclass(frozen=True, slots=True)
class ShiftHours:
    """The local hours the day and the night shifts start at (day 08–20, night 20–08)."""

    day_start: int = 8
    night_start: int = 20

    def __post_init__(self) -> None:
        if not (0 <= self.day_start < 24 and 0 <= self.night_start < 24):
            raise InvalidInput(Msg("shift hours must be 0–23"))
        if self.day_start == self.night_start:
            raise InvalidInput(Msg("the day and the night shift must start at different hours"))


def shift_of(moment: datetime, tz: tzinfo, hours: ShiftHours) -> str:
    """Which shift `moment` falls in, by the centre's local clock: "day" or "night"."""
    hour = moment.astimezone(tz).hour
    start, end = hours.day_start, hours.night_start
    in_day = start <= hour < end if start < end else hour >= start or hour < end
    return DAY if in_day else NIGHT


@dataclass(frozen=True, slots=True)
class EmergencyFacts:
    """What the answer-time figures need to know of one emergency."""

    opened_at: datetime
    acknowledged_at: datetime | None = None
    on_site_at: datetime | None = None
    cancelled_at: datetime | None = None  # cancelled (elder or staff) before anyone answered
    district: str = NO_DISTRICT

    @property
    def answer_s(self) -> float | None:
        """Seconds from the press to a person's acknowledgement; None if nobody has."""
        if self.acknowledged_at is None:
            return None
        return (self.acknowledged_at - self.opened_at).total_seconds()


@dataclass(frozen=True, slots=True)
class AnswerFigures:
    """The figures of one group of emergencies; a share is None when none was decided."""

    emergencies: int
    answered: int
    within: dict[int, float | None]  # limit in s → share answered within it
    on_site: int  # reached on site
    on_site_p50_s: float | None
    on_site_p90_s: float | None


@dataclass(frozen=True, slots=True)
class AnswerTimes:
    """All emergencies of a period, and the same split by district and by shift."""

    overall: AnswerFigures
    by_district: dict[str, AnswerFigures]
    by_shift: dict[str, AnswerFigures]
    targets: Mapping[int, float]


def _decided(f: EmergencyFacts, limit: timedelta, now: datetime) -> bool:
    # Answered, or the limit ran out before the case was cancelled (or by now).
    if f.acknowledged_at is not None:
        return True
    ended = f.cancelled_at or now
    return ended - f.opened_at >= limit


def share_within(facts: Sequence[EmergencyFacts], limit_s: int, now: datetime) -> float | None:
    """Share of emergencies a person answered within `limit_s`; None when none is decided."""
    limit = timedelta(seconds=limit_s)
    decided = [f for f in facts if _decided(f, limit, now)]
    if not decided:
        return None
    hits = [f for f in decided if f.answer_s is not None and f.answer_s <= limit_s]
    return len(hits) / len(decided)


def figures_of(facts: Sequence[EmergencyFacts], now: datetime) -> AnswerFigures:
    """The figures of one group."""
    on_site = [
        (f.on_site_at - f.opened_at).total_seconds() for f in facts if f.on_site_at is not None
    ]
    return AnswerFigures(
        emergencies=len(facts),
        answered=sum(1 for f in facts if f.acknowledged_at is not None),
        within={limit: share_within(facts, limit, now) for limit in ANSWER_LIMITS_S},
        on_site=len(on_site),
        on_site_p50_s=percentile(on_site, 0.5),
        on_site_p90_s=percentile(on_site, 0.9),
    )


def answer_times(
    facts: Iterable[EmergencyFacts], *, now: datetime, tz: tzinfo, hours: ShiftHours
) -> AnswerTimes:
    """The answer-time figures, overall, per district and per shift.

    The shift is that of the acknowledgement (the people who answered), or of the press
    for an emergency nobody answered.
    """
    chosen = list(facts)
    districts: dict[str, list[EmergencyFacts]] = {}
    shifts: dict[str, list[EmergencyFacts]] = {DAY: [], NIGHT: []}
    for f in chosen:
        districts.setdefault(f.district, []).append(f)
        shifts[shift_of(f.acknowledged_at or f.opened_at, tz, hours)].append(f)
    return AnswerTimes(
        overall=figures_of(chosen, now),
        by_district={d: figures_of(fs, now) for d, fs in sorted(districts.items())},
        by_shift={s: figures_of(fs, now) for s, fs in shifts.items()},
        targets=ANSWER_TARGETS,
    )
