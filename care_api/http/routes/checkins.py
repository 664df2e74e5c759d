"""Wellness check-ins, away days and no-activity watches of an elder.

Staff for every elder; a caregiver (family) for the elders they care for.
"""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, status

from care_api.domain.access import Principal, may_read_elder
from care_api.domain.errors import NotFound
from care_api.domain.model import Role
from care_api.domain.texts import Msg
from care_api.http.deps import ServicesDep, UowDep, require_roles
from care_api.http.models.checkins import (
    AwayBody,
    CheckinsPublic,
    QuietBody,
    QuietPublic,
    WindowBody,
    WindowPublic,
)
from care_api.usecases.schedules.checkins import (
    add_window,
    away_days,
    remove_window,
    set_away,
    view_windows,
)
from care_api.usecases.schedules.quiet_watch import put_watch, stop_watch, view_watch

router = APIRouter(prefix="/elders", tags=["check-ins"])

# Staff, and a caregiver (family) for the elders they care for.
CarerDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.CAREGIVER)]


def _check(principal: Principal, elder_id: int) -> None:
    # The same answer as for a missing elder, so a caregiver cannot probe for others.
    if not may_read_elder(principal, elder_id):
        raise NotFound(Msg("elder {elder_id} not found", elder_id=elder_id))


def _read(uow: UowDep, elder_id: int, now: datetime, services: ServicesDep) -> CheckinsPublic:
    views = view_windows(uow.session, elder_id, now, services.tz)
    return CheckinsPublic(
        windows=[WindowPublic.of(v) for v in views],
        away=sorted(away_days(uow.session, elder_id)),
    )


@router.get("/{elder_id}/checkins")
def get_checkins(
    elder_id: int, services: ServicesDep, uow: UowDep, principal: CarerDep
) -> CheckinsPublic:
    """The elder's check-in windows with today's state, and their away days."""
    _check(principal, elder_id)
    return _read(uow, elder_id, services.clock.now(), services)


@router.post("/{elder_id}/checkins", status_code=status.HTTP_201_CREATED)
def post_checkin(
    elder_id: int, body: WindowBody, services: ServicesDep, uow: UowDep, principal: CarerDep
) -> CheckinsPublic:
    """Add a daily window: a press inside it says "I'm OK"; none opens a care case."""
    _check(principal, elder_id)
    now = services.clock.now()
    add_window(
        uow.session,
        elder_id,
        start=body.start,
        end=body.end,
        holidays_off=body.holidays_off,
        by=principal.actor,
        now=now,
        tz=services.tz,
    )
    uow.commit()
    return _read(uow, elder_id, now, services)


@router.delete("/{elder_id}/checkins/{window_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_checkin(elder_id: int, window_id: int, uow: UowDep, principal: CarerDep) -> None:
    """Stop a window."""
    _check(principal, elder_id)
    remove_window(uow.session, elder_id, window_id)
    uow.commit()


@router.put("/{elder_id}/away/{day}")
def put_away(
    elder_id: int,
    day: Annotated[date, Path()],
    services: ServicesDep,
    uow: UowDep,
    principal: CarerDep,
    body: AwayBody | None = None,
) -> CheckinsPublic:
    """The elder is away on `day` (YYYY-MM-DD): no check-in and no quiet watch that day."""
    _check(principal, elder_id)
    set_away(uow.session, elder_id, day, note=(body or AwayBody()).note, away=True)
    uow.commit()
    return _read(uow, elder_id, services.clock.now(), services)


@router.delete("/{elder_id}/away/{day}", status_code=status.HTTP_204_NO_CONTENT)
def delete_away(
    elder_id: int, day: Annotated[date, Path()], uow: UowDep, principal: CarerDep
) -> None:
    """The elder is home on `day` after all."""
    _check(principal, elder_id)
    set_away(uow.session, elder_id, day, note="", away=False)
    uow.commit()


def _watch(uow: UowDep, elder_id: int) -> QuietPublic:
    view = view_watch(uow.session, elder_id)
    if view is None:  # never watched: the defaults a PUT with no body would start
        body = QuietBody()
        return QuietPublic(
            elder_id=elder_id,
            active=False,
            quiet_hours=body.quiet_hours,
            grace_minutes=body.grace_minutes,
            last_activity_at=None,
            prompted_at=None,
            next_check_at=None,
            last_case_id=None,
            updated_by="",
        )
    return QuietPublic.of(view)


@router.get("/{elder_id}/quiet-watch")
def get_quiet_watch(elder_id: int, uow: UowDep, principal: CarerDep) -> QuietPublic:
    """The elder's no-activity watch (`active` false when it has none)."""
    _check(principal, elder_id)
    return _watch(uow, elder_id)


@router.put("/{elder_id}/quiet-watch")
def put_quiet_watch(
    elder_id: int, body: QuietBody, services: ServicesDep, uow: UowDep, principal: CarerDep
) -> QuietPublic:
    """Start or change the watch; its quiet period counts from now. Presses are the activity."""
    _check(principal, elder_id)
    put_watch(
        uow.session,
        elder_id,
        quiet_s=round(body.quiet_hours * 3600),
        grace_s=body.grace_minutes * 60,
        by=principal.actor,
        now=services.clock.now(),
    )
    uow.commit()
    return _watch(uow, elder_id)


@router.delete("/{elder_id}/quiet-watch", status_code=status.HTTP_204_NO_CONTENT)
def delete_quiet_watch(
    elder_id: int, services: ServicesDep, uow: UowDep, principal: CarerDep
) -> None:
    """Stop the watch."""
    _check(principal, elder_id)
    stop_watch(uow.session, elder_id, by=principal.actor, now=services.clock.now())
    uow.commit()
