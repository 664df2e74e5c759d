"""Wellness check-ins, away days and no-activity watches of an elder.

Staff for every elder; a caregiver (family) for the elders they care for.
"""

from datetime import date, datetime
from typing import Annotated, Self

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from care_api.domain.access import Principal, may_read_elder
from care_api.domain.errors import NotFound
from care_api.domain.model import Role
from care_api.http.deps import ServicesDep, UowDep, require_roles
from care_api.http.models.common import Timestamp
from care_api.usecases.schedules.checkins import (
    WindowView,
    add_window,
    away_days,
    remove_window,
    set_away,
    view_windows,
)
from care_api.usecases.schedules.quiet_watch import WatchView, put_watch, stop_watch, view_watch

router = APIRouter(prefix="/elders", tags=["check-ins"])

# Staff, and a caregiver (family) for the elders they care for.
CarerDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.CAREGIVER)]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["08:00"])]


class WindowBody(BaseModel):
    """A daily "I'm OK" window in the centre's local time, e.g. 08:00–10:00."""

    start: HHMM
    end: HHMM
    holidays_off: bool = True  # no check-in on the calendar's public holidays


class WindowPublic(BaseModel):
    """A window and how today's went: pending | open | kept | missed | off | new."""

    id: int
    start: str
    end: str
    holidays_off: bool
    today: str
    kept_at: Timestamp | None
    next_check_at: Timestamp
    missed_case_id: str | None
    created_by: str

    @classmethod
    def of(cls, view: WindowView) -> Self:
        """The API form of a window."""
        w = view.window
        if w.id is None:
            raise RuntimeError("window has no id")
        return cls(
            id=w.id,
            start=w.start,
            end=w.end,
            holidays_off=w.holidays_off,
            today=view.today,
            kept_at=w.kept_at,
            next_check_at=view.next_check_at,
            missed_case_id=w.missed_case_id,
            created_by=w.created_by,
        )


class CheckinsPublic(BaseModel):
    """An elder's windows and away days."""

    windows: list[WindowPublic]
    away: list[date]


class AwayBody(BaseModel):
    """Why the elder is away that day."""

    note: Annotated[str, Field(max_length=200)] = ""


def _check(principal: Principal, elder_id: int) -> None:
    # The same answer as for a missing elder, so a caregiver cannot probe for others.
    if not may_read_elder(principal, elder_id):
        raise NotFound(f"elder {elder_id} not found")


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


class QuietBody(BaseModel):
    """An elder's no-activity watch: quiet this long → the terminal prompts; no press → a case."""

    quiet_hours: Annotated[float, Field(ge=1, le=72)] = 13
    grace_minutes: Annotated[int, Field(ge=1, le=120)] = 15


class QuietPublic(BaseModel):
    """The watch, the last sign of life it knows of, and when it looks next."""

    elder_id: int
    active: bool
    quiet_hours: float
    grace_minutes: float
    last_activity_at: Timestamp | None  # None while never watched
    prompted_at: Timestamp | None  # a prompt on the terminal waiting for a press
    next_check_at: Timestamp | None
    last_case_id: str | None
    updated_by: str

    @classmethod
    def of(cls, view: WatchView) -> Self:
        """The API form of a watch."""
        w = view.watch
        return cls(
            elder_id=w.elder_id,
            active=w.active,
            quiet_hours=w.quiet_s / 3600,
            grace_minutes=w.grace_s / 60,
            last_activity_at=view.last_activity_at,
            prompted_at=w.prompted_at,
            next_check_at=view.next_check_at if w.active else None,
            last_case_id=w.case_id,
            updated_by=w.updated_by,
        )


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
