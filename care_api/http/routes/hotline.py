"""The hotline for staff: missed calls to call back, and marking a callback done."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from care_api.http.deps import ServicesDep, StaffDep, UowDep
from care_api.http.models.hotline import CalledBackIn, HotlineCallPublic
from care_api.usecases.hotline.calls import called_back, missed_calls

router = APIRouter(tags=["hotline"])


@router.get("/hotline/missed-calls")
def get_missed_calls(
    uow: UowDep,
    _staff: StaffDep,
    all_: Annotated[bool, Query(alias="all")] = False,
) -> list[HotlineCallPublic]:
    """Missed calls, the callback due soonest first; `all=true` also those called back."""
    return [HotlineCallPublic.of(r) for r in missed_calls(uow.session, waiting_only=not all_)]


@router.post("/hotline/calls/{call_id}/called-back")
def post_called_back(
    call_id: Annotated[int, Path(ge=1)],
    body: CalledBackIn,
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
) -> HotlineCallPublic:
    """The operator called the missed caller back; 409 if not missed or already called back."""
    call = called_back(uow, call_id, by=principal.actor, note=body.note, now=services.clock.now())
    uow.commit()
    return HotlineCallPublic.of(call)
