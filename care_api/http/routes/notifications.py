"""The outbox: every message sent or queued, by case, status and channel."""

from typing import Annotated

from fastapi import APIRouter, Query

from care_api.domain.access import Principal, is_staff
from care_api.domain.model import Role
from care_api.http.audit_trail import AuditDep
from care_api.http.deps import UowDep, require_roles
from care_api.http.models.notifications import NotificationPublic
from care_api.usecases.cases.queries import MAX_PAGE, NotificationFilter, Page, list_notifications
from care_api.usecases.dispatch.responders import shown_to_family
from care_api.usecases.people.audit import ElderRead, elders_of_cases

router = APIRouter(prefix="/notifications", tags=["notifications"])

ReaderDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.CAREGIVER)]
Text = Annotated[str | None, Query(max_length=64)]


@router.get("")
def read_notifications(
    uow: UowDep,
    principal: ReaderDep,
    audit: AuditDep,
    case_id: Annotated[str | None, Query(max_length=32)] = None,
    status: Text = None,
    channel: Text = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[NotificationPublic]:
    """Messages newest first: staff see all, a caregiver those about their elders' cases.

    Written to the audit log, once for each elder whose messages were shown.
    """
    where = NotificationFilter(
        case_id=case_id,
        status=status,
        channel=channel,
        elder_ids=None if is_staff(principal) else principal.elder_ids,
    )
    rows = list_notifications(uow.session, where, Page(limit=limit, offset=offset))
    # A message names its elder, their address and phone: one audit row per elder shown.
    elders = elders_of_cases(uow.session, {n.case_id for n in rows if n.case_id})
    audit.shown_all([ElderRead("notifications", elder_id) for elder_id in elders])
    if is_staff(principal):
        return [NotificationPublic.of(n) for n in rows]
    # The family sees who was told by role and name, never a volunteer's or supervisor's phone.
    return [NotificationPublic.of(n, to=shown_to_family(uow.session, n)) for n in rows]
