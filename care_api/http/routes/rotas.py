"""Rotas: the admin puts operators and supervisors on shifts; staff see who is on duty."""

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from care_api.domain.errors import InvalidInput
from care_api.domain.rota import DutyRole
from care_api.domain.texts import Msg
from care_api.http.deps import AdminDep, ServicesDep, StaffDep, UowDep
from care_api.http.models.rotas import AwareTime, DutyPerson, OnDutyPublic, ShiftIn, ShiftPublic
from care_api.usecases.cases.queries import MAX_PAGE
from care_api.usecases.schedules.rotas import add_shift, list_shifts, remove_shift, who_is_on_duty

log = logging.getLogger(__name__)

router = APIRouter(tags=["rotas"])

MAX_LIST_DAYS = 62


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
        raise InvalidInput(
            Msg(
                "until must be after since, at most {max_list_days} days later",
                max_list_days=MAX_LIST_DAYS,
            )
        )
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
