"""Calls: an operator's bridged call from a case, and the callbacks left to the operators."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from care_api.domain.errors import NotFound
from care_api.domain.texts import Msg
from care_api.http.deps import ServicesDep, StaffDep, UowDep
from care_api.http.models.calls import CallBody, CallPublic, CaseCalls, DueCallbackPublic, OwnPhone
from care_api.settings import Settings
from care_api.store.tables import Case
from care_api.usecases.cases.auto_callbacks import due_callbacks
from care_api.usecases.cases.calls import calls_of_case, own_phone, request_call, set_own_phone
from care_api.usecases.cases.queries import MAX_PAGE

router = APIRouter(tags=["cases"])

CaseId = Annotated[str, Path(min_length=1, max_length=32)]


def _can_call(settings: Settings) -> bool:
    # Twilio must also reach our webhooks, or the operator's phone rings into silence.
    return settings.twilio_configured and settings.webhook_config_error() is None


@router.post("/cases/{case_id}/calls", status_code=status.HTTP_202_ACCEPTED)
def post_call(
    case_id: CaseId, body: CallBody, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> CallPublic:
    """Call someone of the case: Twilio rings your phone, then theirs (a bridged call).

    The call, its length and outcome go on the case's history. Without Twilio the call is
    kept as "unplaced": dial by hand.
    """
    case = uow.session.get(Case, case_id)
    if case is None:
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    call = request_call(
        uow,
        case,
        body.to,
        by=principal.actor,
        by_name=principal.name,
        given_phone=body.operator_phone,
        now=services.clock.now(),
        region=services.settings.phone_region,
    )
    uow.commit()
    return CallPublic.of(call)


@router.get("/me/phone", tags=["staff"])
def get_own_phone(uow: UowDep, principal: StaffDep) -> OwnPhone:
    """The phone you set for your bridged calls (null: the rota's, or your last one)."""
    return OwnPhone(phone=own_phone(uow.session, principal.actor))


@router.put("/me/phone", tags=["staff"])
def put_own_phone(
    body: OwnPhone, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> OwnPhone:
    """Set the phone Twilio rings first when you call from a case; null forgets it."""
    phone = set_own_phone(
        uow.session,
        principal.actor,
        body.phone,
        now=services.clock.now(),
        region=services.settings.phone_region,
    )
    uow.commit()
    return OwnPhone(phone=phone)


@router.get("/cases/{case_id}/calls")
def get_calls(
    case_id: CaseId, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> CaseCalls:
    """The case's bridged calls, newest first, and whether the service can place calls."""
    if uow.session.get(Case, case_id) is None:
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    calls = [CallPublic.of(c) for c in calls_of_case(uow.session, case_id)]
    return CaseCalls(can_call=_can_call(services.settings), calls=calls)


@router.get("/callbacks/due")
def get_due_callbacks(
    uow: UowDep,
    principal: StaffDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DueCallbackPublic]:
    """Callbacks (回访) the machine could not make, soonest due first: call these by then."""
    rows = due_callbacks(uow.session, limit=limit, offset=offset)
    return [DueCallbackPublic.of(d) for d in rows]
