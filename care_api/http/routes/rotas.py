"""Rotas: the admin puts operators and supervisors on shifts; staff see who is on duty."""

import logging
from datetime import datetime, timedelta
from typing import Annotated, Self

from fastapi import APIRouter, Query, status
from pydantic import AfterValidator, BaseModel, ConfigDict

from care_api.domain.errors import InvalidInput
from care_api.domain.rota import DutyRole, Shift
from care_api.http.deps import AdminDep, ServicesDep, StaffDep, UowDep
from care_api.http.models.common import Name, Phone, Timestamp
from care_api.store.tables import Shift as ShiftRow
from care_api.usecases.cases.queries import MAX_PAGE
from care_api.usecases.schedules.rotas import add_shift, list_shifts, remove_shift, who_is_on_duty

log = logging.getLogger(__name__)

router = APIRouter(tags=["rotas"])

MAX_LIST_DAYS = 62


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput("give the time with its UTC offset, e.g. 2026-11-24T08:00:00+08:00")
    return value


AwareTime = Annotated[datetime, AfterValidator(_aware)]


class ShiftIn(BaseModel):
    """A turn of duty: who, in which role, on which phone, from `start` until `end`."""

    person: Name
    role: DutyRole
    phone: Phone | None = None  # a supervisor without one cannot be paged
    start: AwareTime
    end: AwareTime


class ShiftPublic(BaseModel):
    """A shift on the rota."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    person: str
    role: str
    phone: str
    start: Timestamp
    end: Timestamp
    created_by: str

    @classmethod
    def of(cls, row: ShiftRow) -> Self:
        """The public view of a shift row."""
        if row.id is None:
            raise RuntimeError("shift has no id yet")
        return cls(
            id=row.id,
            person=row.person,
            role=row.role,
            phone=row.phone,
            start=row.start_at,
            end=row.end_at,
            created_by=row.created_by,
        )


class DutyPerson(BaseModel):
    """Someone on duty now and until when."""

    shift_id: int
    person: str
    phone: str
    until: Timestamp

    @classmethod
    def of(cls, shift: Shift) -> Self:
        """The public view of a running shift."""
        return cls(shift_id=shift.shift_id, person=shift.person, phone=shift.phone, until=shift.end)


class OnDutyPublic(BaseModel):
    """Who is on duty at `at`, and whom the ladder's supervisor step would page."""

    at: Timestamp
    operators: list[DutyPerson]
    supervisors: list[DutyPerson]
    supervisor: str | None  # the name from the rota; None when the setting's phone is used
    supervisor_phone: str | None
    supervisor_source: str | None  # "rota" | "setting" | None: nobody to page


@router.post("/shifts", status_code=status.HTTP_201_CREATED)
def post_shift(
    body: ShiftIn, services: ServicesDep, uow: UowDep, principal: AdminDep
) -> ShiftPublic:
    """Put someone on the rota (422 when it ends before it starts or lasts over 7 days)."""
    row = add_shift(
        uow.session,
        body.model_dump(),
        by=principal.actor,
        now=services.clock.now(),
        region=services.settings.phone_region,
    )
    uow.commit()
    log.info("shift %s: %s %s", row.id, row.role, row.person)
    return ShiftPublic.of(row)


@router.get("/shifts")
def read_shifts(
    services: ServicesDep,
    uow: UowDep,
    _staff: StaffDep,
    since: AwareTime | None = None,
    until: AwareTime | None = None,
    role: DutyRole | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ShiftPublic]:
    """Shifts overlapping [since, until), earliest first, a page at a time.

    By default from now for 7 days; at most 62 days.
    """
    start = since or services.clock.now()
    end = until or start + timedelta(days=7)
    if end <= start or end - start > timedelta(days=MAX_LIST_DAYS):
        raise InvalidInput(f"until must be after since, at most {MAX_LIST_DAYS} days later")
    rows = list_shifts(uow.session, start=start, end=end, role=role)
    return [ShiftPublic.of(r) for r in rows[offset : offset + limit]]


@router.delete("/shifts/{shift_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_shift(shift_id: int, uow: UowDep, _admin: AdminDep) -> None:
    """Take a shift off the rota."""
    remove_shift(uow.session, shift_id)
    uow.commit()


@router.get("/on-duty")
def read_on_duty(
    services: ServicesDep,
    uow: UowDep,
    _staff: StaffDep,
    at: Annotated[AwareTime | None, Query()] = None,
) -> OnDutyPublic:
    """Operators and supervisors on duty now (or `at`); the supervisor falls back to the setting."""
    duty = who_is_on_duty(
        uow.session,
        at or services.clock.now(),
        fallback_phone=services.settings.supervisor_phone,
    )
    return OnDutyPublic(
        at=duty.at,
        operators=[DutyPerson.of(s) for s in duty.operators],
        supervisors=[DutyPerson.of(s) for s in duty.supervisors],
        supervisor=duty.supervisor_name,
        supervisor_phone=duty.supervisor_phone,
        supervisor_source=duty.supervisor_source,
    )
