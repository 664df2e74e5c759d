"""Escalation ladders per case kind: staff read them, the admin edits or resets them."""

import logging

from fastapi import APIRouter

from care_api.domain.model import CaseKind
from care_api.http.deps import AdminDep, ServicesDep, StaffDep, UowDep
from care_api.http.models.ladders import LadderIn, LadderPublic
from care_api.usecases.cases.ladders import get_ladder, is_default_ladder, put_ladder, reset_ladder

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ladders", tags=["ladders"])


@router.get("/{kind}")
def read_ladder(kind: CaseKind, uow: UowDep, _principal: StaffDep) -> LadderPublic:
    """The ladder cases of `kind` climb while nobody acknowledges them."""
    ladder = get_ladder(uow.session, kind)
    return LadderPublic.of(ladder, default=is_default_ladder(uow.session, kind))


@router.put("/{kind}")
def replace_ladder(
    kind: CaseKind, body: LadderIn, uow: UowDep, services: ServicesDep, principal: AdminDep
) -> LadderPublic:
    """Replace the ladder of `kind`; running cases use it from their next step (422 if unfit)."""
    steps = [s.model_dump() for s in body.steps]
    ladder = put_ladder(
        uow.session,
        kind,
        steps,
        by=principal.actor,
        now=services.clock.now(),
        repeat=body.repeat,
        repeat_every_s=body.repeat_every_s,
    )
    uow.commit()
    log.info("ladder %s replaced by %s (%d steps)", kind, principal.actor, len(ladder.steps))
    return LadderPublic.of(ladder, default=False)


@router.delete("/{kind}")
def restore_default_ladder(kind: CaseKind, uow: UowDep, principal: AdminDep) -> LadderPublic:
    """Go back to the built-in ladder of `kind`."""
    ladder = reset_ladder(uow.session, kind)
    uow.commit()
    log.info("ladder %s reset to the default by %s", kind, principal.actor)
    return LadderPublic.of(ladder, default=True)
