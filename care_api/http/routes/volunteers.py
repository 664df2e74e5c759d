"""Volunteers and their tasks: staff register them; a volunteer sees and answers their offers."""

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from care_api.domain.access import Principal, is_staff
from care_api.domain.errors import NotFound
from care_api.domain.model import Role
from care_api.domain.texts import Msg
from care_api.http.audit_trail import AuditDep, AuditTrail
from care_api.http.deps import ServicesDep, StaffDep, UowDep, require_roles
from care_api.http.models.cases import CasePublic
from care_api.http.models.volunteers import (
    OfferRequest,
    TaskPublic,
    VolunteerCreate,
    VolunteerHours,
    VolunteerPublic,
)
from care_api.usecases.cases.queries import MAX_PAGE, Page
from care_api.usecases.dispatch.offers import (
    TaskStatus,
    accept_offer,
    decline_offer,
    finish_task,
    get_task,
    list_tasks,
    request_offers,
    task_row,
)
from care_api.usecases.dispatch.volunteers import (
    create_volunteer,
    get_volunteer,
    list_volunteers,
    set_volunteer_hours,
)
from care_api.usecases.people.audit import ElderRead

log = logging.getLogger(__name__)

router = APIRouter(tags=["volunteers"])

VolunteerOrStaffDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.VOLUNTEER)]
VolunteerDep = Annotated[Principal, require_roles(Role.VOLUNTEER)]


def volunteer_id(principal: Principal) -> int:
    """The volunteer a volunteer's token was minted for; 403 when it names none."""
    if principal.subject_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this volunteer token names no volunteer (subject_id)"
        )
    return principal.subject_id


@router.post("/volunteers", status_code=status.HTTP_201_CREATED)
def post_volunteer(
    body: VolunteerCreate, services: ServicesDep, uow: UowDep, _staff: StaffDep
) -> VolunteerPublic:
    """Register a volunteer: home location, skills, and the hours they can help."""
    region = services.settings.phone_region
    row = create_volunteer(uow.session, body.as_data(), services.clock.now(), region=region)
    uow.commit()
    log.info("volunteer %s registered", row.id)
    return VolunteerPublic.of(row)


@router.get("/volunteers")
def read_volunteers(
    uow: UowDep,
    _staff: StaffDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[VolunteerPublic]:
    """Volunteers by id, a page at a time (staff)."""
    rows = list_volunteers(uow.session, limit=limit, offset=offset)
    return [VolunteerPublic.of(v) for v in rows]


@router.get("/volunteers/{volunteer_id}")
def read_volunteer(
    volunteer_id: int, uow: UowDep, principal: VolunteerOrStaffDep
) -> VolunteerPublic:
    """A volunteer's profile: staff see all, a volunteer only their own."""
    if not is_staff(principal) and principal.subject_id != volunteer_id:
        raise NotFound(Msg("volunteer {volunteer_id} not found", volunteer_id=volunteer_id))
    return VolunteerPublic.of(get_volunteer(uow.session, volunteer_id))


@router.put("/volunteers/{volunteer_id}/hours")
def put_volunteer_hours(
    volunteer_id: int, body: VolunteerHours, uow: UowDep, principal: VolunteerOrStaffDep
) -> VolunteerPublic:
    """Set the weekly hours the volunteer takes offers in: staff for anyone, a volunteer their own.

    Offers (and the emergency ladder's nearest volunteers) skip them outside these hours.
    """
    if not is_staff(principal) and principal.subject_id != volunteer_id:
        raise NotFound(Msg("volunteer {volunteer_id} not found", volunteer_id=volunteer_id))
    row = set_volunteer_hours(uow.session, volunteer_id, body.availability)
    uow.commit()
    return VolunteerPublic.of(row)


@router.get("/tasks")
def read_tasks(
    uow: UowDep,
    principal: VolunteerOrStaffDep,
    audit: AuditDep,
    task_status: Annotated[TaskStatus | None, Query(alias="status")] = None,
    case_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TaskPublic]:
    """Tasks newest first: a volunteer sees only their own offers, staff every one.

    Tasks that show their elder are written to the audit log.
    """
    staff = is_staff(principal)
    rows = list_tasks(
        uow.session,
        volunteer_id=None if staff else volunteer_id(principal),
        status=task_status,
        case_id=case_id,
        page=Page(limit=limit, offset=offset),
    )
    tasks = [TaskPublic.of(r, staff=staff) for r in rows]
    audit.shown_all(
        [
            ElderRead("task", r.case.elder_id, str(t.id))
            for r, t in zip(rows, tasks, strict=True)
            if t.elder
        ]
    )
    return tasks


@router.post("/cases/{case_id}/offers", status_code=status.HTTP_202_ACCEPTED, tags=["cases"])
def post_offers(
    case_id: Annotated[str, Path(min_length=1, max_length=32)],
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
    body: OfferRequest | None = None,
) -> CasePublic:
    """Offer a care case nobody owns to volunteers near the elder, ring by ring.

    Accepted: the alerts engine sends ring 0 at once (volunteers not asked before) and
    widens the circle every 15 minutes; `GET /tasks?case_id=` shows the offers. 409 when
    the case is not care, is owned or ended, or its offers are out already.
    """
    need = body.as_need() if body is not None else None
    case = request_offers(uow, case_id, need, by=principal.actor, now=services.clock.now())
    uow.commit()
    log.info("case %s: offers to volunteers requested by %s", case_id, principal.actor)
    return CasePublic.of(case)


def _answered(uow: UowDep, audit: AuditTrail, task_id: int) -> TaskPublic:
    # Read after the commit: the task as the answer left it (with its elder once accepted).
    row = task_row(uow.session, task_id)
    task = TaskPublic.of(row)
    if task.elder is not None:
        audit.shown("task", row.case.elder_id, str(task_id))
    return task


@router.post("/tasks/{task_id}/accept")
def post_accept_task(
    task_id: int, services: ServicesDep, uow: UowDep, principal: VolunteerDep, audit: AuditDep
) -> TaskPublic:
    """Take the care case: the first volunteer to accept gets it (409 when someone was first)."""
    task = get_task(uow.session, task_id, volunteer_id(principal))
    accept_offer(uow, task.case_id, task.volunteer_id, now=services.clock.now(), via="api")
    uow.commit()
    return _answered(uow, audit, task_id)


@router.post("/tasks/{task_id}/decline")
def post_decline_task(
    task_id: int, services: ServicesDep, uow: UowDep, principal: VolunteerDep, audit: AuditDep
) -> TaskPublic:
    """Decline the offer; when nobody of the ring is left, the circle widens at once."""
    task = get_task(uow.session, task_id, volunteer_id(principal))
    decline_offer(uow, task.case_id, task.volunteer_id, now=services.clock.now(), via="api")
    uow.commit()
    return _answered(uow, audit, task_id)


@router.post("/tasks/{task_id}/done")
def post_task_done(
    task_id: int, services: ServicesDep, uow: UowDep, principal: VolunteerDep
) -> CasePublic:
    """The volunteer has helped: the case is resolved and waits for the centre's callback."""
    case = finish_task(uow, task_id, volunteer_id(principal), now=services.clock.now())
    uow.commit()
    return CasePublic.of(case)
