"""Drill mode: admins and operators put a terminal or a district in test mode and end it."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from care_api.http.deps import ServicesDep, StaffDep, UowDep
from care_api.http.models.drills import DrillCreate, DrillPublic
from care_api.usecases.cases.actions import settle_drill_cases
from care_api.usecases.cases.queries import MAX_PAGE
from care_api.usecases.schedules.drills import end_drill, list_drills, start_drill

router = APIRouter(prefix="/drills", tags=["drills"])

DrillId = Annotated[int, Path(ge=1)]


@router.post("", status_code=status.HTTP_201_CREATED)
def post_drill(
    body: DrillCreate, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> DrillPublic:
    """Start a drill: presses of the terminal (or district) run the ladder as TEST; 409 if on."""
    drill = start_drill(
        uow.session,
        device_id=body.device_id,
        district=body.district,
        note=body.note,
        by=principal.actor,
        now=services.clock.now(),
    )
    uow.commit()
    return DrillPublic.of(drill)


@router.get("")
def read_drills(
    uow: UowDep,
    _staff: StaffDep,
    running: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DrillPublic]:
    """Drills, newest first; `running=true` for those still on."""
    rows = list_drills(uow.session, running_only=running, limit=limit, offset=offset)
    return [DrillPublic.of(d) for d in rows]


@router.post("/{drill_id}/end")
def post_end_drill(
    drill_id: DrillId, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> DrillPublic:
    """End a drill: its open cases close and the next press is real again; 409 if ended."""
    now = services.clock.now()
    drill = end_drill(uow.session, drill_id, by=principal.actor, now=now)
    uow.session.flush()  # the drill's end is what tells its terminals are real again
    settle_drill_cases(uow, by=principal.actor, now=now)
    uow.commit()
    return DrillPublic.of(drill)
