"""Bridged calls from a case: whom the operator may call, from which phone, and how it went."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from care_api.domain.errors import Conflict, InvalidInput, NotFound
from care_api.domain.events import CallRequested
from care_api.domain.phones import DEFAULT_REGION, to_e164
from care_api.domain.rota import DutyRole
from care_api.domain.texts import Msg, term
from care_api.store.call_tables import CaseCall, OperatorPhone
from care_api.store.tables import (
    Case,
    Contact,
    Elder,
    Merchant,
    OrderAttempt,
    ServiceOrder,
    Volunteer,
    VolunteerTask,
)
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import add_note
from care_api.usecases.schedules.rotas import shifts_at

CALL_ACTION = "call"
REQUESTED = "requested"
DIALING = "dialing"
CONNECTING = "connecting"
UNPLACED = "unplaced"
# Twilio's final call statuses, and ours for a call that never left.
FINAL_STATES = frozenset({"completed", "busy", "no-answer", "failed", "canceled", UNPLACED})
_PARTY = re.compile(r"(elder)|(contact|volunteer|merchant):([1-9][0-9]{0,8})")


@dataclass(frozen=True, slots=True)
class Party:
    """Someone a case lets the operator call, with the number the store holds for them."""

    key: str
    name: str
    phone: str
    language: str | None


def _not_on_case(key: str, case_id: str) -> NotFound:
    return NotFound(f"{key} is not someone case {case_id} lets you call")


def find_party(session: Session, case: Case, key: str) -> Party:
    """The party `key` names, if the case involves them; InvalidInput / NotFound otherwise."""
    match = _PARTY.fullmatch(key.strip())
    if match is None:
        raise InvalidInput(
            f"to must be elder, contact:<id>, volunteer:<id> or merchant:<id>, not {key[:40]!r}"
        )
    if match.group(1):
        elder = session.get(Elder, case.elder_id)
        if elder is None:  # pragma: no cover - a case always has its elder
            raise _not_on_case(key, case.id)
        return Party("elder", elder.name, elder.phone, elder.language)
    kind, number = match.group(2), int(match.group(3))
    if kind == "contact":
        contact = session.get(Contact, number)
        if contact is None or contact.elder_id != case.elder_id:
            raise _not_on_case(key, case.id)
        return Party(key, contact.name, contact.phone, contact.language)
    if kind == "volunteer":
        offered = session.exec(
            select(VolunteerTask.id).where(
                VolunteerTask.case_id == case.id, VolunteerTask.volunteer_id == number
            )
        ).first()
        volunteer = session.get(Volunteer, number) if offered is not None else None
        if volunteer is None:
            raise _not_on_case(key, case.id)
        return Party(key, volunteer.name, volunteer.phone, volunteer.language)
    ordered = session.exec(
        select(ServiceOrder.id)
        .outerjoin(OrderAttempt, col(OrderAttempt.order_id) == col(ServiceOrder.id))
        .where(
            ServiceOrder.case_id == case.id,
            (col(ServiceOrder.merchant_id) == number) | (col(OrderAttempt.merchant_id) == number),
        )
    ).first()
    merchant = session.get(Merchant, number) if ordered is not None else None
    if merchant is None:
        raise _not_on_case(key, case.id)
    return Party(key, merchant.name, merchant.phone, merchant.language)


def operator_phone(
    session: Session, name: str, actor: str, given: str | None, *, now: datetime, region: str
) -> str:
    """The phone Twilio rings first: the one given, the one they set, their shift, their last.

    The rota names people as their token does; a supervisor on duty is an operator here too.
    """
    if given:
        return to_e164(given, region)  # InvalidPhone (422) for what is no number
    own = session.get(OperatorPhone, actor)
    if own is not None:
        return own.phone
    roles = {DutyRole.OPERATOR, DutyRole.SUPERVISOR}
    for shift in shifts_at(session, now):
        if shift.person == name and shift.role in roles and shift.phone:
            return shift.phone
    last = session.exec(
        select(CaseCall.operator_phone)
        .where(CaseCall.operator == actor)
        .order_by(col(CaseCall.id).desc())
    ).first()
    if last:
        return last
    raise InvalidInput(
        "no phone of yours to ring first: give operator_phone, or be on the rota with a phone"
    )


def set_own_phone(
    session: Session, actor: str, phone: str | None, *, now: datetime, region: str
) -> str | None:
    """Keep (or with None forget) the phone rung first for `actor`'s bridged calls."""
    row = session.get(OperatorPhone, actor)
    if phone is None:
        if row is not None:
            session.delete(row)
        return None
    e164 = to_e164(phone, region)  # InvalidPhone (422) for what is no number
    if row is None:
        row = OperatorPhone(actor=actor, phone=e164, updated_at=now)
    row.phone, row.updated_at = e164, now
    session.add(row)
    return e164


def own_phone(session: Session, actor: str) -> str | None:
    """The phone `actor` set for their bridged calls, if any."""
    row = session.get(OperatorPhone, actor)
    return row.phone if row is not None else None


def request_call(
    uow: SqlUnitOfWork,
    case: Case,
    to: str,
    *,
    by: str,
    by_name: str,
    given_phone: str | None,
    now: datetime,
    region: str = DEFAULT_REGION,
) -> CaseCall:
    """Keep the operator's call as a row and on the history; the alerts place it."""
    party = find_party(uow.session, case, to)
    if not party.phone:
        raise Conflict(Msg("{key} has no phone number on file", key=term(party.key)))
    first = operator_phone(uow.session, by_name, by, given_phone, now=now, region=region)
    if first == party.phone:
        raise InvalidInput(Msg("your phone and the party's are the same number"))
    call = CaseCall(
        case_id=case.id,
        party=party.key,
        party_name=party.name,
        party_phone=party.phone,
        operator=by,
        operator_phone=first,
        created_at=now,
    )
    uow.session.add(call)
    uow.session.flush()
    if call.id is None:  # pragma: no cover - the flush gave it one
        raise RuntimeError("call has no id")
    why = Msg("call to {party} requested", party=_named(call))
    add_note(uow, case, action=CALL_ACTION, by=by, why=why, now=now)
    uow.emit(CallRequested(case_id=case.id, call_id=call.id))
    return call


def calls_of_case(session: Session, case_id: str) -> list[CaseCall]:
    """The case's calls, newest first."""
    return list(
        session.exec(
            select(CaseCall).where(CaseCall.case_id == case_id).order_by(col(CaseCall.id).desc())
        ).all()
    )


def _named(call: CaseCall) -> str:
    party = term(call.party)  # "elder" in the reader's words; "contact:3" as it is
    return Msg("{name} ({party})", name=call.party_name, party=party) if call.party_name else party


def party_answered(call: CaseCall, outcome: str, duration_s: int | None) -> None:
    """The <Dial> to the party ended: whether they answered and how long they talked."""
    call.party_outcome = outcome[:16]
    call.duration_s = duration_s


def end_call(uow: SqlUnitOfWork, call: CaseCall, status: str, *, now: datetime) -> bool:
    """The call is over: its outcome and length go on the case's history (once); True if new."""
    if call.state in FINAL_STATES:
        return False
    call.state = status[:16]
    call.ended_at = now
    case = uow.session.get(Case, call.case_id)
    if case is None:  # pragma: no cover - a call always has its case
        return False
    how: Msg
    if status == "completed" and call.party_outcome == "completed":
        how = Msg("talked {seconds} s", seconds=call.duration_s or 0)
    elif status == "completed":
        how = Msg(
            "the party did not answer ({status})", status=term(call.party_outcome or "no answer")
        )
    elif status == UNPLACED:
        how = Msg("not placed: {detail}", detail=call.detail)
    else:
        how = Msg("your phone did not answer ({status})", status=term(status))
    why = Msg("call to {party}: {outcome}", party=_named(call), outcome=how)
    add_note(uow, case, action=CALL_ACTION, by=call.operator, why=why, now=now)
    uow.session.add(call)
    return True
