"""The working-day calendar as stored: an admin's holidays and make-up working days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from care_api.domain.errors import InvalidInput
from care_api.domain.texts import Msg
from care_api.domain.workdays import MAX_SCAN_DAYS, WorkCalendar
from care_api.store.tables import CalendarDay

MAX_LISTED_DAYS = 366


@dataclass(frozen=True, slots=True)
class DayView:
    """One day as the calendar shows it."""

    day: date
    working: bool
    override: bool  # True when an admin set this day
    note: str = ""


def load_calendar(session: Session) -> WorkCalendar:
    """Every override an admin made (a few dozen a year), as the domain's calendar."""
    rows = session.execute(_OVERRIDES).all()
    return WorkCalendar({date.fromisoformat(day): working for day, working in rows})


# Built once, two columns and no objects: check-ins and callbacks read it on each decision.
_OVERRIDES = sa_select(col(CalendarDay.day), col(CalendarDay.working))


def put_day(
    session: Session, day: date, *, working: bool, note: str, by: str, now: datetime
) -> CalendarDay:
    """Make `day` a working day or a day off, whatever the weekday says."""
    row = session.get(CalendarDay, day.isoformat(), with_for_update=True)
    if row is None:
        row = CalendarDay(day=day.isoformat(), working=working, updated_at=now)
    row.working = working
    row.note = note
    row.updated_by = by
    row.updated_at = now
    session.add(row)
    return row


def clear_day(session: Session, day: date) -> bool:
    """Let the weekday decide again; False when the day had no override."""
    row = session.get(CalendarDay, day.isoformat())
    if row is None:
        return False
    session.delete(row)
    return True


def list_days(session: Session, first: date, last: date) -> list[DayView]:
    """Every day of `[first, last]` with whether it is worked and why."""
    count = (last - first).days + 1
    if count < 1:
        raise InvalidInput(Msg("the period must not end before it starts"))
    if count > min(MAX_LISTED_DAYS, MAX_SCAN_DAYS):
        raise InvalidInput(Msg("at most {most} days at a time", most=MAX_LISTED_DAYS))
    rows = session.exec(
        select(CalendarDay).where(
            col(CalendarDay.day) >= first.isoformat(), col(CalendarDay.day) <= last.isoformat()
        )
    ).all()
    set_by_admin = {r.day: r for r in rows}
    calendar = WorkCalendar({date.fromisoformat(r.day): r.working for r in rows})
    days = []
    for i in range(count):
        day = first + timedelta(days=i)
        row = set_by_admin.get(day.isoformat())
        days.append(
            DayView(day, calendar.is_working_day(day), row is not None, row.note if row else "")
        )
    return days
