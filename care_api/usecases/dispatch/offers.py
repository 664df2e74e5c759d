"""Care tasks offered to volunteers: offers by ring, the first acceptance, declines, withdrawal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from care_api.domain.cases import ALLOWED, is_unowned
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.events import VolunteersRequested
from care_api.domain.model import SYSTEM, CaseKind, CaseState, TimerPurpose
from care_api.domain.texts import Msg, state_word, stored_text, term
from care_api.domain.volunteering import Offeree
from care_api.store.tables import Case, CaseNeed, Elder, Timer, Volunteer, VolunteerTask
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.actions import acknowledge, resolve
from care_api.usecases.cases.log import add_note, move_case
from care_api.usecases.cases.queries import Page
from care_api.usecases.dispatch.volunteers import volunteer_actor

BY = str(SYSTEM)


class TaskStatus(StrEnum):
    """Where one offer stands."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"  # the ring moved on without an answer; a late "yes" may still take it
    WITHDRAWN = "withdrawn"  # someone else took the case, or it ended
    DONE = "done"


OPEN = (TaskStatus.OFFERED, TaskStatus.EXPIRED)


@dataclass(frozen=True, slots=True)
class Need:
    """What a care case asks of a volunteer."""

    need: str
    skill: str | None = None
    needs_medical: bool = False


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task with its case and elder, for the task list."""

    task: VolunteerTask
    case: Case
    elder: Elder


def need_of(session: Session, case: Case) -> Need:
    """The need an operator recorded for the case, else the case's own title."""
    row = session.get(CaseNeed, case.id)
    title = stored_text(case.summary, case.summary_msg)  # said in each reader's language
    if row is None:
        return Need(title)
    return Need(row.need or title, row.skill, row.needs_medical)


def offered_volunteers(session: Session, case_id: str) -> set[int]:
    """Every volunteer the case was offered to, whatever they answered."""
    rows = session.exec(
        select(VolunteerTask.volunteer_id).where(VolunteerTask.case_id == case_id)
    ).all()
    return set(rows)


def record_offers(
    uow: SqlUnitOfWork,
    case: Case,
    *,
    ring: int,
    radius_km: float,
    chosen: Sequence[tuple[Volunteer, Offeree]],
    need: Need,
    now: datetime,
) -> list[VolunteerTask]:
    """Add one task per chosen volunteer and move the case: dispatched, or escalated by ring."""
    tasks = []
    for volunteer, offeree in chosen:
        if volunteer.id is None:
            continue
        task = VolunteerTask(
            case_id=case.id,
            volunteer_id=volunteer.id,
            ring=ring,
            distance_km=offeree.distance_km,
            need=need.need[:500],
            needs_medical=need.needs_medical,
            offered_at=now,
        )
        uow.session.add(task)
        tasks.append(task)
    uow.session.flush()
    names = ", ".join(volunteer_actor(t.volunteer_id) for t in tasks)
    why = Msg("ring {ring} ({km} km): {names}", ring=ring, km=f"{radius_km:g}", names=names)
    add_note(uow, case, action="offered", by=BY, why=why, now=now)
    _climb(uow, case, ring, why=Msg("no volunteer accepted: ring {ring}", ring=ring), now=now)
    return tasks


def _climb(uow: SqlUnitOfWork, case: Case, ring: int, *, why: str, now: datetime) -> None:
    allowed = ALLOWED[case.state]
    if ring == 0 and CaseState.DISPATCHED in allowed:
        move_case(uow, case, CaseState.DISPATCHED, by=BY, why=Msg("offered to volunteers"), now=now)
    elif ring > 0 and CaseState.ESCALATED in allowed:
        move_case(uow, case, CaseState.ESCALATED, by=BY, why=why, now=now)
        case.level = ring


def fall_to_operator(uow: SqlUnitOfWork, case: Case, *, ring: int, why: str, now: datetime) -> None:
    """No volunteer took the case: the console must act (a flag the board shows)."""
    _climb(uow, case, max(ring, 1), why=why, now=now)
    add_note(uow, case, action="flag", by=BY, why=Msg("no volunteer: operator to arrange"), now=now)


def request_offers(
    uow: SqlUnitOfWork, case_id: str, need: Need | None, *, by: str, now: datetime
) -> Case:
    """Staff start the volunteer rings of a care case nobody owns: ring 0 is due now.

    `need` (if given) replaces what the offers ask for. Volunteers offered before are not
    asked again. Conflict when the case is not care, is owned or ended, or offers are out.
    """
    case = uow.session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    if case.kind != CaseKind.CARE:
        raise Conflict(
            Msg(
                "case {case_id} is a {kind} case; only care cases go to volunteers",
                case_id=case_id,
                kind=term(case.kind),
            )
        )
    if not is_unowned(case.state):
        state = state_word(case.state)
        raise Conflict(
            Msg(
                "case {case_id} is {state} by {owner}; offers are for unowned cases",
                case_id=case_id,
                state=state,
                owner=case.owner,
            )
            if case.owner
            else Msg(
                "case {case_id} is {state}; offers are for unowned cases",
                case_id=case_id,
                state=state,
            )
        )
    if has_open_offers(uow.session, case_id) or _pending_ring(uow.session, case_id):
        raise Conflict(
            Msg("case {case_id} is being offered to volunteers already", case_id=case_id)
        )
    if need is not None:
        row = uow.session.get(CaseNeed, case_id) or CaseNeed(case_id=case_id)
        row.need = need.need[:500]
        row.skill = need.skill.strip().lower() if need.skill else None
        row.needs_medical = need.needs_medical
        uow.session.add(row)
    uow.session.add(
        Timer(
            case_id=case_id, purpose=TimerPurpose.VOLUNTEER_RING, step=0, due_at=now, created_at=now
        )
    )
    case.level = 0  # a fresh round: the rings count from the first again
    what = need.need if need is not None and need.need else "offer to volunteers"
    add_note(uow, case, action="offers_requested", by=by, why=what, now=now)
    uow.emit(VolunteersRequested(case_id, by))
    return case


def has_open_offers(session: Session, case_id: str) -> bool:
    """True while an offer of the case waits for its volunteer's answer."""
    waiting = session.exec(
        select(VolunteerTask.id).where(
            VolunteerTask.case_id == case_id, VolunteerTask.status == TaskStatus.OFFERED
        )
    ).first()
    return waiting is not None


def _unowned(session: Session, case_id: str) -> bool:
    case = session.get(Case, case_id)
    return case is not None and is_unowned(case.state)


def _pending_ring(session: Session, case_id: str) -> bool:
    return (
        session.exec(
            select(Timer.id).where(
                Timer.case_id == case_id,
                Timer.purpose == TimerPurpose.VOLUNTEER_RING,
                col(Timer.fired_at).is_(None),
                col(Timer.cancelled).is_(False),
            )
        ).first()
        is not None
    )


def expire_open_offers(session: Session, case_id: str, now: datetime) -> int:
    """Offers left unanswered when the circle widens; returns how many."""
    return _close_offers(session, case_id, (TaskStatus.OFFERED,), TaskStatus.EXPIRED, now)


def may_have_open_offers(conn: Connection, case_id: str) -> bool:
    """Whether the case has an offer to withdraw, asked on a bare connection (no session)."""
    params = {"case_id": case_id, "states": list(OPEN)}
    return conn.execute(_ANY_OPEN_OFFER, params).first() is not None


# Nearly every case taken or ended has no offer out: one plain row answers that.
_ANY_OPEN_OFFER = (
    sa_select(col(VolunteerTask.id))
    .where(
        col(VolunteerTask.case_id) == bindparam("case_id"),
        col(VolunteerTask.status).in_(bindparam("states", expanding=True)),
    )
    .limit(1)
)


def withdraw_open_offers(session: Session, case_id: str, now: datetime) -> int:
    """Offers nobody needs any more (the case was taken or ended); returns how many."""
    return _close_offers(session, case_id, OPEN, TaskStatus.WITHDRAWN, now)


# Built once: every case taken or ended looks for offers to withdraw, nearly always none.
_OFFERS_IN = select(VolunteerTask).where(
    col(VolunteerTask.case_id) == bindparam("case_id"),
    col(VolunteerTask.status).in_(bindparam("states", expanding=True)),
)


def _close_offers(
    session: Session,
    case_id: str,
    states: Sequence[TaskStatus],
    to: TaskStatus,
    now: datetime,
) -> int:
    rows = session.exec(_OFFERS_IN, params={"case_id": case_id, "states": list(states)}).all()
    for task in rows:
        task.status = to
        task.answered_at = task.answered_at or now
        session.add(task)
    return len(rows)


def task_of(session: Session, case_id: str, volunteer_id: int) -> VolunteerTask | None:
    """The offer of the case to the volunteer, if there is one."""
    return session.exec(
        select(VolunteerTask).where(
            VolunteerTask.case_id == case_id, VolunteerTask.volunteer_id == volunteer_id
        )
    ).first()


def get_task(session: Session, task_id: int, volunteer_id: int | None) -> VolunteerTask:
    """The task; NotFound also when it is another volunteer's (`volunteer_id` None: staff)."""
    task = session.get(VolunteerTask, task_id)
    if task is None or (volunteer_id is not None and task.volunteer_id != volunteer_id):
        raise NotFound(Msg("task {task_id} not found", task_id=task_id))
    return task


def accept_offer(
    uow: SqlUnitOfWork, case_id: str, volunteer_id: int, *, now: datetime, via: str
) -> Case:
    """The volunteer takes the case if nobody has; the other offers are withdrawn.

    Raises Conflict (naming the owner) when someone else was first, NotFound without an offer.
    """
    task = task_of(uow.session, case_id, volunteer_id)
    if task is None:
        raise NotFound(
            Msg(
                "no task of case {case_id} was offered to volunteer {volunteer_id}",
                case_id=case_id,
                volunteer_id=volunteer_id,
            )
        )
    if task.status == TaskStatus.DONE:
        raise Conflict(Msg("task {task} is done already", task=task.id))
    if task.status == TaskStatus.WITHDRAWN and _unowned(uow.session, case_id):
        # Withdrawn while nobody owns the case: it was reclassified, no longer a care task.
        raise Conflict(Msg("the offer of case {case_id} was withdrawn", case_id=case_id))
    case = acknowledge(uow, case_id, by=volunteer_actor(volunteer_id), now=now, via=via)
    if task.status != TaskStatus.ACCEPTED:
        task.status = TaskStatus.ACCEPTED
        task.answered_at = now
        uow.session.add(task)
    withdraw_open_offers(uow.session, case_id, now)
    return case


def decline_offer(
    uow: SqlUnitOfWork, case_id: str, volunteer_id: int, *, now: datetime, via: str
) -> bool:
    """The volunteer cannot go; True when that leaves the ring without an open offer.

    Then the next ring is due at once rather than after the rest of the wait.
    """
    task = task_of(uow.session, case_id, volunteer_id)
    if task is None:
        raise NotFound(
            Msg(
                "no task of case {case_id} was offered to volunteer {volunteer_id}",
                case_id=case_id,
                volunteer_id=volunteer_id,
            )
        )
    if task.status not in OPEN:
        raise Conflict(
            Msg(
                "task {task} is {status}; only an open offer can be declined",
                task=task.id,
                status=term(task.status),
            )
        )
    task.status = TaskStatus.DECLINED
    task.answered_at = now
    uow.session.add(task)
    case = uow.session.get(Case, case_id)
    if case is not None:
        by = volunteer_actor(volunteer_id)
        add_note(
            uow,
            case,
            action="declined",
            by=by,
            why=Msg("declined via {via}", via=term(via)),
            now=now,
        )
    still_open = uow.session.exec(
        select(VolunteerTask.id).where(
            VolunteerTask.case_id == case_id, VolunteerTask.status == TaskStatus.OFFERED
        )
    ).first()
    if still_open is not None:
        return False
    pending = uow.session.exec(
        select(Timer).where(
            Timer.case_id == case_id,
            Timer.purpose == TimerPurpose.VOLUNTEER_RING,
            col(Timer.fired_at).is_(None),
            col(Timer.cancelled).is_(False),
        )
    ).all()
    for timer in pending:
        timer.due_at = min(timer.due_at, now)
        uow.session.add(timer)
    return bool(pending)


def finish_task(uow: SqlUnitOfWork, task_id: int, volunteer_id: int, *, now: datetime) -> Case:
    """The volunteer reports the task done: the case is resolved and waits for its callback."""
    task = get_task(uow.session, task_id, volunteer_id)
    if task.status != TaskStatus.ACCEPTED:
        raise Conflict(
            Msg(
                "task {task_id} is {status}; only an accepted task can be done",
                task_id=task_id,
                status=term(task.status),
            )
        )
    case = resolve(
        uow, task.case_id, by=volunteer_actor(volunteer_id), why=Msg("volunteer: done"), now=now
    )
    task.status = TaskStatus.DONE
    uow.session.add(task)
    return case


def task_row(session: Session, task_id: int) -> TaskRow:
    """One task with its case and elder."""
    found = session.exec(
        select(VolunteerTask, Case, Elder)
        .join(Case, col(Case.id) == col(VolunteerTask.case_id))
        .join(Elder, col(Elder.id) == col(Case.elder_id))
        .where(VolunteerTask.id == task_id)
    ).first()
    if found is None:
        raise NotFound(Msg("task {task_id} not found", task_id=task_id))
    return TaskRow(*found)


def list_tasks(
    session: Session,
    *,
    volunteer_id: int | None,
    status: str | None = None,
    case_id: str | None = None,
    page: Page | None = None,
) -> list[TaskRow]:
    """Tasks newest first: one volunteer's (their own only), or every one for staff."""
    page = page or Page()
    query = (
        select(VolunteerTask, Case, Elder)
        .join(Case, col(Case.id) == col(VolunteerTask.case_id))
        .join(Elder, col(Elder.id) == col(Case.elder_id))
    )
    if volunteer_id is not None:
        query = query.where(VolunteerTask.volunteer_id == volunteer_id)
    if status is not None:
        query = query.where(VolunteerTask.status == status)
    if case_id is not None:
        query = query.where(VolunteerTask.case_id == case_id)
    query = query.order_by(col(VolunteerTask.offered_at).desc(), col(VolunteerTask.id).desc())
    rows = session.exec(query.offset(page.offset).limit(page.limit)).all()
    return [TaskRow(t, c, e) for t, c, e in rows]
