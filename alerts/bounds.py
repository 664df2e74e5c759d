"""Bounds on what the alerts send, pure: per message, send now, hold, suppress or wait.

Four counts bound the cost of messages nobody needs (a terminal pressed and cancelled over
and over, a flapping power supply, an operator flipping a case's kind): per case and per
person in the last hour, per terminal in the last hour, and over all in the last minute.
An emergency alert is never dropped or delayed by a count: a person already alerted about
another of the elder's emergencies minutes ago gets one folded update when the fold window
ends, instead of one message per press. SMS are paced to the provider's rate per sender
number. No I/O happens here; `alerts.throttle` applies these rules to the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from care_api.domain.texts import N_, Msg

HOUR_S = 3600
MINUTE_S = 60


class Bound(StrEnum):
    """Which rule held a message back."""

    PER_CASE = "per_case"
    PER_PERSON = "per_person"
    PER_TERMINAL = "per_terminal"
    OVERALL = "overall"
    FOLD = "fold"
    PACE = "pace"


class Verdict(StrEnum):
    """What to do with one message now."""

    SEND = "send"
    HOLD = "hold"  # an emergency alert folded: it goes out at `at`, as one update for all
    SUPPRESS = "suppress"  # never sent; the case's history says why
    WAIT = "wait"  # sent at `at`


@dataclass(frozen=True, slots=True)
class SendLimits:
    """The bounds, from settings; a count of 0 switches its bound off.

    Attributes:
        per_case_per_hour: Phone messages about one case in any hour.
        per_person_per_hour: Phone messages to one number in any hour.
        per_terminal_per_hour: Phone messages about the cases one terminal opened, any hour.
        overall_per_minute: Phone messages of the whole service in any minute; beyond it
            messages wait rather than go (emergency alerts never wait).
        emergency_fold_s: A person alerted about an elder's emergency hears of the elder's
            next emergencies at most once per this many seconds, in one folded update.
        sms_per_second: SMS segments per second per sender number (0: not paced).
    """

    per_case_per_hour: int = 20
    per_person_per_hour: int = 20
    per_terminal_per_hour: int = 20
    overall_per_minute: int = 60
    emergency_fold_s: int = 120
    sms_per_second: float = 1.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the rules need to know of one message.

    Attributes:
        urgent: An alert about an emergency that asks someone to act: never suppressed,
            never made to wait by a count.
        foldable: A ladder alert about an emergency: folded when its person was alerted
            about another of the elder's emergencies within the fold window.
    """

    urgent: bool
    foldable: bool = False


@dataclass(frozen=True, slots=True)
class Recent:
    """Phone messages sent lately that bear on one message.

    Attributes:
        to_person: Sent to the same number in the last hour.
        about_case: Sent about the same case in the last hour.
        from_terminal: Sent about cases the same terminal opened in the last hour.
        overall: Sent by the whole service in the last minute.
        other_alert_at: When this person was last alerted about another emergency of the
            same elder, within the fold window; None if not.
    """

    to_person: int = 0
    about_case: int = 0
    from_terminal: int = 0
    overall: int = 0
    other_alert_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one message, the bound behind it, and until when it waits."""

    verdict: Verdict
    bound: Bound | None = None
    at: datetime | None = None
    why: str = ""


SEND = Decision(Verdict.SEND)


def judge(message: Outgoing, recent: Recent, limits: SendLimits, now: datetime) -> Decision:
    """Send, hold (fold), suppress or make wait one phone message, by the bounds."""
    if message.foldable and recent.other_alert_at is not None:
        until = recent.other_alert_at + timedelta(seconds=limits.emergency_fold_s)
        if until > now:
            return Decision(
                Verdict.HOLD,
                Bound.FOLD,
                until,
                Msg(
                    "already alerted about another emergency of the elder {ago}; "
                    "one folded update follows",
                    ago=_ago(now, recent.other_alert_at),
                ),
            )
    if message.urgent:
        return SEND
    hourly = (
        (
            Bound.PER_CASE,
            recent.about_case,
            limits.per_case_per_hour,
            N_("{n} messages about this case in the last hour"),
        ),
        (
            Bound.PER_PERSON,
            recent.to_person,
            limits.per_person_per_hour,
            N_("{n} messages to this person in the last hour"),
        ),
        (
            Bound.PER_TERMINAL,
            recent.from_terminal,
            limits.per_terminal_per_hour,
            N_("{n} messages about this terminal's cases in the last hour"),
        ),
    )
    for bound, count, limit, what in hourly:
        if limit > 0 and count >= limit:
            return Decision(Verdict.SUPPRESS, bound, None, Msg(what, n=count))
    if limits.overall_per_minute > 0 and recent.overall >= limits.overall_per_minute:
        # Spread the excess over the next minute rather than drop it: not an abuse pattern.
        wait_s = max(1.0, MINUTE_S / limits.overall_per_minute)
        return Decision(
            Verdict.WAIT,
            Bound.OVERALL,
            now + timedelta(seconds=wait_s),
            Msg("{n} messages in the last minute", n=recent.overall),
        )
    return SEND


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < MINUTE_S:
        return Msg("{s} s ago", s=seconds)
    return Msg("{m} min ago", m=seconds // MINUTE_S)


def pace(
    free_at: datetime | None, now: datetime, segments: int, per_second: float
) -> tuple[datetime, datetime]:
    """When an SMS of `segments` may start on a sender number free from `free_at`.

    Returns (start, the number's next free time). `per_second` 0 paces nothing.
    """
    if per_second <= 0:
        return now, now
    start = max(now, free_at) if free_at is not None else now
    return start, start + timedelta(seconds=segments / per_second)
