"""The figures beside kpi.py's: cases by kind and state, speed by kind, merchants, overdue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from care_api.domain.dispatch import CONTACT_LIMIT_S
from care_api.domain.kpi import CaseFacts, percentile
from care_api.domain.model import CaseKind, CaseState

MAX_LISTED_OVERDUE = 100


@dataclass(frozen=True, slots=True)
class AckFigures:
    """Time to first acknowledgement of one case kind, in seconds."""

    count: int
    p50_s: float | None
    p90_s: float | None


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """One merchant's turn at an order."""

    assigned_at: datetime
    contact_due_at: datetime
    contacted_at: datetime | None
    outcome: str  # pending | contacted | missed | declined | withdrawn


@dataclass(frozen=True, slots=True)
class DeadlineFacts:
    """A hand-filed matter's deadline and when (if ever) it was answered."""

    case_id: str
    due_at: datetime
    settled_at: datetime | None  # resolved (or closed) at
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class ServiceKpi:
    """The figures; a rate is None when there is nothing to divide by."""

    by_kind_state: dict[str, dict[str, int]]
    ack_by_kind: dict[str, AckFigures]
    merchant_turns: int
    merchant_contacts_in_time: int
    merchant_contact_rate: float | None
    deadlines: int
    overdue: int
    overdue_case_ids: list[str]


def by_kind_and_state(cases: Iterable[CaseFacts]) -> dict[str, dict[str, int]]:
    """Counts of cases per kind and state; every kind and state present, zero or not."""
    table = {str(k): dict.fromkeys(map(str, CaseState), 0) for k in CaseKind}
    for case in cases:
        table[str(case.kind)][str(case.state)] += 1
    return table


def ack_by_kind(cases: Iterable[CaseFacts]) -> dict[str, AckFigures]:
    """p50 and p90 of the time from opening to first acknowledgement, per kind."""
    waits: dict[str, list[float]] = {str(k): [] for k in CaseKind}
    for case in cases:
        if case.acknowledged_at is not None:
            waits[str(case.kind)].append((case.acknowledged_at - case.opened_at).total_seconds())
    return {
        kind: AckFigures(len(w), percentile(w, 0.5), percentile(w, 0.9))
        for kind, w in waits.items()
    }


def contact_in_time(turn: ContactFacts, limit_s: int = CONTACT_LIMIT_S) -> bool:
    """True when the merchant confirmed contact within `limit_s` of getting the order."""
    if turn.contacted_at is None:
        return False
    return (turn.contacted_at - turn.assigned_at).total_seconds() <= limit_s


def _settled_turn(turn: ContactFacts, now: datetime) -> bool:
    # A turn still pending past its due time has missed, whether or not its timer has run;
    # a withdrawn one (order cancelled) says nothing about the merchant.
    if turn.outcome == "withdrawn":
        return False
    return turn.outcome != "pending" or turn.contact_due_at <= now


def is_overdue(deadline: DeadlineFacts, now: datetime) -> bool:
    """True when the matter was answered late, or is still open past its due time."""
    if deadline.cancelled:
        return False
    answered = deadline.settled_at if deadline.settled_at is not None else now
    return answered >= deadline.due_at  # due_at is the midnight that ends the last day


def compute_service_kpi(
    cases: Iterable[CaseFacts],
    turns: Iterable[ContactFacts],
    deadlines: Iterable[DeadlineFacts],
    *,
    now: datetime,
) -> ServiceKpi:
    """The figures over already chosen cases, merchant turns and deadlines of a period."""
    chosen = list(cases)
    settled = [t for t in turns if _settled_turn(t, now)]
    in_time = sum(1 for t in settled if contact_in_time(t))
    counted = [d for d in deadlines if not d.cancelled]
    late = sorted(d.case_id for d in counted if is_overdue(d, now))
    return ServiceKpi(
        by_kind_state=by_kind_and_state(chosen),
        ack_by_kind=ack_by_kind(chosen),
        merchant_turns=len(settled),
        merchant_contacts_in_time=in_time,
        merchant_contact_rate=in_time / len(settled) if settled else None,
        deadlines=len(counted),
        overdue=len(late),
        overdue_case_ids=late[:MAX_LISTED_OVERDUE],
    )
