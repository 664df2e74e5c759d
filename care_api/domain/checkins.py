"""Wellness check-ins, pure: daily "I'm OK" windows, which presses count, days off.

An elder has one or more windows a day in the centre's local time ("08:00"–"10:00"). Inside
an open window a press of the `ok` button (any pattern) or a `main` `single` press is the
check-in: it is recorded and opens no case (else every morning's "I'm OK" would be a service
call). Any other press inside the window opens its case as usual and counts as the check-in
too. A window is off on the elder's away days and, unless told otherwise, on the public
holidays of the calendar (days an admin marked not worked; ordinary weekends are checked).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from care_api.domain.errors import InvalidInput
from care_api.domain.texts import Msg
from care_api.domain.workdays import WorkCalendar

CHECKIN_BUTTON = "ok"
CHECKIN_PATTERN = "single"
MIN_WINDOW = timedelta(minutes=15)
MAX_WINDOWS_PER_ELDER = 6
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_hhmm(text: str) -> time:
    """A time of day from its HH:MM form ("08:30"); ValueError for anything else."""
    match = _HHMM.fullmatch(text)
    if match is None:
        raise InvalidInput(Msg("{text} is not a time of day as HH:MM", text=repr(text)))
    return time(int(match[1]), int(match[2]))


def check_window(start: str, end: str) -> tuple[time, time]:
    """The window's bounds; ValueError unless it lies within one day and lasts 15 min or more."""
    first, last = parse_hhmm(start), parse_hhmm(end)
    span = datetime.combine(date.min, last) - datetime.combine(date.min, first)
    if span < MIN_WINDOW:
        raise InvalidInput(
            Msg("a window ends at least 15 minutes after it starts, on the same day")
        )
    return first, last


def window_bounds(day: date, start: time, end: time, tz: tzinfo) -> tuple[datetime, datetime]:
    """The window on local `day`, as UTC times [start, end)."""
    return (
        datetime.combine(day, start, tzinfo=tz).astimezone(UTC),
        datetime.combine(day, end, tzinfo=tz).astimezone(UTC),
    )


def next_window_end(after: datetime, start: time, end: time, tz: tzinfo) -> datetime:
    """The first end of the window strictly after `after` (when its check falls due)."""
    day = after.astimezone(tz).date()
    for offset in range(3):  # a DST jump cannot push it further than the day after next
        _, closes = window_bounds(day + timedelta(days=offset), start, end, tz)
        if closes > after:
            return closes
    raise AssertionError("unreachable: a window closes every day")  # pragma: no cover


def window_day(closes_at: datetime, tz: tzinfo) -> date:
    """The local day a window closing at `closes_at` belongs to."""
    return closes_at.astimezone(tz).date()


def is_open(now: datetime, start: time, end: time, tz: tzinfo) -> bool:
    """True while `now` is inside the window of its local day."""
    opens, closes = window_bounds(now.astimezone(tz).date(), start, end, tz)
    return opens <= now < closes


def is_checkin_press(button: str, pattern: str) -> bool:
    """The presses that say "I'm OK" and, inside a window, open no case."""
    return button == CHECKIN_BUTTON or (button == "main" and pattern == CHECKIN_PATTERN)


def is_day_off(
    day: date, calendar: WorkCalendar, away: Collection[date], *, holidays_off: bool
) -> bool:
    """No check-in on `day`: the elder is away, or it is a public holiday and those are off."""
    if day in away:
        return True
    return holidays_off and calendar.overrides.get(day) is False


def was_kept(kept_at: datetime | None, opens: datetime, closes: datetime) -> bool:
    """True when the last counted press fell inside this window."""
    return kept_at is not None and opens <= kept_at < closes
