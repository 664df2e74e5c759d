"""API models of service orders and the merchant each is with."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, Field

from care_api.domain.access import merchant_sees_elder
from care_api.domain.dispatch import Strategy
from care_api.http.models.common import Timestamp, Word
from care_api.store.tables import ServiceOrder
from care_api.usecases.dispatch.orders import OPEN_ORDER, OrderRow


class OrderCreate(BaseModel):
    """A service case turned into an order: what service, and how to choose the merchant."""

    category: Word
    note: Annotated[str, Field(max_length=1000)] = ""
    strategy: Strategy = Strategy.BALANCED


class OrderElder(BaseModel):
    """Whom the merchant serves and where; never the elder's medical notes."""

    name: str
    address: str
    phone: str


class OrderPublic(BaseModel):
    """A service order and the merchant it is with now."""

    id: int
    case_id: str
    category: str
    note: str
    strategy: str
    status: str
    merchant_id: int | None
    merchant_name: str | None
    assigned_at: Timestamp | None
    contact_due_at: Timestamp | None
    contacted_at: Timestamp | None
    done_at: Timestamp | None
    created_at: Timestamp
    elder: OrderElder | None  # for the merchant only while the order is open with it

    @classmethod
    def of(cls, row: OrderRow, *, staff: bool, now: datetime) -> Self:
        """The order as staff, or the merchant it is with, may see it at `now`.

        The merchant sees whom to serve and where while the order is open and it is not
        red-carded; before and after, only that the order exists.
        """
        order: ServiceOrder = row.order
        if order.id is None:
            raise RuntimeError("order has no id yet")
        elder = row.elder
        merchant = row.merchant
        shown = staff or (
            merchant is not None
            and merchant_sees_elder(
                order_open=order.status in OPEN_ORDER,
                merchant_status=merchant.status,
                red_until=merchant.red_until,
                now=now,
            )
        )
        return cls(
            id=order.id,
            case_id=order.case_id,
            category=order.category,
            note=order.note,
            strategy=order.strategy,
            status=order.status,
            merchant_id=order.merchant_id,
            merchant_name=row.merchant.name if row.merchant else None,
            assigned_at=order.assigned_at,
            contact_due_at=order.contact_due_at,
            contacted_at=order.contacted_at,
            done_at=order.done_at,
            created_at=order.created_at,
            elder=(
                OrderElder(name=elder.name, address=elder.address, phone=elder.phone)
                if shown
                else None
            ),
        )
