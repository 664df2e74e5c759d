"""No-activity watch, pure: after a quiet period, prompt the terminal, then a case.

PROTOCOL.md has no activity or motion message, so the signs of life are what the elder does
at the terminal: presses and cancels (ACTIVITY_TYPES). Heartbeats do not count: they prove
the terminal works, not that anyone moved. A terminal that reports activity one day (a PIR
sensor's event type) is one more entry in ACTIVITY_TYPES.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from care_api.domain.errors import InvalidInput
from care_api.domain.texts import Msg

ACTIVITY_TYPES = frozenset({"press", "cancel"})
MIN_QUIET = timedelta(hours=1)
MAX_QUIET = timedelta(hours=72)
MIN_GRACE = timedelta(minutes=1)
MAX_GRACE = timedelta(hours=2)


class QuietAction(StrEnum):
    """What the watch does when its timer fires."""

    WAIT = "wait"  # there was activity (or the elder is away): check again later
    PROMPT = "prompt"  # quiet too long: the terminal asks the elder to press
    ANSWERED = "answered"  # a press after the prompt: all is well, a new quiet period
    CASE = "case"  # nobody answered the prompt: open a case


@dataclass(frozen=True, slots=True)
class QuietDecision:
    """The action, and when the watch's timer should fire next."""

    action: QuietAction
    next_at: datetime


def check_periods(quiet: timedelta, grace: timedelta) -> None:
    """ValueError unless the quiet period is 1–72 h and the grace 1 min–2 h."""
    if not MIN_QUIET <= quiet <= MAX_QUIET:
        raise InvalidInput(Msg("the quiet period must be between 1 and 72 hours"))
    if not MIN_GRACE <= grace <= MAX_GRACE:
        raise InvalidInput(Msg("the grace after the prompt must be between 1 minute and 2 hours"))


def decide(
    *,
    now: datetime,
    last_activity: datetime,
    prompted_at: datetime | None,
    quiet: timedelta,
    grace: timedelta,
    away: bool,
) -> QuietDecision:
    """What the watch does at `now`, given the last sign of life and a prompt waiting, if any."""
    if prompted_at is None:
        due = last_activity + quiet
        if away:
            return QuietDecision(QuietAction.WAIT, max(due, now + quiet))
        if now < due:
            return QuietDecision(QuietAction.WAIT, due)
        return QuietDecision(QuietAction.PROMPT, now + grace)
    if last_activity > prompted_at:
        return QuietDecision(QuietAction.ANSWERED, max(last_activity + quiet, now))
    if now < prompted_at + grace:
        return QuietDecision(QuietAction.WAIT, prompted_at + grace)
    return QuietDecision(QuietAction.CASE, now + quiet)
