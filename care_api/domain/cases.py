"""The case state machine: which moves are legal, and what a terminal is told of each."""

from __future__ import annotations

from collections.abc import Mapping

from care_api.domain.errors import IllegalTransition
from care_api.domain.model import CaseKind, CaseState

S = CaseState

ALLOWED: Mapping[CaseState, frozenset[CaseState]] = {
    S.OPEN: frozenset({S.DISPATCHED, S.ESCALATED, S.ACCEPTED, S.RESOLVED, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.ESCALATED, S.ACCEPTED, S.RESOLVED, S.CANCELLED}),
    S.ESCALATED: frozenset({S.DISPATCHED, S.ESCALATED, S.ACCEPTED, S.RESOLVED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.ON_SITE, S.RESOLVED}),
    S.ON_SITE: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED}),
    S.CANCELLED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}

# States in which nobody has taken the case yet: the ladder keeps climbing.
UNOWNED: frozenset[CaseState] = frozenset({S.OPEN, S.DISPATCHED, S.ESCALATED})
# States in which the case still needs someone: a repeated press joins it.
ACTIVE: frozenset[CaseState] = UNOWNED | {S.ACCEPTED, S.ON_SITE}

SAY: Mapping[CaseState, str] = {
    S.OPEN: "Your call is received",
    S.DISPATCHED: "We are finding help",
    S.ESCALATED: "We are finding help",
    S.ACCEPTED: "Help is coming",
    S.ON_SITE: "Help has arrived",
    S.RESOLVED: "Your call is done",
    S.CLOSED: "Your call is closed",
    S.CANCELLED: "Call cancelled; the centre will check on you",
}


def check_transition(case_id: str, current: CaseState, to: CaseState) -> None:
    """Raise IllegalTransition unless `current → to` is a move of the state machine."""
    if to not in ALLOWED[current]:
        raise IllegalTransition(case_id, current, to)


def is_active(state: CaseState) -> bool:
    """True while the case still needs someone to act."""
    return state in ACTIVE


def is_unowned(state: CaseState) -> bool:
    """True while nobody has acknowledged or accepted the case."""
    return state in UNOWNED


def summary_for(kind: CaseKind, trigger: str) -> str:
    """The one-line title of a new case, shown on the console and in messages."""
    titles = {
        CaseKind.EMERGENCY: "Emergency",
        CaseKind.CARE: "Care request",
        CaseKind.SERVICE: "Service request",
        CaseKind.CONSULT: "Consultation",
        CaseKind.DEVICE: "Terminal problem",
    }
    return f"{titles[kind]} ({trigger})"
