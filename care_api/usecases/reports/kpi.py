"""The KPI report's reads beside console_queries.kpi_inputs: merchant turns and deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_api.domain.answer_times import AnswerTimes, EmergencyFacts, ShiftHours, answer_times
from care_api.domain.errors import InvalidInput
from care_api.domain.kpi import CaseFacts
from care_api.domain.kpi_service import (
    ContactFacts,
    DeadlineFacts,
    ServiceKpi,
    compute_service_kpi,
)
from care_api.domain.model import CaseKind, CaseState
from care_api.domain.texts import Msg
from care_api.store.tables import Case, CaseDeadline, CaseEvent, Elder, OrderAttempt


def parse_bound(value: str, tz: tzinfo, *, end: bool) -> datetime:
    """A period bound: "2026-11-22" is that local day (its start, or for `end` its end).

    A time must carry its UTC offset; InvalidInput otherwise, as for anything not a date.
    """
    text = value.strip()
    try:
        if len(text) == len("YYYY-MM-DD"):
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise InvalidInput(
            Msg("{text} is neither a date (YYYY-MM-DD) nor a time", text=repr(text))
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(Msg("times need a UTC offset (or give a date: YYYY-MM-DD)"))
    return moment.astimezone(UTC)


def contact_facts(session: Session, since: datetime, until: datetime) -> list[ContactFacts]:
    """Merchant turns at orders given in `[since, until)`."""
    rows: Sequence[OrderAttempt] = session.exec(
        select(OrderAttempt).where(
            col(OrderAttempt.assigned_at) >= since, col(OrderAttempt.assigned_at) < until
        )
    ).all()
    return [ContactFacts(a.assigned_at, a.contact_due_at, _contacted(a), a.outcome) for a in rows]


def _contacted(attempt: OrderAttempt) -> datetime | None:
    return attempt.ended_at if attempt.outcome == "contacted" else None


def deadline_facts(session: Session, since: datetime, until: datetime) -> list[DeadlineFacts]:
    """Deadlines of the hand-filed cases opened in `[since, until)`."""
    rows = session.exec(
        select(CaseDeadline, Case)
        .join(Case, col(Case.id) == col(CaseDeadline.case_id))
        .where(col(Case.opened_at) >= since, col(Case.opened_at) < until)
    ).all()
    return [
        DeadlineFacts(
            case_id=c.id,
            due_at=d.due_at,
            settled_at=c.resolved_at or c.closed_at,
            cancelled=c.state == CaseState.CANCELLED or bool(c.closed_at and not c.resolved_at),
        )
        for d, c in rows
    ]


def service_kpi(
    session: Session, cases: Sequence[CaseFacts], since: datetime, until: datetime, now: datetime
) -> ServiceKpi:
    """The service figures of the period whose cases `kpi_inputs` already read."""
    return compute_service_kpi(
        cases,
        contact_facts(session, since, until),
        deadline_facts(session, since, until),
        now=now,
    )


def emergency_facts(
    session: Session, since: datetime, until: datetime, *, drill: bool = False
) -> list[EmergencyFacts]:
    """The emergencies opened in `[since, until)`: answer, on-site and cancel times, district.

    Drills are never mixed with real emergencies: `drill` picks one or the other.
    """
    rows = session.exec(
        select(Case, Elder.district)
        .join(Elder, col(Elder.id) == col(Case.elder_id))
        .where(
            col(Case.kind) == CaseKind.EMERGENCY,
            col(Case.opened_at) >= since,
            col(Case.opened_at) < until,
            col(Case.drill) == drill,
        )
    ).all()
    ids = [c.id for c, _ in rows]
    moves: dict[tuple[str, str], datetime] = {}
    if ids:
        # The first time each case reached "on site" and "cancelled".
        firsts = session.exec(
            select(CaseEvent.case_id, CaseEvent.to_state, func.min(CaseEvent.at))
            .where(
                col(CaseEvent.case_id).in_(ids),
                col(CaseEvent.to_state).in_([CaseState.ON_SITE, CaseState.CANCELLED]),
            )
            .group_by(col(CaseEvent.case_id), col(CaseEvent.to_state))
        ).all()
        moves = {(case_id, str(to)): at for case_id, to, at in firsts}
    return [
        EmergencyFacts(
            opened_at=c.opened_at,
            acknowledged_at=c.acknowledged_at,
            on_site_at=_aware(moves.get((c.id, CaseState.ON_SITE))),
            cancelled_at=(
                None
                if c.acknowledged_at is not None
                else _aware(moves.get((c.id, CaseState.CANCELLED)))
            ),
            district=district,
        )
        for c, district in rows
    ]


def answer_kpi(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    now: datetime,
    tz: tzinfo,
    hours: ShiftHours,
    drill: bool = False,
) -> AnswerTimes:
    """The answer-time figures of the emergencies opened in `[since, until)`."""
    facts = emergency_facts(session, since, until, drill=drill)
    return answer_times(facts, now=now, tz=tz, hours=hours)


def _aware(moment: datetime | None) -> datetime | None:
    # func.min() comes back without the column type's UTC conversion on SQLite.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
