"""Service orders: staff turn a service case into one; the merchant confirms contact, then done."""

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from care_api.domain.access import Principal, is_staff
from care_api.domain.model import Role
from care_api.http.audit_trail import AuditDep, AuditTrail
from care_api.http.deps import ServicesDep, StaffDep, UowDep, require_roles
from care_api.http.models.orders import OrderCreate, OrderPublic
from care_api.usecases.cases.queries import MAX_PAGE, Page
from care_api.usecases.dispatch.merchants import merchant_actor
from care_api.usecases.dispatch.orders import (
    complete_order,
    confirm_contact,
    decline_order,
    list_orders,
    order_row,
    place_order,
)
from care_api.usecases.people.audit import ElderRead

log = logging.getLogger(__name__)

router = APIRouter(tags=["orders"])

MerchantOrStaffDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.MERCHANT)]
MerchantDep = Annotated[Principal, require_roles(Role.MERCHANT)]
OrderStatus = Annotated[str | None, Query(alias="status", max_length=16)]


def merchant_id(principal: Principal) -> int:
    """The merchant a merchant's token was minted for; 403 when it names none."""
    if principal.subject_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this merchant token names no merchant (subject_id)"
        )
    return principal.subject_id


def _shown_order(
    services: ServicesDep, uow: UowDep, audit: AuditTrail, order_id: int, principal: Principal
) -> OrderPublic:
    # Read after the commit: the order as the change left it, and the elder it names.
    row = order_row(uow.session, order_id)
    order = OrderPublic.of(row, staff=is_staff(principal), now=services.clock.now())
    if order.elder is not None:
        audit.shown("order", row.case.elder_id, str(order_id))
    return order


@router.post("/cases/{case_id}/orders", status_code=status.HTTP_201_CREATED)
def post_order(
    case_id: Annotated[str, Path(min_length=1, max_length=32)],
    body: OrderCreate,
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
    audit: AuditDep,
) -> OrderPublic:
    """Turn a service case into an order for the nearest / fairest / best merchant.

    The merchant must confirm contact with the elder within 10 minutes or the order moves
    on; with no merchant able to take it, the order is `unassigned` and the console flagged.
    """
    order, attempt = place_order(
        uow,
        case_id,
        category=body.category,
        note=body.note,
        strategy=body.strategy,
        by=principal.actor,
        tz=services.tz,
        now=services.clock.now(),
    )
    uow.commit()
    log.info(
        "order %s for case %s (%s) to merchant %s",
        order.id,
        case_id,
        order.category,
        attempt.merchant_id if attempt else None,
    )
    return _shown_order(services, uow, audit, order.id or 0, principal)


@router.get("/orders")
def read_orders(
    services: ServicesDep,
    uow: UowDep,
    principal: MerchantOrStaffDep,
    audit: AuditDep,
    order_status: OrderStatus = None,
    case_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OrderPublic]:
    """Orders newest first: a merchant sees the orders now with it, staff every one.

    A merchant sees the elder's name, address and phone only on its open orders, and none
    while red-carded; orders that show their elder are written to the audit log.
    """
    rows = list_orders(
        uow.session,
        merchant_id=None if is_staff(principal) else merchant_id(principal),
        status=order_status,
        case_id=case_id,
        page=Page(limit=limit, offset=offset),
    )
    staff, now = is_staff(principal), services.clock.now()
    orders = [OrderPublic.of(r, staff=staff, now=now) for r in rows]
    audit.shown_all(
        [
            ElderRead("order", r.case.elder_id, str(o.id))
            for r, o in zip(rows, orders, strict=True)
            if o.elder is not None
        ]
    )
    return orders


@router.post("/orders/{order_id}/contacted")
def post_contacted(
    order_id: int, services: ServicesDep, uow: UowDep, principal: MerchantDep, audit: AuditDep
) -> OrderPublic:
    """The merchant has reached the elder; in time, the order stays with it."""
    confirm_contact(uow, order_id, merchant_id(principal), now=services.clock.now())
    uow.commit()
    return _shown_order(services, uow, audit, order_id, principal)


@router.post("/orders/{order_id}/decline")
def post_decline(
    order_id: int, services: ServicesDep, uow: UowDep, principal: MerchantDep, audit: AuditDep
) -> OrderPublic:
    """The merchant cannot take the order: it moves to the next one at once."""
    decline_order(uow, order_id, merchant_id(principal), now=services.clock.now(), tz=services.tz)
    uow.commit()
    return _shown_order(services, uow, audit, order_id, principal)


@router.post("/orders/{order_id}/done")
def post_done(
    order_id: int,
    services: ServicesDep,
    uow: UowDep,
    principal: MerchantOrStaffDep,
    audit: AuditDep,
) -> OrderPublic:
    """The service is delivered: the case is resolved and waits for its callback (回访)."""
    who: int | None = None
    by = principal.actor
    if not is_staff(principal):
        who = merchant_id(principal)
        by = merchant_actor(who)
    complete_order(uow, order_id, who, by=by, now=services.clock.now())
    uow.commit()
    return _shown_order(services, uow, audit, order_id, principal)
