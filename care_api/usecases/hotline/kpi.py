"""The hotline's figures: calls answered, missed, and missed calls called back within 5 minutes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from care_api.domain.hotline import CallStatus, called_back_in_time
from care_api.store.tables import HotlineCall


@dataclass(frozen=True, slots=True)
class HotlineKpi:
    """Calls to the centre in a period; rates are None with nothing to divide."""

    calls: int  # voice calls in
    texts: int  # SMS in
    answered: int  # an operator took the call
    missed: int  # nobody did: a callback was due
    called_back: int
    called_back_in_time: int  # within 5 minutes of the miss
    answer_rate: float | None  # answered / (answered + missed)
    callback_in_time_rate: float | None  # called back within 5 minutes / missed


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def hotline_kpi(session: Session, since: datetime, until: datetime) -> HotlineKpi:
    """The figures of the calls and texts that reached the centre in `[since, until)`."""
    rows = session.exec(
        select(HotlineCall).where(
            col(HotlineCall.started_at) >= since, col(HotlineCall.started_at) < until
        )
    ).all()
    voice = [r for r in rows if r.channel == "voice"]
    answered = sum(1 for r in voice if r.status == CallStatus.ANSWERED)
    missed = [r for r in voice if r.status == CallStatus.MISSED]
    back = [r for r in missed if r.called_back_at is not None]
    in_time = sum(
        1
        for r in back
        if r.callback_due_at is not None
        and called_back_in_time(r.callback_due_at, r.called_back_at)
    )
    return HotlineKpi(
        calls=len(voice),
        texts=len(rows) - len(voice),
        answered=answered,
        missed=len(missed),
        called_back=len(back),
        called_back_in_time=in_time,
        answer_rate=_rate(answered, answered + len(missed)),
        callback_in_time_rate=_rate(in_time, len(missed)),
    )
