"""API models of dispatch: volunteers and their tasks, merchants, their orders and strikes."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field

from care_api.domain.access import (
    merchant_sees_elder,
    volunteer_sees_elder,
    volunteer_sees_medical_notes,
)
from care_api.domain.dispatch import Strategy
from care_api.domain.model import CaseKind, CaseState
from care_api.domain.volunteering import MAX_SPANS_PER_DAY, validate_availability
from care_api.http.reader_language import in_reader_language
from care_api.http.schemas import Language, Latitude, Longitude, Name, Phone, Timestamp
from care_api.store.tables import (
    Case,
    Elder,
    Merchant,
    MerchantStrike,
    OrderAttempt,
    ServiceOrder,
    Volunteer,
    VolunteerTask,
)
from care_api.usecases.dispatch.offers import Need, TaskRow, TaskStatus
from care_api.usecases.dispatch.orders import OPEN_ORDER, OrderRow

Word = Annotated[str, Field(min_length=1, max_length=64)]
Span = Annotated[str, Field(pattern=r"^\d\d:\d\d-\d\d:\d\d$", examples=["08:00-12:00"])]
Availability = Annotated[
    dict[str, Annotated[list[Span], Field(max_length=MAX_SPANS_PER_DAY)]],
    Field(max_length=7, examples=[{"mon": ["08:00-12:00", "14:00-18:00"], "sat": ["09:00-11:00"]}]),
]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


def _short_code(case_id: str) -> str:
    return case_id.rsplit("-", 1)[-1]


class VolunteerCreate(BaseModel):
    """A new volunteer; without availability they are available at any hour."""

    name: Name
    phone: Phone
    lat: Latitude
    lon: Longitude
    skills: Annotated[list[Word], Field(max_length=20)] = []
    availability: Availability | None = None
    active: bool = True
    drill_opt_in: bool = False  # gets the TEST messages of drills
    language: Language | None = None

    def as_data(self) -> dict[str, object]:
        """The fields for the use case, the availability checked by the domain's rules."""
        data = self.model_dump()
        if self.availability is not None:
            data["availability"] = validate_availability(self.availability)
        return data


class VolunteerPublic(BaseModel):
    """A volunteer's profile."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str
    lat: float
    lon: float
    skills: list[str]
    availability: dict[str, list[str]]
    active: bool
    created_at: Timestamp
    drill_opt_in: bool = False
    language: str | None = None

    @classmethod
    def of(cls, row: Volunteer) -> Self:
        """The public view of a volunteer row."""
        return cls.model_validate(row)


class TaskElder(BaseModel):
    """What an accepted task needs of the elder; medical notes only if the task needs them."""

    name: str
    address: str
    phone: str
    medical_notes: str | None
    access_notes: str  # how to get in: the key safe and its code, a neighbour's key


class TaskPublic(BaseModel):
    """One offer of a care case to a volunteer."""

    id: int
    case_id: str
    code: str  # what to type in an SMS reply: "1 0007"
    volunteer_id: int
    status: str
    ring: int
    distance_km: float
    need: str
    needs_medical: bool
    offered_at: Timestamp
    answered_at: Timestamp | None
    elder: TaskElder | None  # shown to the volunteer only while the task is theirs and open

    @classmethod
    def of(cls, row: TaskRow, *, staff: bool = False) -> Self:
        """The task as its volunteer (or staff) may see it.

        The volunteer sees the elder from accepting the task until the task is done or the
        case ends; before and after, only that the case exists.
        """
        task: VolunteerTask = row.task
        if task.id is None:
            raise RuntimeError("task has no id yet")
        case_state = CaseState(row.case.state)
        theirs = task.status == TaskStatus.ACCEPTED
        shown = staff or volunteer_sees_elder(theirs=theirs, case_state=case_state)
        medical = volunteer_sees_medical_notes(
            kind=CaseKind(row.case.kind), task_needs_medical=task.needs_medical
        )
        return cls(
            id=task.id,
            case_id=task.case_id,
            code=_short_code(task.case_id),
            volunteer_id=task.volunteer_id,
            status=task.status,
            ring=task.ring,
            distance_km=task.distance_km,
            need=_need_for_reader(task.need, row.case),
            needs_medical=task.needs_medical,
            offered_at=task.offered_at,
            answered_at=task.answered_at,
            elder=_task_elder(row.elder, medical) if shown else None,
        )


def _need_for_reader(need: str, case: Case) -> str:
    # No need typed by staff: the task carries the case's title, said in the reader's language.
    if need == case.summary:
        return in_reader_language(case.summary, case.summary_msg)
    return need


def _task_elder(elder: Elder, needs_medical: bool) -> TaskElder:
    notes = elder.medical_notes if needs_medical else None
    return TaskElder(
        name=elder.name,
        address=elder.address,
        phone=elder.phone,
        medical_notes=notes,
        access_notes=elder.access_notes,
    )


class MerchantCreate(BaseModel):
    """A new merchant and the categories of service it takes orders for."""

    name: Name
    phone: Phone
    categories: Annotated[list[Word], Field(min_length=1, max_length=20, examples=[["meals"]])]
    lat: Latitude | None = None
    lon: Longitude | None = None
    rating: Annotated[float, Field(ge=0, le=5)] = 3.0
    hours: Availability | None = None  # opening hours, local time; none given: always open
    language: Language | None = None


class VolunteerHours(BaseModel):
    """The weekly hours a volunteer takes offers in (local time); a day left out: none."""

    availability: Availability


class MerchantHours(BaseModel):
    """A merchant's weekly opening hours (local time); null: always open."""

    hours: Availability | None


class MerchantPublic(BaseModel):
    """A merchant's profile and standing."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str
    categories: list[str]
    lat: float | None
    lon: float | None
    rating: float
    status: str
    red_until: Timestamp | None
    created_at: Timestamp
    hours: dict[str, list[str]] | None = None  # None: always open
    language: str | None = None

    @classmethod
    def of(cls, row: Merchant) -> Self:
        """The public view of a merchant row."""
        return cls.model_validate(row)


class StrikePublic(BaseModel):
    """A strike (card) against a merchant, and its revocation if an admin took it back."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: str
    at: Timestamp
    card: str
    reason: str
    revoked_at: Timestamp | None
    revoked_by: str | None
    revoke_reason: str | None


class TurnPublic(BaseModel):
    """One of the merchant's turns at an order: contacted in time, missed or declined."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    assigned_at: Timestamp
    contact_due_at: Timestamp
    outcome: str
    ended_at: Timestamp | None
    score: float
    distance_km: float | None


class MerchantDetail(MerchantPublic):
    """A merchant with every strike and its latest turns at orders."""

    strikes_in_force: int
    strikes: list[StrikePublic]
    missed_contacts: int
    record: list[TurnPublic]

    @classmethod
    def build(
        cls, row: Merchant, strikes: list[MerchantStrike], record: list[OrderAttempt]
    ) -> Self:
        """Assemble the detail view from the rows."""
        return cls(
            **dict(MerchantPublic.of(row)),
            strikes_in_force=sum(1 for s in strikes if s.revoked_at is None),
            strikes=[StrikePublic.model_validate(s) for s in strikes],
            missed_contacts=sum(1 for a in record if a.outcome == "missed"),
            record=[TurnPublic.model_validate(a) for a in record],
        )


class RevokeBody(BaseModel):
    """Why the admin takes the strike back."""

    reason: Reason


class OfferRequest(BaseModel):
    """Staff ask for a care case to be offered to volunteers, optionally saying what it needs."""

    need: Annotated[str, Field(max_length=500)] = ""
    skill: Word | None = None
    needs_medical: bool = False

    def as_need(self) -> Need | None:
        """The need to record, or None to keep what the case already asks for."""
        if not (self.need.strip() or self.skill or self.needs_medical):
            return None
        return Need(self.need.strip(), self.skill, self.needs_medical)


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
