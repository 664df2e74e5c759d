"""Who answers alerts: people recognised by their phone, their names, and their refusals."""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, col, select

from care_api.domain.model import CaseState
from care_api.store.tables import Case, Contact, Merchant, Volunteer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.actions import acknowledge, get_case
from care_api.usecases.cases.log import add_note
from care_api.usecases.dispatch.merchants import MERCHANT, merchant_actor
from care_api.usecases.dispatch.offers import OPEN, accept_offer, decline_offer, task_of
from care_api.usecases.dispatch.volunteers import VOLUNTEER, volunteer_actor, volunteer_id_of
from care_api.usecases.schedules.rotas import supervisor_phones

SUPERVISOR = "supervisor"
# Numbers arrive as "+8613900000001", "8613900000001" or "139 0000 0001"; the last 11 digits
# are a Chinese mobile's national number and long enough that two people never share them.
MATCH_DIGITS = 11
MIN_DIGITS = 5  # shorter "numbers" (short codes, garbage) identify nobody
_NOT_DIGITS = re.compile(r"\D")


def phone_digits(phone: str) -> str:
    """The digits of a phone number, without the international "00" prefix."""
    digits = _NOT_DIGITS.sub("", phone)
    return digits[2:] if phone.strip().startswith("00") else digits


def same_phone(a: str, b: str) -> bool:
    """True when two spellings of a number name the same phone."""
    da, db = phone_digits(a), phone_digits(b)
    if not da or not db:
        return False
    if da == db:
        return True
    return min(len(da), len(db)) >= MATCH_DIGITS and da[-MATCH_DIGITS:] == db[-MATCH_DIGITS:]


def identify_phone(session: Session, phone: str, *, supervisor_phone: str | None) -> list[str]:
    """Every actor a phone number belongs to ("contact:3", "supervisor"); [] when unknown.

    One person may be the contact of several elders (a daughter of two parents), so a number
    can name several contacts.
    """
    digits = phone_digits(phone)
    if len(digits) < MIN_DIGITS:
        return []
    # A cheap filter in SQL (stored numbers keep their spelling); the exact check is below.
    candidates = session.exec(
        select(Contact).where(col(Contact.phone).contains(digits[-4:])).order_by(col(Contact.id))
    ).all()
    found = [f"contact:{c.id}" for c in candidates if same_phone(c.phone, phone)]
    volunteers = session.exec(
        select(Volunteer)
        .where(col(Volunteer.phone).contains(digits[-4:]), col(Volunteer.active).is_(True))
        .order_by(col(Volunteer.id))
    ).all()
    found += [volunteer_actor(v.id) for v in volunteers if v.id and same_phone(v.phone, phone)]
    merchants = session.exec(
        select(Merchant)
        .where(col(Merchant.phone).contains(digits[-4:]), col(Merchant.status) != "removed")
        .order_by(col(Merchant.id))
    ).all()
    found += [merchant_actor(m.id) for m in merchants if m.id and same_phone(m.phone, phone)]
    supervisors = [supervisor_phone] if supervisor_phone else []
    supervisors += supervisor_phones(session)  # anyone who was on the rota as supervisor
    if any(same_phone(p, phone) for p in supervisors):
        found.append(SUPERVISOR)
    return found


def describe_actor(session: Session, actor: str | None) -> str:
    """A name for the person behind an actor string, as others are told it."""
    if not actor:
        return "someone"
    kind, _, ident = actor.partition(":")
    if kind == "contact" and ident.isdigit():
        contact = session.get(Contact, int(ident))
        if contact is not None:
            return f"{contact.name} ({contact.relation})" if contact.relation else contact.name
    if kind in {VOLUNTEER, MERCHANT} and ident.isdigit():
        person = (
            session.get(Volunteer, int(ident))
            if kind == VOLUNTEER
            else session.get(Merchant, int(ident))
        )
        if person is not None:
            return person.name
    if actor == SUPERVISOR:
        return "the supervisor"
    if kind in {"operator", "admin"}:
        return f"operator {ident}" if ident else "an operator"
    return ident or actor


def take_case(uow: SqlUnitOfWork, case_id: str, *, by: str, now: datetime, via: str) -> Case:
    """`by` takes the case: through their offer when it was offered to them as a task."""
    volunteer_id = volunteer_id_of(by)
    if volunteer_id is not None and task_of(uow.session, case_id, volunteer_id) is not None:
        return accept_offer(uow, case_id, volunteer_id, now=now, via=via)
    return acknowledge(uow, case_id, by=by, now=now, via=via)


def decline(uow: SqlUnitOfWork, case_id: str, *, by: str, now: datetime, via: str) -> CaseState:
    """Record that `by` cannot take the case; the ladder keeps climbing as it would anyway.

    A volunteer declining an offer declines their task; when that was the ring's last open
    offer, the circle widens at once.
    """
    volunteer_id = volunteer_id_of(by)
    if volunteer_id is not None:
        task = task_of(uow.session, case_id, volunteer_id)
        if task is not None and task.status in OPEN:
            decline_offer(uow, case_id, volunteer_id, now=now, via=via)
            return CaseState(get_case(uow.session, case_id).state)
    case = get_case(uow.session, case_id)
    add_note(uow, case, action="declined", by=by, why=f"declined via {via}", now=now)
    return CaseState(case.state)
