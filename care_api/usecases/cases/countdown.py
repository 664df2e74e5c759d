"""The next rung of a case's ladder: when it falls due and whom it will reach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_api.domain.cases import is_unowned
from care_api.domain.model import CaseKind, CaseState, TimerPurpose
from care_api.store.tables import Case, Contact, Timer
from care_api.usecases.cases.ladders import Audience, get_ladder
from care_api.usecases.cases.log import pending_timers
from care_api.usecases.people.registry import contacts_of


@dataclass(frozen=True, slots=True)
class Reach:
    """One audience of the next rung: the people in it by name where they are known."""

    audience: str
    channels: list[str]
    names: list[str]
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class NextEscalation:
    """The ladder's next step: its number, when it is due, whom it tells, its console flag."""

    step: int
    due_at: datetime
    reaches: list[Reach]
    flag: str | None
    repeat: int  # 0: the rung's first run; n: its n-th repeat


def _contact_names(contacts: list[Contact], audience: Audience) -> list[str]:
    paged = [c for c in contacts if not c.notify_only]
    if not paged:
        return []
    first = min(c.priority for c in paged)
    if audience is Audience.CONTACTS_FIRST:
        paged = [c for c in paged if c.priority == first]
    elif audience is Audience.CONTACTS_REST:
        paged = [c for c in paged if c.priority != first]
    return [f"{c.name} ({c.relation})" if c.relation else c.name for c in paged]


def next_escalation(session: Session, case: Case) -> NextEscalation | None:
    """The rung the pending ladder timer will run, while nobody owns the case; else None."""
    if not is_unowned(CaseState(case.state)):
        return None
    timers = pending_timers(session, case.id, purposes=[TimerPurpose.LADDER])
    if not timers:
        return None
    timer = min(timers, key=lambda t: t.due_at)
    ladder = get_ladder(session, CaseKind(case.kind))
    if timer.step > ladder.final_step:
        return None
    index, repeat = ladder.rung_of(timer.step)
    rung = ladder.steps[index]
    contacts = contacts_of(session, case.elder_id)
    reaches = [
        Reach(
            audience=target.audience.value,
            channels=list(target.channels),
            names=_contact_names(contacts, target.audience)
            if target.audience.value.startswith("contacts_")
            else [],
            limit=target.limit,
        )
        for target in rung.notify
    ]
    return NextEscalation(timer.step, timer.due_at, reaches, rung.flag, repeat)


def next_due_of(session: Session, cases: list[Case]) -> dict[str, datetime]:
    """When each unowned case's next ladder step falls due, for the board (one query)."""
    unowned = [c.id for c in cases if is_unowned(CaseState(c.state))]
    if not unowned:
        return {}
    query = (
        select(Timer.case_id, func.min(Timer.due_at))
        .where(
            col(Timer.case_id).in_(unowned),
            col(Timer.purpose) == TimerPurpose.LADDER,
            col(Timer.fired_at).is_(None),
            col(Timer.cancelled).is_(False),
        )
        .group_by(col(Timer.case_id))
    )
    return {case_id: due for case_id, due in session.exec(query).all() if case_id and due}
