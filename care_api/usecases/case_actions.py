"""What people do to a case: acknowledge, accept, arrive, resolve, record the callback."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session

from care_api.domain.cases import is_unowned
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.model import CaseState
from care_api.store.tables import Case
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.case_log import add_note, cancel_pending_timers, move_case


def get_case(session: Session, case_id: str) -> Case:
    """The case, or NotFound."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def _lock_case(session: Session, case_id: str) -> Case:
    # FOR UPDATE makes two responders racing for one case queue up on PostgreSQL, so the
    # second sees the first one's owner (first-receiver ownership). SQLite has one writer.
    case = session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def acknowledge(uow: SqlUnitOfWork, case_id: str, *, by: str, now: datetime, via: str) -> Case:
    """The first to acknowledge owns the case; the ladder stops chasing everyone else.

    A later acknowledgement by someone else raises Conflict naming the owner; the owner
    acknowledging again is a no-op, so a doubled SMS reply does no harm.
    """
    case = _lock_case(uow.session, case_id)
    if case.owner == by:
        return case
    if not is_unowned(CaseState(case.state)):
        raise Conflict(f"case {case_id} is already taken by {case.owner or 'someone'}")
    move_case(uow, case, CaseState.ACCEPTED, by=by, why=f"acknowledged via {via}", now=now)
    case.owner = by
    case.acknowledged_at = now
    cancel_pending_timers(uow.session, case.id)
    return case


def arrive(uow: SqlUnitOfWork, case_id: str, *, by: str, now: datetime) -> Case:
    """The owner is with the elder."""
    case = _lock_case(uow.session, case_id)
    move_case(uow, case, CaseState.ON_SITE, by=by, why="on site", now=now)
    return case


def resolve(uow: SqlUnitOfWork, case_id: str, *, by: str, why: str, now: datetime) -> Case:
    """The need is met; the case waits for its callback before it closes."""
    case = _lock_case(uow.session, case_id)
    move_case(uow, case, CaseState.RESOLVED, by=by, why=why or "resolved", now=now)
    case.resolved_at = now
    cancel_pending_timers(uow.session, case.id)
    return case


def record_callback(
    uow: SqlUnitOfWork, case_id: str, result: Mapping[str, object], *, by: str, now: datetime
) -> Case:
    """Record the callback (回访) to the elder and close the case."""
    case = _lock_case(uow.session, case_id)
    if CaseState(case.state) not in (CaseState.RESOLVED, CaseState.CANCELLED):
        raise Conflict(f"case {case_id} is {case.state}; a callback follows resolution")
    summary = ", ".join(f"{k}={v}" for k, v in result.items() if v not in (None, ""))
    add_note(uow, case, action="callback", by=by, why=summary or "callback made", now=now)
    move_case(uow, case, CaseState.CLOSED, by=by, why="closed after callback", now=now)
    case.closed_at = now
    return case
