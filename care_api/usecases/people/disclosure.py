"""What a person may see of a case's elder right now: the rules of access applied to the store.

Staff and the elder's caregivers see the elder at any time. A volunteer sees them while the
case is theirs and open (an accepted task, an emergency they took); a merchant while its
order is open and it is not red-carded. Nobody else, and nobody afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from care_api.domain.access import (
    Principal,
    may_read_elder,
    merchant_sees_elder,
    volunteer_sees_elder,
    volunteer_sees_medical_notes,
)
from care_api.domain.model import Role
from care_api.store.tables import Case, Elder, Merchant, ServiceOrder
from care_api.usecases.dispatch.offers import task_of
from care_api.usecases.dispatch.orders import OPEN_ORDER
from care_api.usecases.dispatch.volunteers import volunteer_actor


@dataclass(frozen=True, slots=True)
class ElderView:
    """The elder as one person may see them now; None marks what they may not see."""

    elder_id: int
    name: str
    phone: str
    address: str
    medical_notes: str | None
    access_notes: str | None


def elder_view(
    session: Session, case: Case, principal: Principal, now: datetime
) -> ElderView | None:
    """What `principal` may see of `case`'s elder at `now`, or None when nothing."""
    elder = session.get(Elder, case.elder_id)
    if elder is None or elder.id is None:
        return None
    medical: bool
    access: bool
    if may_read_elder(principal, elder.id):
        medical = access = True
    elif principal.role is Role.VOLUNTEER and principal.subject_id is not None:
        theirs = case.owner == volunteer_actor(principal.subject_id)
        if not volunteer_sees_elder(theirs=theirs, case_state=case.state):
            return None
        task = task_of(session, case.id, principal.subject_id)
        medical = volunteer_sees_medical_notes(
            kind=case.kind, task_needs_medical=task is not None and task.needs_medical
        )
        access = True
    elif principal.role is Role.MERCHANT and principal.subject_id is not None:
        if not _merchant_may_see(session, case.id, principal.subject_id, now):
            return None
        medical = access = False
    else:
        return None
    return ElderView(
        elder_id=elder.id,
        name=elder.name,
        phone=elder.phone,
        address=elder.address,
        medical_notes=elder.medical_notes if medical else None,
        access_notes=elder.access_notes if access else None,
    )


def _merchant_may_see(session: Session, case_id: str, merchant_id: int, now: datetime) -> bool:
    merchant = session.get(Merchant, merchant_id)
    open_order = session.exec(
        select(ServiceOrder.id).where(
            ServiceOrder.case_id == case_id,
            ServiceOrder.merchant_id == merchant_id,
            col(ServiceOrder.status).in_(OPEN_ORDER),
        )
    ).first()
    return merchant is not None and merchant_sees_elder(
        order_open=open_order is not None,
        merchant_status=merchant.status,
        red_until=merchant.red_until,
        now=now,
    )
