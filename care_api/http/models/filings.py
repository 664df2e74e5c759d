"""API models of hand-filed cases, their deadlines and the working-day calendar."""

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, model_validator

from care_api.domain.model import CaseKind, ServiceLine
from care_api.domain.workdays import MAX_EXTENSION_DAYS, Matter
from care_api.http.models.cases import CasePublic
from care_api.http.models.common import Timestamp
from care_api.store.tables import Case, CaseDeadline
from care_api.usecases.cases.filings import Filing
from care_api.usecases.schedules.workdays import DayView


class FilingBody(BaseModel):
    """A case an operator files by hand (a consultation, a service or a care request).

    `line` is its service line; with a line and no kind, the kind is the line's (legal and
    care-home: consult, medical: care, life care: service).
    """

    elder_id: Annotated[int, Field(ge=1)]
    kind: Literal["consult", "service", "care"] | None = None
    line: ServiceLine | None = None
    summary: Annotated[str, Field(min_length=1, max_length=500)]
    matter: Matter = Matter.GENERAL
    need: Annotated[str, Field(max_length=500)] = ""
    skill: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    needs_medical: bool = False

    @model_validator(mode="after")
    def _kind_or_line(self) -> Self:
        if self.kind is None and self.line is None:
            raise ValueError("give a kind, a line, or both")
        return self

    def as_filing(self) -> Filing:
        """The use case's form of the request."""
        return Filing(
            elder_id=self.elder_id,
            kind=CaseKind(self.kind) if self.kind is not None else None,
            line=self.line,
            summary=self.summary,
            matter=self.matter,
            need=self.need,
            skill=self.skill,
            needs_medical=self.needs_medical,
        )


class DeadlinePublic(BaseModel):
    """A hand-filed matter's limit in working days, due time, extension and last notice."""

    matter: str
    limit_days: int
    filed_at: Timestamp
    due_at: Timestamp
    extended_days: int
    extension_reason: str
    supervised_at: Timestamp | None
    overdue: bool

    @classmethod
    def of(cls, row: CaseDeadline, case: Case, now: dt.datetime) -> Self:
        """The deadline as of `now`: overdue when it passed before the matter was answered."""
        answered = case.resolved_at or case.closed_at
        return cls(
            matter=row.matter,
            limit_days=row.limit_days,
            filed_at=row.filed_at,
            due_at=row.due_at,
            extended_days=row.extended_days,
            extension_reason=row.extension_reason,
            supervised_at=row.supervised_at,
            overdue=(answered or now) >= row.due_at,
        )


class FiledCase(CasePublic):
    """A case filed by hand, with its deadline."""

    deadline: DeadlinePublic


class ExtendBody(BaseModel):
    """The one extension a matter may get."""

    days: Annotated[int, Field(ge=1, le=MAX_EXTENSION_DAYS)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class CalendarDayBody(BaseModel):
    """Whether a day is worked: false for a holiday, true for a make-up working day."""

    working: bool
    note: Annotated[str, Field(max_length=200)] = ""


class CalendarDayPublic(BaseModel):
    """One day of the working-day calendar."""

    day: dt.date
    working: bool
    override: bool
    note: str

    @classmethod
    def of(cls, view: DayView) -> Self:
        """The API's view of a calendar day."""
        return cls(day=view.day, working=view.working, override=view.override, note=view.note)
