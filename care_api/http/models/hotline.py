"""API models of the hotline: calls to the centre, missed calls and their figures."""

from typing import Annotated, Self

from pydantic import BaseModel, Field

from care_api.http.models.common import Timestamp
from care_api.store.tables import HotlineCall
from care_api.usecases.hotline.kpi import HotlineKpi


class HotlineCallPublic(BaseModel):
    """A call (or text) to the centre; a missed one shows when its callback is due."""

    id: int
    channel: str  # voice | sms
    phone: str
    caller: str  # elder | contact | volunteer | merchant | supervisor | stranger
    actor: str
    elder_id: int | None
    case_id: str | None
    line: str | None
    status: str  # menu | prompt | dialing | answered | handled | missed | sms
    started_at: Timestamp
    missed_at: Timestamp | None
    callback_due_at: Timestamp | None  # missed: call back by then (5 minutes)
    called_back_at: Timestamp | None
    called_back_by: str | None
    callback_note: str
    overdue: bool  # missed and not called back by its due time (as of the last sweep)

    @classmethod
    def of(cls, row: HotlineCall) -> Self:
        """The public view of a call row."""
        if row.id is None:  # pragma: no cover - rows come from the database
            raise RuntimeError("call has no id")
        return cls(
            id=row.id,
            channel=row.channel,
            phone=row.phone,
            caller=row.caller,
            actor=row.actor,
            elder_id=row.elder_id,
            case_id=row.case_id,
            line=row.line,
            status=row.status,
            started_at=row.started_at,
            missed_at=row.missed_at,
            callback_due_at=row.callback_due_at,
            called_back_at=row.called_back_at,
            called_back_by=row.called_back_by,
            callback_note=row.callback_note,
            overdue=row.overdue_at is not None and row.called_back_at is None,
        )


class CalledBackIn(BaseModel):
    """An operator called a missed caller back; what came of it, in a few words."""

    note: Annotated[str, Field(max_length=500)] = ""


class HotlineKpiPublic(BaseModel):
    """Calls to the centre in the period: answered, missed, called back within 5 minutes."""

    calls: int
    texts: int
    answered: int
    missed: int
    called_back: int
    called_back_in_time: int
    answer_rate: float | None
    callback_in_time_rate: float | None

    @classmethod
    def of(cls, kpi: HotlineKpi) -> Self:
        """The API's view of the figures."""
        return cls(
            calls=kpi.calls,
            texts=kpi.texts,
            answered=kpi.answered,
            missed=kpi.missed,
            called_back=kpi.called_back,
            called_back_in_time=kpi.called_back_in_time,
            answer_rate=kpi.answer_rate,
            callback_in_time_rate=kpi.callback_in_time_rate,
        )
