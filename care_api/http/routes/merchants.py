"""Merchants (加盟商): staff register them; everyone's record and cards are visible to staff."""

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from care_api.domain.access import Principal, is_staff
from care_api.domain.dispatch import MerchantStatus
from care_api.domain.errors import NotFound
from care_api.domain.model import Role
from care_api.domain.texts import Msg
from care_api.http.deps import AdminDep, ServicesDep, StaffDep, UowDep, require_roles
from care_api.http.models.merchants import (
    MerchantCreate,
    MerchantDetail,
    MerchantHours,
    MerchantPublic,
    RevokeBody,
)
from care_api.usecases.cases.queries import MAX_PAGE
from care_api.usecases.dispatch.merchants import (
    create_merchant,
    get_merchant,
    list_merchants,
    record_of,
    revoke_strike,
    set_merchant_hours,
    strikes_of,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/merchants", tags=["merchants"])

MerchantOrStaffDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.MERCHANT)]


@router.post("", status_code=status.HTTP_201_CREATED)
def post_merchant(
    body: MerchantCreate, services: ServicesDep, uow: UowDep, _staff: StaffDep
) -> MerchantPublic:
    """Register a merchant with its categories, location and rating."""
    region = services.settings.phone_region
    row = create_merchant(uow.session, body.model_dump(), services.clock.now(), region=region)
    uow.commit()
    log.info("merchant %s registered: %s", row.id, ", ".join(row.categories))
    return MerchantPublic.of(row)


@router.get("")
def read_merchants(
    uow: UowDep,
    _staff: StaffDep,
    category: Annotated[str | None, Query(max_length=64)] = None,
    merchant_status: Annotated[MerchantStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[MerchantPublic]:
    """Merchants by id, optionally of one category or standing, a page at a time."""
    rows = list_merchants(uow.session, category=category, status=merchant_status)
    return [MerchantPublic.of(m) for m in rows[offset : offset + limit]]


def _detail(uow: UowDep, merchant_id: int) -> MerchantDetail:
    session = uow.session
    merchant = get_merchant(session, merchant_id)
    return MerchantDetail.build(
        merchant, strikes_of(session, merchant_id), record_of(session, merchant_id)
    )


@router.get("/{merchant_id}")
def read_merchant(merchant_id: int, uow: UowDep, principal: MerchantOrStaffDep) -> MerchantDetail:
    """A merchant with its strikes (revoked ones too) and its record of contacts made and missed.

    Staff see every merchant; a merchant only itself.
    """
    if not is_staff(principal) and principal.subject_id != merchant_id:
        raise NotFound(Msg("merchant {merchant_id} not found", merchant_id=merchant_id))
    return _detail(uow, merchant_id)


@router.post("/{merchant_id}/strikes/{strike_id}/revoke")
def post_revoke_strike(
    merchant_id: int,
    strike_id: int,
    body: RevokeBody,
    services: ServicesDep,
    uow: UowDep,
    principal: AdminDep,
) -> MerchantDetail:
    """Take a strike back, with a reason; the merchant's standing is worked out again."""
    red_card = timedelta(days=services.settings.merchant_red_card_days)
    revoke_strike(
        uow.session,
        merchant_id,
        strike_id,
        by=principal.actor,
        reason=body.reason,
        now=services.clock.now(),
        red_card=red_card,
    )
    uow.commit()
    log.info("strike %d of merchant %d revoked by %s", strike_id, merchant_id, principal.actor)
    return _detail(uow, merchant_id)


@router.put("/{merchant_id}/hours")
def put_merchant_hours(
    merchant_id: int, body: MerchantHours, uow: UowDep, principal: MerchantOrStaffDep
) -> MerchantPublic:
    """Set the opening hours: staff for any merchant, a merchant its own; null: always open.

    Orders skip a merchant while it is closed.
    """
    if not is_staff(principal) and principal.subject_id != merchant_id:
        raise NotFound(Msg("merchant {merchant_id} not found", merchant_id=merchant_id))
    row = set_merchant_hours(uow.session, merchant_id, body.hours)
    uow.commit()
    return MerchantPublic.of(row)
