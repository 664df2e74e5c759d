"""Elders' profiles and their contacts."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from care_api.domain.access import Principal, may_read_elder
from care_api.domain.errors import NotFound
from care_api.domain.model import Role
from care_api.domain.texts import Msg
from care_api.http.audit_trail import AuditDep
from care_api.http.deps import ServicesDep, StaffDep, UowDep, require_roles
from care_api.http.models.elders import (
    ContactCreate,
    ContactPublic,
    ElderCreate,
    ElderListed,
    ElderPublic,
    ElderUpdate,
)
from care_api.usecases.cases.queries import MAX_PAGE, Page
from care_api.usecases.people.audit import ElderRead
from care_api.usecases.people.registry import (
    add_contact,
    contacts_of,
    create_elder,
    elder_warnings,
    find_elders,
    get_elder,
    update_elder,
)

router = APIRouter(prefix="/elders", tags=["elders"])

ReaderDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.CAREGIVER)]


def _check_readable(principal: Principal, elder_id: int) -> None:
    # The same answer as for a missing elder, so a caregiver cannot probe for others.
    if not may_read_elder(principal, elder_id):
        raise NotFound(Msg("elder {elder_id} not found", elder_id=elder_id))


@router.post("", status_code=status.HTTP_201_CREATED)
def post_elder(
    body: ElderCreate, services: ServicesDep, uow: UowDep, principal: StaffDep, audit: AuditDep
) -> ElderPublic:
    """Add an elder's profile; the profile it answers with is written to the audit log."""
    region = services.settings.phone_region
    elder = create_elder(uow.session, body.model_dump(), services.clock.now(), region=region)
    uow.commit()
    # Registered before its contacts are: "no_contacts" until one that may be paged is added.
    warnings = elder_warnings(uow.session, elder.id) if elder.id is not None else []
    profile = ElderPublic.of(elder, principal, warnings)
    audit.shown("elder", profile.id)
    return profile


@router.get("")
def list_elders(
    uow: UowDep,
    _staff: StaffDep,
    audit: AuditDep,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ElderListed]:
    """The elder directory by name, a page at a time; `q` finds a name, phone or terminal id.

    Staff only. Every elder listed is written to the audit log.
    """
    found = find_elders(uow.session, q, Page(limit=limit, offset=offset))
    listed = [
        ElderListed(id=e.id or 0, name=e.name, phone=e.phone, district=e.district, devices=devices)
        for e, devices in found
    ]
    audit.shown_all([ElderRead("elder_list", e.id) for e in listed])
    return listed


@router.get("/{elder_id}")
def read_elder(elder_id: int, uow: UowDep, principal: ReaderDep, audit: AuditDep) -> ElderPublic:
    """One elder's profile: staff, or a caregiver of this elder. Written to the audit log."""
    _check_readable(principal, elder_id)
    warnings = elder_warnings(uow.session, elder_id)
    profile = ElderPublic.of(get_elder(uow.session, elder_id), principal, warnings)
    audit.shown("elder", elder_id)
    return profile


@router.patch("/{elder_id}")
def patch_elder(
    elder_id: int,
    body: ElderUpdate,
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
    audit: AuditDep,
) -> ElderPublic:
    """Change the fields sent; the others stay as they are. Written to the audit log."""
    changes = body.model_dump(exclude_unset=True)
    region = services.settings.phone_region
    elder = update_elder(uow.session, elder_id, changes, region=region)
    uow.commit()
    profile = ElderPublic.of(elder, principal, elder_warnings(uow.session, elder_id))
    audit.shown("elder", elder_id)
    return profile


@router.post("/{elder_id}/contacts", status_code=status.HTTP_201_CREATED)
def post_contact(
    elder_id: int, body: ContactCreate, services: ServicesDep, uow: UowDep, _principal: StaffDep
) -> ContactPublic:
    """Add a caregiver or family member to the elder's alert list."""
    region = services.settings.phone_region
    contact = add_contact(uow.session, elder_id, body.model_dump(), region=region)
    uow.commit()
    return ContactPublic.model_validate(contact)


@router.get("/{elder_id}/contacts")
def list_contacts(
    elder_id: int,
    uow: UowDep,
    principal: ReaderDep,
    audit: AuditDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ContactPublic]:
    """The elder's contacts, first to alert first. Written to the audit log."""
    _check_readable(principal, elder_id)
    get_elder(uow.session, elder_id)
    contacts = contacts_of(uow.session, elder_id)[offset : offset + limit]
    shown = [ContactPublic.model_validate(c) for c in contacts]
    audit.shown("contacts", elder_id)
    return shown
