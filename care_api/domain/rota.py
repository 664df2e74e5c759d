"""Rotas and hours: who is on duty at a moment, and whether weekly hours are open then."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from care_api.domain.errors import InvalidInput
from care_api.domain.texts import Msg
from care_api.domain.volunteering import is_available

MAX_SHIFT = timedelta(days=7)  # longer is a typo, not a shift

WeeklyHours = Mapping[str, Sequence[str]]  # {"mon": ["08:00-12:00"], …}: volunteering's form


class DutyRole(StrEnum):
    """What a person on a shift does for the centre."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True, slots=True)
class Shift:
    """One person's turn of duty, `start` included, `end` excluded (aware times)."""

    shift_id: int
    person: str
    role: DutyRole
    phone: str
    start: datetime
    end: datetime


def check_shift_span(start: datetime, end: datetime) -> None:
    """Raise ValueError unless `start` < `end` and the shift is at most MAX_SHIFT long."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(Msg("shift start and end need a time zone offset"))
    if end <= start:
        raise InvalidInput(Msg("a shift must end after it starts"))
    if end - start > MAX_SHIFT:
        raise InvalidInput(Msg("a shift lasts at most {most} days", most=MAX_SHIFT.days))


def is_on_duty(shift: Shift, at: datetime) -> bool:
    """True when `at` falls in the shift: from its start up to, not including, its end."""
    return shift.start <= at < shift.end


def on_duty(shifts: Iterable[Shift], at: datetime, role: DutyRole | None = None) -> list[Shift]:
    """Shifts running at `at` (of `role` if given), the latest to start first, then by id."""
    running = [s for s in shifts if is_on_duty(s, at) and (role is None or s.role is role)]
    return sorted(running, key=lambda s: (-s.start.timestamp(), s.shift_id))


def supervisor_on_duty(shifts: Iterable[Shift], at: datetime) -> Shift | None:
    """The supervisor on duty at `at`: of overlapping shifts, the one that started last.

    A handover overlap thus already goes to the incoming supervisor.
    """
    running = on_duty(shifts, at, DutyRole.SUPERVISOR)
    return running[0] if running else None


def is_open(hours: WeeklyHours | None, local_now: datetime) -> bool:
    """True when weekly `hours` are open at `local_now` (the centre's local time).

    None means no hours were set: always open. An empty table is never open.
    """
    return hours is None or is_available(hours, local_now)
