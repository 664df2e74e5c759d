"""API models of an elder's check-in windows, time away and quiet watch."""

from datetime import date
from typing import Annotated, Self

from pydantic import BaseModel, Field

from care_api.http.models.common import Timestamp
from care_api.usecases.schedules.checkins import WindowView
from care_api.usecases.schedules.quiet_watch import WatchView

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
