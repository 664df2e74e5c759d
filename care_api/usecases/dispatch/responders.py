"""Who answers alerts: people recognised by their phone, their names, and their refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, CompoundSelect, bindparam, literal, union_all
from sqlmodel import Session, col, select

from care_api.domain.channels import PERSON_CHANNELS, PHONE_CHANNELS
from care_api.domain.model import CaseState
from care_api.domain.phones import DEFAULT_REGION, e164_or_none
from care_api.domain.rota import DutyRole
from care_api.domain.texts import Msg, term
from care_api.store.tables import Case, Contact, Merchant, Notification, Shift, Volunteer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.actions import acknowledge, get_case
from care_api.usecases.cases.log import add_note
from care_api.usecases.dispatch.merchants import MERCHANT
from care_api.usecases.dispatch.offers import OPEN, accept_offer, decline_offer, task_of
from care_api.usecases.dispatch.volunteers import VOLUNTEER, volunteer_id_of

SUPERVISOR = "supervisor"
CONTACT = "contact"  # a contact's actor: "contact:3"
# Contacts, active volunteers and merchants not removed with this number, in that order,
# each by id: the actors `identify_phone` names. Built once; the number is bound per call.
_PHONE: BindParameter[str] = bindparam("phone")
_ROTA = "rota"  # a row of the rota's supervisor phones, not an actor
# Each with the person's own language (None: the centre's), which the reply is written in.
_ACTORS_BY_PHONE: CompoundSelect[*tuple[Any, ...]] = union_all(
    select(
        literal(CONTACT).label("kind"),
        col(Contact.id).label("id"),
        literal(0).label("n"),
        col(Contact.language).label("language"),
    ).where(col(Contact.phone) == _PHONE),
    select(literal(VOLUNTEER), col(Volunteer.id), literal(1), col(Volunteer.language)).where(
        col(Volunteer.phone) == _PHONE, col(Volunteer.active).is_(True)
    ),
    select(literal(MERCHANT), col(Merchant.id), literal(2), col(Merchant.language)).where(
        col(Merchant.phone) == _PHONE, col(Merchant.status) != "removed"
    ),
    # Last, every phone a supervisor has on the rota (`supervisor_phones`), in the fourth
    # column: the rota keeps numbers as typed, so they are compared in E.164 here, not in SQL.
    select(literal(_ROTA), literal(0), literal(3), col(Shift.phone))
    .where(col(Shift.role) == DutyRole.SUPERVISOR.value)
    .distinct(),
).order_by("n", "id")


def identify_phone(
    session: Session, phone: str, *, supervisor_phone: str | None, region: str = DEFAULT_REGION
) -> list[str]:
    """Every actor a phone number belongs to ("contact:3", "supervisor"); [] when unknown.

    One person may be the contact of several elders (a daughter of two parents), so a number
    can name several contacts. Numbers match only when their E.164 forms are equal: agreeing
    on the last digits is two different phones in two countries.
    """
    return identify_phone_speaking(
        session, phone, supervisor_phone=supervisor_phone, region=region
    ).actors


@dataclass(frozen=True, slots=True)
class Identified:
    """The actors a phone belongs to, and the first one's own language if it has a row."""

    actors: list[str]
    # The language column of the first actor's row (None: theirs is the centre's); `known`
    # False when the first actor has no row of its own (the supervisor, or nobody).
    language: str | None = None
    known: bool = False


def identify_phone_speaking(
    session: Session, phone: str, *, supervisor_phone: str | None, region: str = DEFAULT_REGION
) -> Identified:
    """`identify_phone`, with the first actor's language read in the same statement."""
    e164 = e164_or_none(phone, region)
    if e164 is None:
        return Identified([])
    # One statement for the three tables: an SMS reply asks this before anything else.
    every = session.execute(_ACTORS_BY_PHONE, {"phone": e164}).all()
    rows = [row for row in every if row[0] != _ROTA]
    found = [f"{kind}:{ident}" for kind, ident, _, _ in rows]
    supervisors = [supervisor_phone] if supervisor_phone else []
    # Anyone who was on the rota as supervisor.
    supervisors += [row[3] for row in every if row[0] == _ROTA and row[3]]
    if any(e164_or_none(p, region) == e164 for p in supervisors):
        found.append(SUPERVISOR)
    if rows:
        return Identified(found, rows[0][3], known=True)
    return Identified(found)


def describe_actor(session: Session, actor: str | None) -> str:
    """A name for the person behind an actor string, as others are told it."""
    if not actor:
        return Msg("someone")
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
        return Msg("the supervisor")
    if kind in {"operator", "admin"}:
        return Msg("operator {name}", name=ident) if ident else Msg("an operator")
    return ident or actor


# The family may see the numbers of the elder and of each other (the elder's alert list); the
# people the centre brings in (volunteers, merchants, the supervisor) keep theirs private.
FAMILY_SEES_NUMBERS_OF = frozenset({"contact", "elder"})


def shown_to_family(session: Session, row: Notification) -> str:
    """The `to` of a message as a caregiver sees it: "volunteer Ann Liu", not their number."""
    kind = row.recipient.partition(":")[0]
    if row.channel in PERSON_CHANNELS and row.channel not in PHONE_CHANNELS:
        # An address that is no phone (a WeChat openid) means nothing to a reader: the name.
        return f"{row.channel} {describe_actor(session, row.recipient)}"
    if kind in FAMILY_SEES_NUMBERS_OF or row.channel not in PHONE_CHANNELS:
        return row.to  # a family number, or a desk ("operators"): no one's phone
    if row.recipient == SUPERVISOR:
        # The supervisor on the rota with that phone, latest shift first; else the role alone.
        person = session.exec(
            select(Shift.person)
            .where(col(Shift.phone) == row.to, col(Shift.role) == SUPERVISOR)
            .order_by(col(Shift.start_at).desc())
        ).first()
        return f"supervisor {person}" if person else "supervisor"
    name = describe_actor(session, row.recipient)
    return f"{kind} {name}" if kind and name != row.recipient else kind or "someone"


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
    add_note(
        uow, case, action="declined", by=by, why=Msg("declined via {via}", via=term(via)), now=now
    )
    return case.state
