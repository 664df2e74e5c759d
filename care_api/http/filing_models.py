"""API models of hand-filed cases, their deadlines, the working-day calendar and the KPI report."""

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, model_validator

from care_api.domain.kpi import Kpi
from care_api.domain.kpi_service import ServiceKpi
from care_api.domain.model import CaseKind, ServiceLine
from care_api.domain.workdays import MAX_EXTENSION_DAYS, Matter
from care_api.http.answer_models import AnswerTimesPublic
from care_api.http.console_models import KpiPublic
from care_api.http.hotline_models import HotlineKpiPublic
from care_api.http.schemas import CasePublic, Timestamp
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


class AckPublic(BaseModel):
    """Time to first acknowledgement of one case kind, in seconds."""

    count: int
    p50_s: float | None
    p90_s: float | None


class KpiReport(KpiPublic):
    """The centre's figures: the console's, plus speed by kind, merchants and overdue matters."""

    by_kind_state: dict[str, dict[str, int]]
    ack_by_kind: dict[str, AckPublic]
    merchant_turns: int  # merchants' turns at orders that ended (or ran out) in the period
    merchant_contacts_in_time: int
    merchant_contact_rate: float | None  # confirmed within 10 minutes / turns
    deadlines: int  # hand-filed matters with a working-day deadline
    overdue: int  # of those, answered late or still open past the due time
    overdue_case_ids: list[str]
    answer_times: AnswerTimesPublic | None = None  # emergencies' answer times
    hotline: HotlineKpiPublic | None = None  # calls in: answered, missed, called back
    # Cases opened in the period by the outcome code they were resolved with.
    by_outcome: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def build(cls, kpi: Kpi, service: ServiceKpi, answers: AnswerTimesPublic | None = None) -> Self:
        """The console's figures with the service figures beside them."""
        return cls(
            **dict(KpiPublic.of(kpi)),
            by_kind_state=service.by_kind_state,
            ack_by_kind={
                kind: AckPublic(count=a.count, p50_s=a.p50_s, p90_s=a.p90_s)
                for kind, a in service.ack_by_kind.items()
            },
            merchant_turns=service.merchant_turns,
            merchant_contacts_in_time=service.merchant_contacts_in_time,
            merchant_contact_rate=service.merchant_contact_rate,
            deadlines=service.deadlines,
            overdue=service.overdue,
            overdue_case_ids=service.overdue_case_ids,
            answer_times=answers,
        )
