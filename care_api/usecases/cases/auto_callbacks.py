"""Callbacks by machine: whom the service calls back after a case, and the operator's list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from care_api.domain.model import CaseKind, CaseState
from care_api.domain.survey import callback_result
from care_api.domain.texts import Msg, msg_json, stored_text
from care_api.store.call_tables import AutoCallback
from care_api.store.tables import Case, Contact, Elder
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.actions import record_callback
from care_api.usecases.cases.log import add_note
from care_api.usecases.dispatch.merchants import DEFAULT_RED_CARD, merchant_who_served

MACHINE = "system:callback"  # how the machine appears in the case's history
WAITING = "waiting"
DIAL = "dial"
CALLING = "calling"
ASKING = "asking"
TEXTING = "texting"  # the survey went by SMS: the next reply from the phone answers it
DONE = "done"
OPERATOR = "operator"  # fallen back to the operator's list
FINISHED = frozenset({DONE, OPERATOR})


@dataclass(frozen=True, slots=True)
class DueCallback:
    """One line of the operator's callback list."""

    case_id: str
    kind: str
    elder_name: str
    phone: str
    whom: str
    due_at: datetime | None
    attempts: int
    reason: str  # a `Msg` when the row kept its catalogue key, for the reader's language


def awaits_machine(case: Case) -> bool:
    """A resolved real case the machine may call back about (terminals' own cases need none)."""
    return case.state == CaseState.RESOLVED and not case.drill and case.kind != CaseKind.DEVICE


def callback_of(session: Session, case_id: str) -> AutoCallback | None:
    """The machine's callback of the case, if it started one."""
    return session.exec(_CALLBACK_OF, params={"case_id": case_id}).first()


# Built once: each step of a case's callback by machine reads it.
_CALLBACK_OF = select(AutoCallback).where(col(AutoCallback.case_id) == bindparam("case_id"))


def start_auto_callback(
    session: Session, case: Case, *, default_language: str, now: datetime
) -> AutoCallback | None:
    """Whom to call: the elder, or for an emergency the first family contact; None: nobody."""
    elder = session.get(Elder, case.elder_id)
    if elder is None:  # pragma: no cover - a case always has its elder
        return None
    phone, whom, language = elder.phone, "elder", elder.language
    if case.kind == CaseKind.EMERGENCY:
        contact = session.exec(
            select(Contact)
            .where(Contact.elder_id == elder.id, Contact.phone != "")
            .order_by(col(Contact.priority), col(Contact.id))
        ).first()
        if contact is not None:
            phone, whom, language = contact.phone, f"contact:{contact.id}", contact.language
    if not phone:
        return None
    row = AutoCallback(
        case_id=case.id,
        phone=phone,
        whom=whom,
        language=language or default_language,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def merchant_served(session: Session, case_id: str) -> bool:
    """A merchant served the case, so the callback asks whether the price was fair."""
    return merchant_who_served(session, case_id) is not None


def note(uow: SqlUnitOfWork, row: AutoCallback, why: str, now: datetime) -> None:
    """A line on the case's history by the machine."""
    case = uow.session.get(Case, row.case_id)
    if case is not None:
        add_note(uow, case, action="callback_call", by=MACHINE, why=why, now=now)


def fall_back(
    uow: SqlUnitOfWork,
    row: AutoCallback,
    *,
    reason: Msg,
    due_at: datetime,
    now: datetime,
    tz: tzinfo,
) -> None:
    """Hand the callback to the operators: on their list, due at `due_at`."""
    row.state = OPERATOR
    row.due_at = due_at
    row.reason = reason[:200]
    row.reason_msg = msg_json(reason)
    row.updated_at = now
    uow.session.add(row)
    local = due_at.astimezone(tz).replace(tzinfo=None)
    note(uow, row, Msg("operator to call back by {due}: {reason}", due=local, reason=reason), now)


def finish(
    uow: SqlUnitOfWork,
    row: AutoCallback,
    *,
    now: datetime,
    red_card: timedelta = DEFAULT_RED_CARD,
) -> None:
    """Every question answered: the typed callback row, and the case closes as by hand."""
    row.state = DONE
    row.updated_at = now
    uow.session.add(row)
    record_callback(
        uow, row.case_id, callback_result(row.answers), by=MACHINE, now=now, red_card=red_card
    )


def due_callbacks(session: Session, *, limit: int = 50, offset: int = 0) -> list[DueCallback]:
    """Cases the machine could not call back that still wait for a callback, soonest first."""
    rows = session.exec(
        select(AutoCallback, Case, Elder)
        .join(Case, col(Case.id) == col(AutoCallback.case_id))
        .join(Elder, col(Elder.id) == col(Case.elder_id))
        .where(AutoCallback.state == OPERATOR, Case.state == CaseState.RESOLVED.value)
        .order_by(col(AutoCallback.due_at), col(AutoCallback.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        DueCallback(
            c.id,
            c.kind,
            e.name,
            a.phone,
            a.whom,
            a.due_at,
            a.attempts,
            stored_text(a.reason, a.reason_msg),
        )
        for a, c, e in rows
    ]
