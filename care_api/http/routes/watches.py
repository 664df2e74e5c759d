"""What 4G watches tell of an elder: health readings, safe zone, position, a case's track."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from care_api.domain.access import Principal, may_read_elder
from care_api.domain.errors import NotFound
from care_api.domain.model import Role
from care_api.domain.texts import Msg
from care_api.http.audit_trail import AuditDep
from care_api.http.deps import ServicesDep, StaffDep, UowDep, require_roles
from care_api.http.models.watches import (
    PointPublic,
    ReadingPublic,
    TrackPublic,
    ZonePublic,
    ZoneSet,
)
from care_api.store.tables import Case
from care_api.usecases.fleet.readings import (
    READINGS_MAX,
    last_position,
    readings_of,
    track_of_case,
)
from care_api.usecases.fleet.safe_zones import find_zone, put_zone, remove_zone
from care_api.usecases.people.registry import get_elder

router = APIRouter(tags=["watches"])

ReaderDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.CAREGIVER)]
CaseId = Annotated[str, Path(min_length=1, max_length=32)]


def _check_readable(principal: Principal, elder_id: int) -> None:
    # The same answer as for a missing elder, so a caregiver cannot probe for others.
    if not may_read_elder(principal, elder_id):
        raise NotFound(Msg("elder {elder_id} not found", elder_id=elder_id))


@router.get("/elders/{elder_id}/readings")
def read_readings(
    elder_id: int,
    uow: UowDep,
    principal: ReaderDep,
    audit: AuditDep,
    limit: Annotated[int, Query(ge=1, le=READINGS_MAX)] = 100,
) -> list[ReadingPublic]:
    """Heart rate, blood pressure and temperature the elder's watch measured, newest first."""
    _check_readable(principal, elder_id)
    get_elder(uow.session, elder_id)
    rows = [ReadingPublic.of(r) for r in readings_of(uow.session, elder_id, limit)]
    audit.shown("readings", elder_id)
    return rows


@router.get("/elders/{elder_id}/position")
def read_position(
    elder_id: int, uow: UowDep, principal: ReaderDep, audit: AuditDep
) -> PointPublic | None:
    """The newest position any of the elder's terminals reported; null when none ever did."""
    _check_readable(principal, elder_id)
    get_elder(uow.session, elder_id)
    point = last_position(uow.session, elder_id)
    audit.shown("position", elder_id)
    return PointPublic.of(point) if point is not None else None


@router.put("/elders/{elder_id}/safe-zone")
def put_safe_zone(
    elder_id: int, body: ZoneSet, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> ZonePublic:
    """Watch the elder for wandering: a position outside the circle opens a care case."""
    zone = put_zone(
        uow,
        elder_id,
        lat=body.lat,
        lon=body.lon,
        radius_m=body.radius_m,
        by=principal.actor,
        now=services.clock.now(),
    )
    uow.commit()
    return ZonePublic.of(zone)


@router.get("/elders/{elder_id}/safe-zone")
def read_safe_zone(elder_id: int, uow: UowDep, principal: ReaderDep) -> ZonePublic | None:
    """The elder's zone; null when none is set."""
    _check_readable(principal, elder_id)
    get_elder(uow.session, elder_id)
    zone = find_zone(uow, elder_id)
    return ZonePublic.of(zone) if zone is not None else None


@router.delete("/elders/{elder_id}/safe-zone", status_code=status.HTTP_204_NO_CONTENT)
def delete_safe_zone(elder_id: int, uow: UowDep, _staff: StaffDep) -> None:
    """Stop watching the elder's zone."""
    remove_zone(uow, elder_id)
    uow.commit()


@router.get("/cases/{case_id}/track")
def read_track(
    case_id: CaseId, services: ServicesDep, uow: UowDep, principal: ReaderDep, audit: AuditDep
) -> TrackPublic:
    """The elder's positions over the case's time, for the case's map."""
    case = uow.session.get(Case, case_id)
    if case is None or not may_read_elder(principal, case.elder_id):
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    points = track_of_case(uow.session, case, services.clock.now())
    last = last_position(uow.session, case.elder_id)
    audit.shown("track", case.elder_id, ref=case.id)
    return TrackPublic(
        case_id=case.id,
        elder_id=case.elder_id,
        points=[PointPublic.of(p) for p in points],
        last=PointPublic.of(last) if last is not None else None,
    )
