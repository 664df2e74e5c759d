"""What people do to a case: acknowledge, accept, arrive, resolve, record the callbacks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from care_api.domain.cases import ACTIVE, AWAITING_CALLBACK, UNOWNED, is_unowned
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.model import CaseKind, CaseState, TimerPurpose
from care_api.domain.survey import callback_line
from care_api.domain.texts import Msg, state_word, term
from care_api.store.tables import Case
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.callbacks import (
    FAILED_CLOSE_WHY,
    MAX_FAILED_CALLBACKS,
    arm_auto_callback,
    failed_callbacks,
    penalise_if_bad,
    store_callback,
)
from care_api.usecases.cases.log import (
    LOOP_ARM,
    add_note,
    cancel_pending_timers,
    move_case,
    write_timer,
)
from care_api.usecases.dispatch.merchants import DEFAULT_RED_CARD
from care_api.usecases.schedules.drills import drilled_devices

DRILL_ENDED_WHY = Msg("drill ended")


def get_case(session: Session, case_id: str) -> Case:
    """The case, or NotFound."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    return case


def _lock_case(session: Session, case_id: str) -> Case:
    # FOR UPDATE makes two responders racing for one case queue up on PostgreSQL, so the
    # second sees the first one's owner (first-receiver ownership). SQLite has one writer.
    case = session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    return case


def _claim(session: Session, case_id: str, by: str) -> bool:
    # A conditional UPDATE is the ownership race's referee on every database: SQLite reads
    # outside the write transaction (no FOR UPDATE), so a read-then-write check alone lets
    # two racing acknowledgements both win there. The loser's UPDATE waits for the winner's
    # commit and then matches no row.
    claimed = session.connection().execute(
        update(Case)
        .where(
            col(Case.id) == case_id,
            col(Case.owner).is_(None),
            col(Case.state).in_([s.value for s in UNOWNED]),
        )
        .values(owner=by)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)


def acknowledge(uow: SqlUnitOfWork, case_id: str, *, by: str, now: datetime, via: str) -> Case:
    """The first to acknowledge owns the case; the ladder stops chasing everyone else.

    A later acknowledgement by someone else raises Conflict naming the owner; the owner
    acknowledging again is a no-op, so a doubled SMS reply does no harm.
    """
    case = _lock_case(uow.session, case_id)
    if case.owner == by:
        return case
    if not is_unowned(case.state) or not _claim(uow.session, case_id, by):
        uow.session.refresh(case)
        if case.owner == by:
            return case
        raise Conflict(
            Msg("case {case_id} is already taken by {owner}", case_id=case_id, owner=case.owner)
            if case.owner
            else Msg("case {case_id} is already taken", case_id=case_id)
        )
    move_case(
        uow,
        case,
        CaseState.ACCEPTED,
        by=by,
        why=Msg("acknowledged via {via}", via=term(via)),
        now=now,
    )
    case.owner = by
    case.acknowledged_at = now
    cancel_pending_timers(uow.session, case.id)
    # Everyone else alerted must hear it is taken, or they may all set off: a row in this
    # transaction, which the alerts' sweep turns into the notices if the process dies first.
    write_timer(
        uow.session, case_id=case.id, purpose=TimerPurpose.TAKEN, step=0, due_at=now, created_at=now
    )
    if case.kind == CaseKind.EMERGENCY:
        # In the acknowledgement's own transaction, so a crash cannot lose the closed loop;
        # the alerts engine reads the configured times when it fires (at once).
        write_timer(
            uow.session,
            case_id=case.id,
            purpose=TimerPurpose.LOOP,
            step=LOOP_ARM,
            due_at=now,
            created_at=now,
        )
    return case


def arrive(uow: SqlUnitOfWork, case_id: str, *, by: str, now: datetime) -> Case:
    """The owner is with the elder."""
    case = _lock_case(uow.session, case_id)
    move_case(uow, case, CaseState.ON_SITE, by=by, why=Msg("on site"), now=now)
    return case


def resolve(uow: SqlUnitOfWork, case_id: str, *, by: str, why: str, now: datetime) -> Case:
    """The need is met; the case waits for its callback before it closes."""
    case = _lock_case(uow.session, case_id)
    move_case(uow, case, CaseState.RESOLVED, by=by, why=why or Msg("resolved"), now=now)
    case.resolved_at = now
    cancel_pending_timers(uow.session, case.id)
    if not case.drill:
        arm_auto_callback(uow.session, case, now)
    return case


def record_callback(
    uow: SqlUnitOfWork,
    case_id: str,
    result: Mapping[str, object],
    *,
    by: str,
    now: datetime,
    red_card: timedelta = DEFAULT_RED_CARD,
) -> Case:
    """Record a callback (回访) to the elder; the case closes once it reached them.

    Every attempt is a `callback` row. An attempt that did not reach the elder leaves the
    case resolved until the MAX_FAILED_CALLBACKS-th, which closes it as failed. A bad
    callback on a case a merchant served is a strike against that merchant (`red_card`: how
    long a red card stops their orders).
    """
    case = _lock_case(uow.session, case_id)
    if case.state not in AWAITING_CALLBACK:
        raise Conflict(
            Msg(
                "case {case_id} is {state}; a callback follows resolution",
                case_id=case_id,
                state=state_word(case.state),
            )
        )
    add_note(uow, case, action="callback", by=by, why=callback_line(result), now=now)
    row = store_callback(uow.session, case, result, by=by, now=now)
    if not row.reached:
        if failed_callbacks(uow.session, case_id) < MAX_FAILED_CALLBACKS:
            return case
        move_case(uow, case, CaseState.CLOSED, by=by, why=FAILED_CLOSE_WHY, now=now)
    else:
        penalise_if_bad(uow, case, row, now=now, red_card=red_card)
        move_case(uow, case, CaseState.CLOSED, by=by, why=Msg("closed after callback"), now=now)
    case.closed_at = now
    return case


def settle_drill_cases(uow: SqlUnitOfWork, *, by: str, now: datetime) -> list[str]:
    """Close every active drill case whose terminal is no longer in test mode; their ids.

    Run when a drill ends: a drill case left open would otherwise take the terminal's next
    presses into a test ladder. Its pending steps stop; a drill needs no callback.
    """
    session = uow.session
    rows = session.exec(
        select(Case)
        .where(col(Case.drill).is_(True), col(Case.state).in_([s.value for s in ACTIVE]))
        .order_by(col(Case.opened_at))
        .with_for_update()
    ).all()
    still = drilled_devices(session, [c.device_id for c in rows if c.device_id is not None])
    settled: list[str] = []
    for case in rows:
        if case.device_id in still:
            continue  # another drill still covers its terminal
        move_case(uow, case, CaseState.RESOLVED, by=by, why=DRILL_ENDED_WHY, now=now)
        case.resolved_at = now
        cancel_pending_timers(session, case.id)
        move_case(uow, case, CaseState.CLOSED, by=by, why=DRILL_ENDED_WHY, now=now)
        case.closed_at = now
        settled.append(case.id)
    return settled
