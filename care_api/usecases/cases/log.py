"""Opening cases, moving them, and writing their history rows."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import bindparam, insert, text
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from care_api.domain.alarm_codes import contact_id_for_case
from care_api.domain.cases import ACTIVE, check_transition, summary_for
from care_api.domain.events import CaseOpened, CasePressedAgain, CaseStateChanged
from care_api.domain.lines import check_line, default_line
from care_api.domain.model import CaseKind, CaseState, ServiceLine, TimerPurpose
from care_api.domain.texts import Msg, msg_json, term
from care_api.domain.workdays import LIMIT_DAYS, Matter, due_for
from care_api.store.tables import Case, CaseDeadline, CaseEvent, Device, DeviceEvent, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.store.whole_rows import whole_row
from care_api.usecases.intake.plan import Running, join_key, running_cases
from care_api.usecases.schedules.drills import in_drill
from care_api.usecases.schedules.workdays import load_calendar

log = logging.getLogger(__name__)

# The closed loop of an accepted emergency: step 0 arms it when the case is taken,
# step 1 checks "on site", step 2 chases resolution (alerts/closed_loop.py).
LOOP_ARM, LOOP_ON_SITE, LOOP_RESOLVE = 0, 1, 2
# Notices of what already happened to a case, written in the transaction that did it so a
# crash before the alerts hear of it loses nothing: "taken" (step 0) when someone acknowledges,
# "reclassified" (step = the id of the history row) when an operator changes the kind.
NOTICE_TIMERS = (TimerPurpose.TAKEN, TimerPurpose.RECLASSIFIED)
# A matter's working-day deadline (filings.py). The timer has no case id, so acknowledging
# the case (which cancels the case's own timers) does not stop the clock; its step is the
# deadline row's id.

# One statement on both SQLite (3.35+) and PostgreSQL; the row lock it takes serialises
# numbering between processes without a separate sequence per day.
_NEXT_NUMBER = text(
    "INSERT INTO case_counter (day, last) VALUES (:day, 1) "
    "ON CONFLICT (day) DO UPDATE SET last = case_counter.last + 1 RETURNING last"
)


def next_case_id(session: Session, now: datetime, tz: tzinfo) -> str:
    """Hand out the next case number of the centre's local day: C-20261122-0001."""
    day = now.astimezone(tz).strftime("%Y%m%d")
    number = session.execute(_NEXT_NUMBER, {"day": day}).scalar_one()
    return f"C-{day}-{number:04d}"


def new_case_rows(
    *,
    case_id: str,
    kind: CaseKind,
    elder_id: int,
    trigger: str,
    by: str,
    now: datetime,
    device_id: str | None = None,
    device_event_id: int | None = None,
    cause: str | None = None,
    drill: bool = False,
    line: ServiceLine | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The rows of a new case: the case, its first history row, its ladder's step 0 due now.

    The one writer of a new case: `open_case` and the gateway's press batch both write these
    columns, so a case reads the same whichever path opened it.
    """
    code = contact_id_for_case(kind, cause)
    summary = summary_for(kind, trigger)
    case = {
        "id": case_id,
        "kind": kind,
        "state": CaseState.OPEN,
        "elder_id": elder_id,
        "device_id": device_id,
        "device_event_id": device_event_id,
        "summary": summary,
        "summary_msg": msg_json(summary),
        "opened_at": now,
        "updated_at": now,
        "contact_id": code.code if code is not None else None,
        "drill": drill,
        "line": line.value if line is not None else None,
    }
    history = {
        "case_id": case_id,
        "at": now,
        "by": by,
        "action": "opened",
        "from_state": None,
        "to_state": CaseState.OPEN,
        "why": trigger,
        "why_msg": msg_json(trigger),
    }
    # The side effect is a row first: if the process dies before the fast path runs, the
    # timer sweep still fires step 0.
    timer = {
        "case_id": case_id,
        "purpose": TimerPurpose.LADDER,
        "step": 0,
        "due_at": now,
        "created_at": now,
    }
    return case, history, timer


def open_case(
    uow: SqlUnitOfWork,
    *,
    kind: CaseKind,
    elder_id: int,
    trigger: str,
    by: str,
    now: datetime,
    tz: tzinfo,
    device_id: str | None = None,
    device_event_id: int | None = None,
    cause: str | None = None,
    drill: bool = False,
    line: ServiceLine | None = None,
    matter: Matter | None = None,
) -> Case:
    """Open a case with its first history row and the ladder's first step due now.

    `cause` ("fall", "missed_check_in", a terminal problem) picks its Contact ID code where
    the kind alone does not (see domain.alarm_codes.contact_id_for_case). `drill` marks a
    case a terminal in test mode opened from a press or a fall: the whole ladder, but TEST
    and opted-in people only. Everything else (terminal trouble, check-ins, filings) is real.
    `line` is the service line (the kind's default when None). A case with a `matter`, and
    every consultation however it came in, gets its working-day deadline (general affairs
    unless told).

    Raises:
        InvalidInput: the line does not go with the kind.
    """
    session = uow.session
    line = line or default_line(kind)
    check_line(kind, line)
    row, history, timer = new_case_rows(
        case_id=next_case_id(session, now, tz),
        kind=kind,
        elder_id=elder_id,
        trigger=trigger,
        by=by,
        now=now,
        device_id=device_id,
        device_event_id=device_event_id,
        cause=cause,
        drill=drill,
        line=line,
    )
    case = Case(**row)
    session.add(case)
    session.add(whole_row(CaseEvent, history))
    write_timer(session, **timer)
    if matter is None and kind is CaseKind.CONSULT:
        matter = Matter.GENERAL  # a consultation is a matter with a deadline, press or phone
    if matter is not None:
        start_deadline(uow, case, matter, by=by, now=now, tz=tz)
    uow.emit(CaseOpened(case.id, kind, elder_id, device_id))
    return case


def _local(value: datetime, tz: tzinfo) -> datetime:
    # A time in a history line: the centre's local time, formatted per reader (domain.texts).
    return value.astimezone(tz)


def start_deadline(
    uow: SqlUnitOfWork, case: Case, matter: Matter, *, by: str, now: datetime, tz: tzinfo
) -> CaseDeadline:
    """Give the case the due date its matter has in working days, with its timer and a note."""
    due_at = due_for(now, matter, load_calendar(uow.session), tz)
    deadline = CaseDeadline(
        case_id=case.id, matter=matter, limit_days=LIMIT_DAYS[matter], filed_at=now, due_at=due_at
    )
    uow.session.add(deadline)
    uow.session.flush()
    schedule_deadline(uow, deadline, now)
    why = Msg(
        "{matter}: {days} working day(s), due by {due}",
        matter=term(matter),
        days=deadline.limit_days,
        due=_local(due_at, tz),
    )
    add_note(uow, case, action="deadline", by=by, why=why, now=now)
    return deadline


def schedule_deadline(uow: SqlUnitOfWork, deadline: CaseDeadline, now: datetime) -> None:
    """The timer that issues the supervision notice when the deadline passes."""
    if deadline.id is None:  # pragma: no cover - flushed by the callers
        raise RuntimeError("deadline has no id yet")
    uow.session.add(
        Timer(
            purpose=TimerPurpose.CASE_DEADLINE,
            step=deadline.id,
            due_at=deadline.due_at,
            created_at=now,
        )
    )


def move_case(
    uow: SqlUnitOfWork, case: Case, to: CaseState, *, by: str, why: str, now: datetime
) -> None:
    """Move `case` to `to` if the state machine allows it, recording who and why."""
    current = case.state
    check_transition(case.id, current, to)
    case.state = to
    case.updated_at = now
    uow.session.add(case)
    _write_history(
        uow,
        _history_values(case, at=now, by=by, action="transition", why=why, states=(current, to)),
    )
    uow.emit(CaseStateChanged(case.id, current, to, by, case.device_id))


def add_note(
    uow: SqlUnitOfWork, case: Case, *, action: str, by: str, why: str, now: datetime
) -> int | None:
    """Append a history row that does not change the state; its id (None: at the commit)."""
    note_id = _write_history(uow, _history_values(case, at=now, by=by, action=action, why=why))
    case.updated_at = now
    uow.session.add(case)
    return note_id


def add_note_row(
    uow: SqlUnitOfWork, case: Case, *, action: str, by: str, why: str, now: datetime
) -> CaseEvent:
    """`add_note` for a caller that answers with the row (the console's notes)."""
    note = CaseEvent(**_history_values(case, at=now, by=by, action=action, why=why))
    uow.session.add(note)
    case.updated_at = now
    uow.session.add(case)
    return note


# Set in a session's `info` by a batch whose rows must reach the database together at its
# commit, one multi-row statement a table (the alerts' batch of new emergencies' step 0):
# the history and timer rows below are then added as objects, not written one by one.
ROWS_AT_COMMIT = "rows_at_commit"


def rows_at_commit(session: Session) -> None:
    """Let the history, timer and outbox rows of this session wait for its flush."""
    session.info[ROWS_AT_COMMIT] = True


def rows_wait(session: Session) -> bool:
    """Whether this session's rows wait for its flush (`rows_at_commit`)."""
    return bool(session.info.get(ROWS_AT_COMMIT))


# A timer row is written and not read back in its transaction (the sweep reads it after the
# commit): built once and run on the session's connection, like the history rows below.
_TIMER_ROW = insert(SQLModel.metadata.tables[Timer.__tablename__])


def write_timer(
    session: Session,
    *,
    purpose: TimerPurpose,
    due_at: datetime,
    created_at: datetime,
    case_id: str | None = None,
    step: int = 0,
) -> None:
    """Insert one timer row now, in the session's transaction (see `ROWS_AT_COMMIT`)."""
    values: dict[str, Any] = {
        "case_id": case_id,
        "purpose": purpose,
        "step": step,
        "due_at": due_at,
        "fired_at": None,
        "cancelled": False,
        "created_at": created_at,
    }
    if rows_wait(session):
        session.add(whole_row(Timer, values))
        return
    # A timer still pending keeps its place (its id) before this one, as when both were
    # flushed in order: timers due at the same moment fire in the order of their ids.
    if any(isinstance(row, Timer) for row in session.new):
        session.flush()
    session.connection().execute(_TIMER_ROW, values)


# A history row is written and never read back in its transaction: built once and run on
# the session's connection, it skips the ORM object and its flush (about a quarter of a
# millisecond a row; a simulated day writes some 1,900 of them through here).
_HISTORY_ROW = insert(SQLModel.metadata.tables[CaseEvent.__tablename__])


def _history_values(
    case: Case,
    *,
    at: datetime,
    by: str,
    action: str,
    why: str,
    states: tuple[CaseState | None, CaseState | None] = (None, None),
) -> dict[str, Any]:
    """A history row's columns, for its object or its statement."""
    return {
        "case_id": case.id,
        "at": at,
        "by": by,
        "action": action,
        "from_state": states[0],
        "to_state": states[1],
        "why": why,
        "why_msg": msg_json(why),
    }


def _write_history(uow: SqlUnitOfWork, values: dict[str, Any]) -> int | None:
    """Insert one history row (`_history_values`) now, in the unit of work's transaction; its id.

    None when the session's rows wait for its commit (`ROWS_AT_COMMIT`).
    """
    session = uow.session
    if rows_wait(session):
        session.add(whole_row(CaseEvent, values))
        return None
    # A case not yet written must be there first (the row refers to it); a history row
    # still pending keeps its place before this one, as when both were flushed in order.
    if any(isinstance(row, Case | CaseEvent) for row in session.new):
        session.flush()
    result = session.connection().execute(_HISTORY_ROW, values)
    key = result.inserted_primary_key
    if key is None or key[0] is None:  # pragma: no cover - both databases return it
        raise RuntimeError(f"case {values['case_id']}: a history row without an id")
    return int(key[0])


def find_active_case(
    session: Session,
    elder_id: int,
    kind: CaseKind,
    device_id: str | None = None,
    *,
    line: ServiceLine | None = None,
) -> Case | None:
    """The elder's oldest still-active case of `kind` on `line` (optionally from one device).

    The line must match exactly (None: a case on no line): a legal matter never folds into
    a care-home one, nor medical nursing into life care.
    """
    same_line = col(Case.line).is_(None) if line is None else col(Case.line) == line
    query = select(Case).where(
        Case.elder_id == elder_id, Case.kind == kind, same_line, col(Case.state).in_(list(ACTIVE))
    )
    if device_id is not None:
        query = query.where(Case.device_id == device_id)
    return session.exec(query.order_by(col(Case.opened_at))).first()


def cancel_pending_timers(session: Session, case_id: str) -> int:
    """Stop every timer of the case that has not fired, but its notices; returns how many.

    A notice tells of something that happened (taken, reclassified): resolving the case a
    moment later must not leave the people who set off uninformed.
    """
    timers = [t for t in pending_timers(session, case_id) if t.purpose not in NOTICE_TIMERS]
    for timer in timers:
        timer.cancelled = True
        session.add(timer)
    return len(timers)


def pending_timers(
    session: Session,
    case_id: str,
    *,
    purposes: Collection[str] | None = None,
    step: int | None = None,
) -> list[Timer]:
    """The case's timers neither fired nor cancelled, oldest first; of `purposes` / `step` only."""
    query = _PENDING[purposes is not None, step is not None]
    params: dict[str, Any] = {"case_id": case_id}
    if purposes is not None:
        params["purposes"] = list(purposes)
    if step is not None:
        params["step"] = step
    if any(isinstance(o, Timer) for o in (*session.new, *session.dirty, *session.deleted)):
        return list(session.exec(query, params=params).all())  # they must be seen: flush
    # Only timer rows are read and no timer waits to be written, so the read is the same
    # without the flush: the transition just made (acknowledge, resolve) is flushed once, at
    # the commit, rather than here too.
    with session.no_autoflush:
        return list(session.exec(query, params=params).all())


def _pending_query(by_purpose: bool, by_step: bool) -> SelectOfScalar[Timer]:
    query = select(Timer).where(
        col(Timer.case_id) == bindparam("case_id"),
        col(Timer.fired_at).is_(None),
        col(Timer.cancelled).is_(False),
    )
    if by_purpose:
        query = query.where(col(Timer.purpose).in_(bindparam("purposes", expanding=True)))
    if by_step:
        query = query.where(col(Timer.step) == bindparam("step"))
    return query.order_by(col(Timer.id))


# Built once: every acknowledgement and resolution reads its case's timers, and building the
# statement cost more than running it. Keyed by (of some purposes only, of one step only).
_PENDING = {(p, s): _pending_query(p, s) for p in (False, True) for s in (False, True)}


def open_or_join(
    uow: SqlUnitOfWork,
    device: Device,
    event: DeviceEvent,
    kind: CaseKind,
    trigger: str,
    now: datetime,
    tz: tzinfo,
    *,
    cause: str | None = None,
    line: ServiceLine | None = None,
) -> Case:
    """Open a case of `kind` on `line` for the terminal's elder, or join the one running.

    `line` None is the kind's default line (a fall: emergency aid). A press of a terminal
    in test mode joins only a drill case and a real one only a real case (the planner's
    `join_key`): a drill must never swallow a real alarm, nor a drill page the real family;
    cases of different lines never fold together.
    """
    elder_id = _elder_of(device)
    line = line or default_line(kind)
    drill = in_drill(uow.session, device.device_id)
    uow.session.flush()  # the running cases are read with Core, past the ORM's pending rows
    running = running_cases(uow.session.connection(), {elder_id})
    join = running.get(join_key(elder_id, kind, line, drill))
    return place_event(
        uow, device, event, kind, trigger, now, tz, drill=drill, join=join, cause=cause, line=line
    )


def place_event(
    uow: SqlUnitOfWork,
    device: Device,
    event: DeviceEvent,
    kind: CaseKind,
    trigger: str,
    now: datetime,
    tz: tzinfo,
    *,
    drill: bool,
    join: Running | None,
    cause: str | None = None,
    line: ServiceLine | None = None,
) -> Case:
    """Carry out a placement the planner decided: join the running case `join`, or open one."""
    elder_id = _elder_of(device)
    by = f"device:{device.device_id}"
    if join is not None:
        active = uow.session.get(Case, join.case_id)
        if active is None:  # read in this transaction a moment ago
            raise RuntimeError(f"running case {join.case_id} vanished")
        # A stuck button or a nervous elder pressing again joins the case already running.
        add_note(uow, active, action="pressed_again", by=by, why=trigger, now=now)
        uow.emit(CasePressedAgain(active.id, device.device_id, join.state))
        return active
    case = open_case(
        uow,
        kind=kind,
        elder_id=elder_id,
        trigger=trigger,
        by=by,
        now=now,
        tz=tz,
        device_id=device.device_id,
        device_event_id=event.id,
        cause=cause,
        drill=drill,
        line=line,
    )
    log.info(
        "case opened case=%s kind=%s device=%s boot=%d seq=%d",
        case.id,
        kind,
        device.device_id,
        event.boot,
        event.seq,
    )
    return case


def _elder_of(device: Device) -> int:
    if device.elder_id is None:  # intake rejects these; this guards later edits
        raise RuntimeError(f"device {device.device_id} is not bound to an elder")
    return device.elder_id
