"""Reclassifying a case: a single press often turns out to be a care need, not an emergency."""

from __future__ import annotations

import logging
from datetime import datetime

from care_api.domain.alarm_codes import contact_id_for_case
from care_api.domain.cases import is_active, is_unowned, summary_for
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.events import CaseReclassified
from care_api.domain.model import CaseKind, CaseState
from care_api.store.tables import Case, CaseEvent, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import (
    LADDER_TIMER,
    RECLASSIFIED_TIMER,
    add_note,
    pending_timers,
)
from care_api.usecases.dispatch.offers import withdraw_open_offers
from care_api.usecases.dispatch.volunteers import VOLUNTEER_RING_TIMER

log = logging.getLogger(__name__)

RECLASSIFIED = "reclassified"
# The old kind's chase; a filed case's deadline timer belongs to the case, not the kind.
_KIND_TIMERS = (LADDER_TIMER, VOLUNTEER_RING_TIMER)
_ARROW = " → "


def kinds_of(note: CaseEvent) -> tuple[CaseKind, CaseKind] | None:
    """The old and the new kind a `reclassified` history row records; None for another row."""
    if note.action != RECLASSIFIED:
        return None
    old, arrow, rest = note.why.partition(_ARROW)
    new = rest.partition(":")[0]
    try:
        return (CaseKind(old), CaseKind(new)) if arrow else None
    except ValueError:
        return None


def reclassify(
    uow: SqlUnitOfWork, case_id: str, kind: CaseKind, *, by: str, note: str, now: datetime
) -> Case:
    """Give the case another kind, recording the old and new kind and why in its history.

    A closed case keeps the kind it was closed with, so the figures already reported do
    not change behind the centre's back; asking for the kind it already has is a Conflict.
    The old kind's pending ladder steps and volunteer rings stop; while nobody owns the
    case, the new kind's ladder starts over at step 0 (a timer row due now, so it runs even
    if the process dies before alerts hears of the change). While the case is active, a
    "reclassified" timer row due now has the people alerted so far told of the change.
    """
    # Locked like every other change of a case, so two operators' edits queue up.
    case = uow.session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    if CaseState(case.state) is CaseState.CLOSED:
        raise Conflict(f"case {case_id} is closed; it keeps its kind")
    old = CaseKind(case.kind)
    if old is kind:
        raise Conflict(f"case {case_id} is already {kind}")
    case.kind = kind
    # The title names the kind ("Emergency (main long press)"); keep the trigger, fix the rest.
    trigger = case.summary.partition(" (")[2].removesuffix(")") or "reclassified"
    case.summary = summary_for(kind, trigger)
    # The Contact ID code follows the kind: a press found to be a care need is no alarm.
    code = contact_id_for_case(kind)
    case.contact_id = code.code if code is not None else None
    why = f"{old}{_ARROW}{kind}" + (f": {note}" if note else "")
    record = add_note(uow, case, action=RECLASSIFIED, by=by, why=why, now=now)
    stopped = _stop_kind_timers(uow, case.id)
    restart = is_unowned(CaseState(case.state))
    if restart:
        # Offers of a care task are moot once it is another kind (or a fresh care round).
        withdraw_open_offers(uow.session, case.id, now)
        case.level = 0
        uow.session.add(
            Timer(case_id=case.id, purpose=LADDER_TIMER, step=0, due_at=now, created_at=now)
        )
    if is_active(CaseState(case.state)):
        # People alerted under the old kind may be on their way for the wrong thing. A case
        # resolved or cancelled already told them it ended; a new kind changes nothing there.
        uow.session.flush()  # the history row's id names this reclassification
        uow.session.add(
            Timer(
                case_id=case.id,
                purpose=RECLASSIFIED_TIMER,
                step=record.id or 0,
                due_at=now,
                created_at=now,
            )
        )
    uow.emit(CaseReclassified(case.id, old, kind, by, restart))
    log.debug("case %s: %d timer(s) of the old kind stopped", case_id, stopped)
    log.info("case reclassified case=%s from=%s to=%s by=%s", case_id, old, kind, by)
    return case


def _stop_kind_timers(uow: SqlUnitOfWork, case_id: str) -> int:
    timers = pending_timers(uow.session, case_id, purposes=_KIND_TIMERS)
    for timer in timers:
        timer.cancelled = True
        uow.session.add(timer)
    return len(timers)
