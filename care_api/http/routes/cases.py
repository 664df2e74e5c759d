"""Cases: lists, one case with its history, and the lifecycle by hand."""

from datetime import timedelta
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query

from care_api.domain.access import Principal, is_staff, may_read_elder
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.model import CaseKind, CaseState, Role, ServiceLine
from care_api.domain.texts import Msg
from care_api.http.audit_trail import AuditDep
from care_api.http.deps import PrincipalDep, ServicesDep, StaffDep, UowDep, require_roles
from care_api.http.models.cases import (
    AckBody,
    CallbackBody,
    CaseDetail,
    CaseElder,
    CasePublic,
    ResolveBody,
)
from care_api.http.models.desk import CaseDeskDetail, ScriptPublic, mentioned_people, name_owners
from care_api.store.tables import Case, Device
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.actions import (
    acknowledge,
    arrive,
    get_case,
    record_callback,
    resolve,
)
from care_api.usecases.cases.countdown import next_escalation
from care_api.usecases.cases.desk import get_script, outcome_of, record_outcome, ticked_steps
from care_api.usecases.cases.log import add_note
from care_api.usecases.cases.queries import (
    MAX_PAGE,
    CaseFilter,
    Page,
    case_history,
    list_cases,
    notifications_of_case,
)
from care_api.usecases.dispatch.responders import shown_to_family
from care_api.usecases.people.disclosure import elder_view
from care_api.usecases.people.names import name_actors
from care_api.usecases.people.registry import (
    NO_CONTACTS_WARNING,
    elder_warnings,
    elders_without_contacts,
)

router = APIRouter(prefix="/cases", tags=["cases"])

CaseId = Annotated[str, Path(min_length=1, max_length=32)]
ResponderDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.CAREGIVER)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0)]


def _visible_case(uow: SqlUnitOfWork, case_id: str, principal: Principal, *, lock: bool) -> Case:
    # A route that changes the case must lock it on this first load: a later locked load
    # would not refresh a row already in the session, and the owner read here would be
    # stale when two responders race (first-receiver ownership).
    case = uow.session.get(Case, case_id, with_for_update=lock)
    if case is None or not may_read_elder(principal, case.elder_id):
        # The same answer as for a missing case, so nobody probes for others' cases.
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    return case


def _check_owner(case: Case, principal: Principal) -> None:
    # First-receiver ownership: staff may step in on any case, a caregiver only on their own.
    if is_staff(principal) or case.owner == principal.actor:
        return
    if case.owner is None:
        raise Conflict(
            Msg("case {case_id} is not acknowledged yet; acknowledge it first", case_id=case.id)
        )
    raise Conflict(
        Msg("case {case_id} is already taken by {owner}", case_id=case.id, owner=case.owner)
    )


@router.get("")
def read_cases(
    uow: UowDep,
    principal: ResponderDep,
    state: CaseState | None = None,
    kind: CaseKind | None = None,
    elder_id: int | None = None,
    line: ServiceLine | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[CasePublic]:
    """Cases newest first: staff see all, a caregiver the cases of their elders."""
    where = CaseFilter(
        state=state,
        kind=kind,
        elder_id=elder_id,
        elder_ids=None if is_staff(principal) else principal.elder_ids,
        line=line,
    )
    rows = list_cases(uow.session, where, Page(limit=limit, offset=offset))
    alone = elders_without_contacts(uow.session, {c.elder_id for c in rows})
    listed = [CasePublic.of(c, [NO_CONTACTS_WARNING] if c.elder_id in alone else []) for c in rows]
    return name_owners(uow.session, listed)


@router.get("/{case_id}")
def read_case(
    case_id: CaseId, uow: UowDep, principal: ResponderDep, audit: AuditDep
) -> CaseDeskDetail:
    """One case with its history (people named), messages, procedure, outcome and countdown.

    Written to the audit log.
    """
    case = _visible_case(uow, case_id, principal, lock=False)
    session = uow.session
    # The family sees who was told by role and name, never a volunteer's or supervisor's phone.
    shown_to = None if is_staff(principal) else partial(shown_to_family, session)
    # Only staff and the elder's caregivers reach this route: they may see where the elder is.
    device = session.get(Device, case.device_id) if case.device_id else None
    rows = case_history(session, case.id)
    detail = CaseDetail.build(
        case,
        rows,
        notifications_of_case(session, case.id),
        elder_warnings(session, case.elder_id),
        shown_to=shown_to,
        device=device,
    )
    outcome = outcome_of(session, case.id)
    actors = [e.by for e in rows] + [a for a in (case.owner, outcome and outcome.by) if a]
    texts = [e.why for e in rows] + [n.recipient for n in detail.notifications]
    actors += sorted(mentioned_people(texts)) if is_staff(principal) else []
    script = get_script(session, CaseKind(case.kind), case.line)
    desk = CaseDeskDetail.extend(
        detail,
        rows,
        name_actors(session, actors),
        outcome=outcome,
        script=ScriptPublic.of(script, ticked_steps(rows)),
        nxt=next_escalation(session, case),
    )
    audit.shown("case", case.elder_id, ref=case.id)
    return desk


@router.get("/{case_id}/elder")
def read_case_elder(
    case_id: CaseId, services: ServicesDep, uow: UowDep, principal: PrincipalDep, audit: AuditDep
) -> CaseElder:
    """Whom a case is for and how to reach them, for whoever must act on it now.

    Staff and the elder's caregivers always; a volunteer while the case is theirs and open
    (an accepted task, or an emergency they took: with medical notes and access); a merchant
    while its order is open and it is not red-carded (no medical notes, no access). Anyone
    else, or afterwards: 404. Written to the audit log.
    """
    case = uow.session.get(Case, case_id)
    view = None if case is None else elder_view(uow.session, case, principal, services.clock.now())
    if case is None or view is None:
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    audit.shown("case elder", case.elder_id, ref=case.id)
    return CaseElder.model_validate(view, from_attributes=True)


def _acknowledge(
    case_id: str, body: AckBody | None, services: ServicesDep, uow: UowDep, principal: Principal
) -> CasePublic:
    _visible_case(uow, case_id, principal, lock=True)
    now = services.clock.now()
    case = acknowledge(uow, case_id, by=principal.actor, now=now, via="api")
    if body is not None and body.note:
        add_note(uow, case, action="note", by=principal.actor, why=body.note, now=now)
    uow.commit()
    return CasePublic.of(case)


@router.post("/{case_id}/ack")
def post_ack(
    case_id: CaseId,
    services: ServicesDep,
    uow: UowDep,
    principal: ResponderDep,
    body: AckBody | None = None,
) -> CasePublic:
    """Take the case: the first to acknowledge owns it; 409 if someone else already has."""
    return _acknowledge(case_id, body, services, uow, principal)


@router.post("/{case_id}/accept")
def post_accept(
    case_id: CaseId,
    services: ServicesDep,
    uow: UowDep,
    principal: ResponderDep,
    body: AckBody | None = None,
) -> CasePublic:
    """Accept the case; the same as acknowledging it for staff and caregivers."""
    return _acknowledge(case_id, body, services, uow, principal)


@router.post("/{case_id}/on-site")
def post_on_site(
    case_id: CaseId, services: ServicesDep, uow: UowDep, principal: ResponderDep
) -> CasePublic:
    """The owner is with the elder."""
    _check_owner(_visible_case(uow, case_id, principal, lock=True), principal)
    case = arrive(uow, case_id, by=principal.actor, now=services.clock.now())
    uow.commit()
    return CasePublic.of(case)


@router.post("/{case_id}/resolve")
def post_resolve(
    case_id: CaseId,
    services: ServicesDep,
    uow: UowDep,
    principal: ResponderDep,
    body: ResolveBody | None = None,
) -> CasePublic:
    """The need is met; the case waits for its callback."""
    _check_owner(_visible_case(uow, case_id, principal, lock=True), principal)
    note = body.note if body is not None else ""
    now = services.clock.now()
    if body is not None and body.outcome is not None:
        # Checked before the state moves: an unknown code changes nothing (422).
        record_outcome(
            uow.session, get_case(uow.session, case_id), body.outcome, by=principal.actor, now=now
        )
    case = resolve(uow, case_id, by=principal.actor, why=note, now=now)
    uow.commit()
    return CasePublic.of(case)


@router.post("/{case_id}/callback")
def post_callback(
    case_id: CaseId,
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
    body: CallbackBody | None = None,
) -> CasePublic:
    """Record a callback (回访); the case closes once the elder was reached (or after 3 tries).

    A bad callback on a case a merchant served is a strike against the merchant.
    """
    result = (body or CallbackBody()).as_result()
    red_card = timedelta(days=services.settings.merchant_red_card_days)
    case = record_callback(
        uow, case_id, result, by=principal.actor, now=services.clock.now(), red_card=red_card
    )
    uow.commit()
    return CasePublic.of(case)
