"""Wellness check-ins: elders' "I'm OK" windows, away days, presses that count.

Each active window has one pending "checkin" timer (step = the window's id) due when the
window next closes; alerts/checkins.py fires it, judges the window and schedules the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import ColumnElement, bindparam, exists
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from care_api.domain.alarm_codes import CAUSE_MISSED_CHECK_IN
from care_api.domain.cases import ACTIVE
from care_api.domain.checkins import (
    MAX_WINDOWS_PER_ELDER,
    check_window,
    is_checkin_press,
    is_day_off,
    is_open,
    next_window_end,
    parse_hhmm,
    was_kept,
    window_bounds,
    window_day,
)
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.events import CaseCheckedInLate
from care_api.domain.model import CaseKind, TimerPurpose
from care_api.domain.texts import Msg, term
from care_api.store.tables import Case, CaseEvent, CheckinWindow, Elder, ElderAway, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import add_note, cancel_pending_timers, open_case
from care_api.usecases.dispatch.offers import withdraw_open_offers
from care_api.usecases.people.registry import get_elder
from care_api.usecases.reports.console import FLAG_ACTION
from care_api.usecases.schedules.workdays import load_calendar

CHECKIN_ACTOR = "system:checkin"
LATE_CHECKIN_ACTION = "checked_in_late"


@dataclass(frozen=True, slots=True)
class WindowView:
    """A window and how today's went: pending | open | kept | missed | off | new."""

    window: CheckinWindow
    today: str
    next_check_at: datetime


def away_days(session: Session, elder_id: int) -> set[date]:
    """The local days the elder is away."""
    rows = session.exec(_AWAY, params={"elder_id": elder_id}).all()
    return {date.fromisoformat(d) for d in rows}


# Built once, as the two below: every check-in press and window judged reads them.
_AWAY = select(ElderAway.day).where(col(ElderAway.elder_id) == bindparam("elder_id"))
_ACTIVE_WINDOWS = select(CheckinWindow).where(
    col(CheckinWindow.elder_id) == bindparam("elder_id"), col(CheckinWindow.active).is_(True)
)
_ALL_WINDOWS = select(CheckinWindow).where(col(CheckinWindow.elder_id) == bindparam("elder_id"))
_MISSED_CASES = select(CheckinWindow.missed_case_id).where(
    col(CheckinWindow.elder_id) == bindparam("elder_id"),
    col(CheckinWindow.missed_case_id).is_not(None),
)


def add_window(
    session: Session,
    elder_id: int,
    *,
    start: str,
    end: str,
    holidays_off: bool,
    by: str,
    now: datetime,
    tz: tzinfo,
) -> CheckinWindow:
    """Add a daily window; its first check falls due when it next closes. ValueError if bad."""
    get_elder(session, elder_id)
    first, last = check_window(start, end)
    windows = windows_of(session, elder_id)
    if len(windows) >= MAX_WINDOWS_PER_ELDER:
        raise Conflict(
            Msg("an elder has at most {most} check-in windows", most=MAX_WINDOWS_PER_ELDER)
        )
    for other in windows:
        if parse_hhmm(other.start) < last and first < parse_hhmm(other.end):
            raise Conflict(
                Msg("the window overlaps {start}–{end}", start=other.start, end=other.end)
            )
    window = CheckinWindow(
        elder_id=elder_id,
        start=start,
        end=end,
        holidays_off=holidays_off,
        created_by=by,
        created_at=now,
    )
    session.add(window)
    session.flush()
    if window.id is None:  # pragma: no cover - flush gave it one
        raise RuntimeError("window has no id")
    due = next_window_end(now, first, last, tz)
    session.add(Timer(purpose=TimerPurpose.CHECKIN, step=window.id, due_at=due, created_at=now))
    return window


def windows_of(session: Session, elder_id: int) -> list[CheckinWindow]:
    """The elder's active windows, earliest first."""
    rows = session.exec(_ACTIVE_WINDOWS, params={"elder_id": elder_id}).all()
    return sorted(rows, key=lambda w: w.start)


def view_windows(session: Session, elder_id: int, now: datetime, tz: tzinfo) -> list[WindowView]:
    """The elder's windows with today's state and when each is next checked."""
    get_elder(session, elder_id)
    calendar, away = load_calendar(session), away_days(session, elder_id)
    today = now.astimezone(tz).date()
    views = []
    for w in windows_of(session, elder_id):
        first, last = parse_hhmm(w.start), parse_hhmm(w.end)
        opens, closes = window_bounds(today, first, last, tz)
        if is_day_off(today, calendar, away, holidays_off=w.holidays_off):
            state = "off"
        elif was_kept(w.kept_at, opens, closes):
            state = "kept"
        elif w.created_at > opens:
            state = "new"  # added after today's window opened: judged from the next one
        elif now < opens:
            state = "pending"
        elif now < closes:
            state = "open"
        else:
            state = "missed"
        views.append(WindowView(w, state, next_window_end(now, first, last, tz)))
    return views


def remove_window(session: Session, elder_id: int, window_id: int) -> None:
    """Stop a window and its pending check."""
    window = session.get(CheckinWindow, window_id)
    if window is None or window.elder_id != elder_id or not window.active:
        raise NotFound(Msg("check-in window {window_id} not found", window_id=window_id))
    window.active = False
    session.add(window)
    for timer in session.exec(
        select(Timer).where(
            col(Timer.purpose) == TimerPurpose.CHECKIN,
            col(Timer.step) == window_id,
            col(Timer.fired_at).is_(None),
        )
    ).all():
        timer.cancelled = True
        session.add(timer)


def set_away(session: Session, elder_id: int, day: date, *, note: str, away: bool) -> None:
    """Mark `day` as a day the elder is away (or not any more)."""
    get_elder(session, elder_id)
    row = session.exec(
        select(ElderAway).where(
            col(ElderAway.elder_id) == elder_id, col(ElderAway.day) == day.isoformat()
        )
    ).first()
    if away and row is None:
        session.add(ElderAway(elder_id=elder_id, day=day.isoformat(), note=note))
    elif away and row is not None:
        row.note = note
        session.add(row)
    elif row is not None:
        session.delete(row)


def all_windows_of(session: Session, elder_id: int) -> list[CheckinWindow]:
    """Every window of the elder, active or not: what a press needs, in one read."""
    return list(session.exec(_ALL_WINDOWS, params={"elder_id": elder_id}).all())


def note_press(
    session: Session,
    elder_id: int,
    button: str,
    pattern: str,
    now: datetime,
    tz: tzinfo,
    *,
    windows: Sequence[CheckinWindow] | None = None,
) -> bool:
    """Count a press towards the elder's open window; True when it is the check-in itself.

    True means the press said "I'm OK" inside an open window and opens no case.
    `windows`: every window of the elder (`all_windows_of`), read by the caller already.
    """
    active = (
        windows_of(session, elder_id)
        if windows is None
        else sorted((w for w in windows if w.active), key=lambda w: w.start)
    )
    windows = [w for w in active if is_open(now, parse_hhmm(w.start), parse_hhmm(w.end), tz)]
    if not windows:
        return False
    today = now.astimezone(tz).date()
    calendar, away = load_calendar(session), away_days(session, elder_id)
    counted = False
    for w in windows:
        if is_day_off(today, calendar, away, holidays_off=w.holidays_off):
            continue
        w.kept_at = now
        session.add(w)
        counted = True
    return counted and is_checkin_press(button, pattern)


# Built once: intake asks on every batch of presses.
_WINDOWS = sa_select(
    col(CheckinWindow.elder_id),
    col(CheckinWindow.start),
    col(CheckinWindow.end),
    col(CheckinWindow.active),
    col(CheckinWindow.missed_case_id),
).where(col(CheckinWindow.elder_id).in_(bindparam("elders", expanding=True)))


def has_windows_clause(elder_id: ColumnElement[int | None]) -> ColumnElement[bool]:
    """Whether the elder has any check-in window: only such an elder can be checking in.

    The press batch reads it with its terminals, and asks `elders_checking_in` only of them.
    """
    return exists().where(col(CheckinWindow.elder_id) == elder_id)


def elders_checking_in(
    session: Session, elder_ids: set[int], now: datetime, tz: tzinfo
) -> set[int]:
    """Which of `elder_ids` may be checking in at `now` (their presses need a look).

    Those with a window open now, and those whose missed check-in case is still active.
    """
    if not elder_ids:
        return set()
    rows = session.execute(_WINDOWS, {"elders": sorted(elder_ids)}).all()
    found = {
        elder
        for elder, start, end, active, _ in rows
        if active and is_open(now, parse_hhmm(start), parse_hhmm(end), tz)
    }
    missed = {case_id: elder for elder, _, _, _, case_id in rows if case_id is not None}
    if missed:
        waiting = session.exec(
            select(Case.id).where(
                col(Case.id).in_(list(missed)), col(Case.state).in_([str(s) for s in ACTIVE])
            )
        ).all()
        found |= {missed[case_id] for case_id in waiting}
    return found


def note_late_checkin(
    uow: SqlUnitOfWork,
    elder_id: int,
    *,
    device_id: str,
    button: str,
    pattern: str,
    now: datetime,
    tz: tzinfo,
    windows: Sequence[CheckinWindow] | None = None,
) -> Case | None:
    """A check-in press after a missed window: the missed check-in case, still active, hears it.

    Taken or not: the service's own call asks the elder to press, so a press while someone
    is on the case is that answer, not a service request. The case is not closed (an
    operator confirms and resolves it): the late check-in goes on its history and the
    board, its pending ladder steps and volunteer offers stop, and the console and the
    people alerted (its owner among them) are told. Returns the case, else None.
    `windows`: every window of the elder (`all_windows_of`), read by the caller already.
    """
    if not is_checkin_press(button, pattern):
        return None
    session = uow.session
    missed = (
        session.exec(_MISSED_CASES, params={"elder_id": elder_id}).all()
        if windows is None
        else [w.missed_case_id for w in windows if w.missed_case_id is not None]
    )
    if not missed:
        return None
    # Locked, so an operator resolving the case at this moment is seen (PostgreSQL).
    cases = session.exec(
        select(Case)
        .where(
            col(Case.id).in_([m for m in missed if m is not None]),
            col(Case.kind) == CaseKind.CARE,
            col(Case.state).in_([str(s) for s in ACTIVE]),
        )
        .order_by(col(Case.opened_at))
        .with_for_update()
    ).all()
    if not cases:
        return None
    elder = session.get(Elder, elder_id)
    name = elder.name if elder is not None else Msg("The elder")
    local = now.astimezone(tz).strftime("%H:%M")
    by = f"device:{device_id}"
    for case in cases:
        if has_checked_in_late(session, case.id):
            continue  # pressed again after checking in: already told, nothing new to say
        why = Msg(
            "{name} checked in late at {local} ({button} {pattern} press); the case stays "
            "open until an operator confirms and resolves it",
            name=name,
            local=local,
            button=term(button),
            pattern=term(pattern),
        )
        add_note(uow, case, action=LATE_CHECKIN_ACTION, by=by, why=why, now=now)
        add_note(
            uow,
            case,
            action=FLAG_ACTION,
            by=by,
            why=Msg("checked in late {local}", local=local),
            now=now,
        )
        cancel_pending_timers(session, case.id)
        withdraw_open_offers(session, case.id, now)
        uow.emit(CaseCheckedInLate(case.id, device_id, now))
    return cases[0]


def has_checked_in_late(session: Session, case_id: str) -> bool:
    """True once the elder of a missed check-in case has checked in late."""
    return (
        session.exec(
            select(CaseEvent.id).where(
                col(CaseEvent.case_id) == case_id, col(CaseEvent.action) == LATE_CHECKIN_ACTION
            )
        ).first()
        is not None
    )


def judge_window(
    uow: SqlUnitOfWork, window: CheckinWindow, *, closes_at: datetime, now: datetime, tz: tzinfo
) -> Case | None:
    """The window that closed at `closes_at`: a care case when it was missed, else None."""
    session = uow.session
    day = window_day(closes_at, tz)
    first, last = parse_hhmm(window.start), parse_hhmm(window.end)
    opens, closes = window_bounds(day, first, last, tz)
    if was_kept(window.kept_at, opens, closes):
        return None  # kept or a day off, no case either way: the calendar is read only if not
    calendar, away = load_calendar(session), away_days(session, window.elder_id)
    if is_day_off(day, calendar, away, holidays_off=window.holidays_off):
        return None
    case = open_case(
        uow,
        kind=CaseKind.CARE,
        elder_id=window.elder_id,
        trigger=Msg("missed check-in {start}–{end}", start=window.start, end=window.end),
        by=CHECKIN_ACTOR,
        now=now,
        tz=tz,
        cause=CAUSE_MISSED_CHECK_IN,  # Contact ID 1 102, fail to report
    )
    add_note(
        uow,
        case,
        action="note",
        by=CHECKIN_ACTOR,
        why=Msg(
            "no press between {start} and {end} on {day}",
            start=window.start,
            end=window.end,
            day=day.isoformat(),
        ),
        now=now,
    )
    window.missed_case_id = case.id
    session.add(window)
    return case


def next_check(window: CheckinWindow, after: datetime, tz: tzinfo) -> datetime:
    """When the window is next judged, after `after`."""
    return next_window_end(after, parse_hhmm(window.start), parse_hhmm(window.end), tz)
