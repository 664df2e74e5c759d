"""API models of the console's own reads: the board, and the KPI report with answer times."""

from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from care_api.domain.answer_times import AnswerFigures, AnswerTimes, ShiftHours
from care_api.domain.errors import InvalidInput
from care_api.domain.kpi import Kpi
from care_api.domain.kpi_service import ServiceKpi
from care_api.domain.model import CaseKind, CaseState, ServiceLine
from care_api.domain.texts import Msg
from care_api.http.models.common import ContactIdPublic, Timestamp, contact_id_of_row
from care_api.http.models.hotline import HotlineCallPublic, HotlineKpiPublic
from care_api.http.reader_language import in_reader_language, reader_language
from care_api.i18n import render
from care_api.store.tables import Case


class BoardCase(BaseModel):
    """One row of the live board."""

    id: str
    kind: CaseKind
    state: CaseState
    elder_id: int
    elder_name: str
    device_id: str | None
    summary: str
    owner: str | None
    level: int
    opened_at: Timestamp
    acknowledged_at: Timestamp | None
    updated_at: Timestamp
    flags: list[str]  # what the ladder wants the console to say, e.g. "call 120"
    line: ServiceLine | None = None  # the service line; None for a terminal problem
    contact_id: ContactIdPublic | None = None
    drill: bool = False
    owner_role: str | None = None  # the owner as people read it: "operator", "contact"…
    owner_name: str | None = None  # … and their name ("contact:9" is never shown)
    next_escalation_at: Timestamp | None = None  # the ladder's next step, while nobody owns it

    @classmethod
    def of(cls, case: Case, elder_name: str, flags: tuple[str, ...] = ()) -> Self:
        """The board's view of a case row."""
        return cls(
            id=case.id,
            kind=case.kind,
            state=case.state,
            elder_id=case.elder_id,
            elder_name=elder_name,
            device_id=case.device_id,
            summary=in_reader_language(case.summary, case.summary_msg),
            owner=case.owner,
            level=case.level,
            opened_at=case.opened_at,
            acknowledged_at=case.acknowledged_at,
            updated_at=case.updated_at,
            flags=[render(reader_language(), f) for f in flags],
            contact_id=contact_id_of_row(case.contact_id),
            drill=case.drill,
            line=ServiceLine(case.line) if case.line is not None else None,
        )


class BoardPublic(BaseModel):
    """The board, with the server's time so ages read right whatever the browser's clock."""

    now: Timestamp
    cases: list[BoardCase]
    # Calls nobody answered, waiting for their 5-minute callback (the hotline's rule).
    missed_calls: list[HotlineCallPublic] = []


class DayCountPublic(BaseModel):
    """Cases opened on one local day, by kind."""

    day: str
    counts: dict[str, int]


class KpiPublic(BaseModel):
    """The centre's figures over a period; rates are 0–1, or null with nothing to divide."""

    since: Timestamp
    until: Timestamp
    total: int
    by_kind: dict[str, int]
    by_state: dict[str, int]
    per_day: list[DayCountPublic]
    completion_rate: float | None
    callback_rate: float | None
    satisfaction_rate: float | None
    callbacks: int
    ack_count: int
    ack_p50_s: float | None
    ack_p90_s: float | None

    @classmethod
    def of(cls, kpi: Kpi) -> Self:
        """The API's view of computed figures."""
        return cls(
            since=kpi.since,
            until=kpi.until,
            total=kpi.total,
            by_kind=kpi.by_kind,
            by_state=kpi.by_state,
            per_day=[DayCountPublic(day=d.day, counts=d.counts) for d in kpi.per_day],
            completion_rate=kpi.completion_rate,
            callback_rate=kpi.callback_rate,
            satisfaction_rate=kpi.satisfaction_rate,
            callbacks=kpi.callbacks,
            ack_count=kpi.ack_count,
            ack_p50_s=kpi.ack_p50_s,
            ack_p90_s=kpi.ack_p90_s,
        )


class AnswerFiguresPublic(BaseModel):
    """Emergencies of one group: shares answered in 60 s / 180 s, time to "on site"."""

    emergencies: int
    answered: int
    within_60s: float | None  # share of emergencies a person acknowledged within 60 s
    within_180s: float | None
    on_site: int
    on_site_p50_s: float | None  # from the press to the owner's "on site"
    on_site_p90_s: float | None

    @classmethod
    def of(cls, figures: AnswerFigures) -> Self:
        """The API form of one group's figures."""
        return cls(
            emergencies=figures.emergencies,
            answered=figures.answered,
            within_60s=figures.within[60],
            within_180s=figures.within[180],
            on_site=figures.on_site,
            on_site_p50_s=figures.on_site_p50_s,
            on_site_p90_s=figures.on_site_p90_s,
        )


class AnswerTimesPublic(AnswerFiguresPublic):
    """All emergencies of the period, the targets, and the same per district and shift."""

    target_60s: float
    target_180s: float
    by_district: dict[str, AnswerFiguresPublic]  # "" for elders with no district
    by_shift: dict[str, AnswerFiguresPublic]  # "day" | "night", by the time of the answer
    shifts: dict[str, int]  # the local hour each shift starts

    @classmethod
    def build(cls, times: AnswerTimes, hours: ShiftHours) -> Self:
        """The API form of the figures."""
        return cls(
            **dict(AnswerFiguresPublic.of(times.overall)),
            target_60s=times.targets[60],
            target_180s=times.targets[180],
            by_district={d: AnswerFiguresPublic.of(f) for d, f in times.by_district.items()},
            by_shift={s: AnswerFiguresPublic.of(f) for s, f in times.by_shift.items()},
            shifts={"day": hours.day_start, "night": hours.night_start},
        )


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


class ReclassifyBody(BaseModel):
    """The kind the case really is, or its service line, or both; and why."""

    kind: CaseKind | None = None
    line: ServiceLine | None = None
    note: Annotated[str, Field(max_length=900)] = ""

    @model_validator(mode="after")
    def _kind_or_line(self) -> Self:
        if self.kind is None and self.line is None:
            raise InvalidInput(Msg("give a kind, a line, or both"))
        return self
