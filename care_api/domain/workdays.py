"""Working days: the calendar of holidays and make-up days, and the deadlines counted in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from care_api.domain.errors import InvalidInput
from care_api.domain.texts import Msg

MAX_EXTENSION_DAYS = 15  # one extension of at most this many working days
MAX_SCAN_DAYS = 3660  # a calendar with no working day for ten years is a mistake


class Matter(StrEnum):
    """What kind of matter a hand-filed case is; it sets the time limit."""

    DEPARTMENT = "department"  # a government department's answer
    GENERAL = "general"  # general affairs
    COMPLAINT = "complaint"


LIMIT_DAYS: Mapping[Matter, int] = {Matter.DEPARTMENT: 1, Matter.GENERAL: 5, Matter.COMPLAINT: 15}


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Monday to Friday work, except the days an admin said otherwise.

    `overrides` maps a day to whether it is worked: False for a public holiday on a weekday,
    True for a make-up working day (调休) on a weekend.
    """

    overrides: Mapping[date, bool] = field(default_factory=dict)

    def is_working_day(self, day: date) -> bool:
        """True when `day` is worked."""
        return self.overrides.get(day, day.weekday() < 5)


def add_working_days(start: date, days: int, calendar: WorkCalendar) -> date:
    """The `days`-th working day after `start` (`start` itself never counts).

    A case filed on a Saturday with a 1-day limit is due on Monday; filed on Monday, on
    Tuesday. `days` = 0 gives `start` back.
    """
    if days < 0:
        raise InvalidInput(Msg("days must not be negative"))
    day = start
    left = days
    for _ in range(MAX_SCAN_DAYS):
        if left == 0:
            return day
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            left -= 1
    raise InvalidInput(
        Msg(
            "no {days} working days within {max_scan_days} days of {start}",
            days=days,
            max_scan_days=MAX_SCAN_DAYS,
            start=start.isoformat(),
        )
    )


def working_days_between(first: date, last: date, calendar: WorkCalendar) -> int:
    """How many working days lie in `(first, last]`; 0 when `last` is not after `first`."""
    if last <= first:
        return 0
    if (last - first).days > MAX_SCAN_DAYS:
        raise InvalidInput(
            Msg("a span may be at most {max_scan_days} days", max_scan_days=MAX_SCAN_DAYS)
        )
    span = range(1, (last - first).days + 1)
    return sum(1 for i in span if calendar.is_working_day(first + timedelta(days=i)))


def end_of_day(day: date, tz: tzinfo) -> datetime:
    """The instant a deadline on local `day` passes: the local midnight that ends it, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def due_for(filed_at: datetime, matter: Matter, calendar: WorkCalendar, tz: tzinfo) -> datetime:
    """When a matter filed at `filed_at` must be answered: the end of its last working day."""
    local_day = filed_at.astimezone(tz).date()
    return end_of_day(add_working_days(local_day, LIMIT_DAYS[matter], calendar), tz)


def extended_due(due_at: datetime, days: int, calendar: WorkCalendar, tz: tzinfo) -> datetime:
    """The deadline `days` working days after the one at `due_at` (1 ≤ days ≤ 15)."""
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise InvalidInput(
            Msg(
                "an extension is 1 to {max_extension_days} working days",
                max_extension_days=MAX_EXTENSION_DAYS,
            )
        )
    # due_at is the midnight ending the last day; the day before it is that last day.
    last_day = (due_at.astimezone(tz) - timedelta(microseconds=1)).date()
    return end_of_day(add_working_days(last_day, days, calendar), tz)
