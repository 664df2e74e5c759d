"""The case state machine: which moves are legal, and what a terminal is told of each."""

from __future__ import annotations

from collections.abc import Mapping

from care_api.domain.errors import IllegalTransition
from care_api.domain.model import CaseKind, CaseState
from care_api.domain.texts import N_, Msg

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
# Settled, and the callback (回访) to the elder is still to be made.
AWAITING_CALLBACK: frozenset[CaseState] = frozenset({S.RESOLVED, S.CANCELLED})

SAY: Mapping[CaseState, str] = {
    S.OPEN: N_("Your call is received"),
    S.DISPATCHED: N_("We are finding help"),
    S.ESCALATED: N_("We are finding help"),
    S.ACCEPTED: N_("Help is coming"),
    S.ON_SITE: N_("Help has arrived"),
    S.RESOLVED: N_("Your call is done"),
    S.CLOSED: N_("Your call is closed"),
    S.CANCELLED: N_("Call cancelled; the centre will check on you"),
}
# Accepted by a desk (an operator, or the centre placing a merchant order): nobody is on
# the way yet, so the elder is not told help is coming.
DESK_ACCEPTED_SAY = N_("The centre has your call")
# No merchant took the service request (all declined or let their 10 minutes pass).
NO_TAKER_SAY = N_("Nobody could take your request yet; the centre will call you back")
_DESK_ACTORS = ("operator", "admin")


def news_say(kind: CaseKind, state: CaseState, owner: str | None) -> str | None:
    """What the terminal says of its case now; None: nothing (the elder did not start it).

    It follows what a person did: accepted (someone going: "help is coming"; a desk or an
    order being arranged: only that the centre has it), on site, done.
    """
    if kind is CaseKind.DEVICE:
        return None  # the terminal's own trouble (battery, power, silence): no call of theirs
    if state is S.ACCEPTED:
        by_desk = (owner or "").partition(":")[0] in _DESK_ACTORS
        if kind is CaseKind.SERVICE or by_desk or not owner:
            return DESK_ACCEPTED_SAY
    return SAY.get(state)


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


def kind_title(kind: CaseKind) -> Msg:
    """A case kind as people read it ("Emergency", "紧急求助")."""
    titles = {
        CaseKind.EMERGENCY: N_("Emergency"),
        CaseKind.CARE: N_("Care request"),
        CaseKind.SERVICE: N_("Service request"),
        CaseKind.CONSULT: N_("Consultation"),
        CaseKind.DEVICE: N_("Terminal problem"),
    }
    return Msg(titles[kind])


def summary_for(kind: CaseKind, trigger: str) -> Msg:
    """The one-line title of a new case, shown on the console and in messages."""
    return Msg("{kind} ({trigger})", kind=kind_title(kind), trigger=trigger)
