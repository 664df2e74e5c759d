"""Reclassifying a case: a single press often turns out to be a care need, not an emergency.

The same use case sets a case's service line, whoever decides it: the operator on the
call-back, the hotline menu, any other source that names a line.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from sqlmodel import select

from care_api.domain.alarm_codes import contact_id_for_case
from care_api.domain.cases import is_active, is_unowned, summary_for
from care_api.domain.errors import Conflict, InvalidInput, NotFound
from care_api.domain.events import CaseReclassified
from care_api.domain.lines import check_line, default_line, fits, kind_for_line
from care_api.domain.model import CaseKind, CaseState, ServiceLine, TimerPurpose
from care_api.domain.texts import Msg, msg_json, stored_text, term
from care_api.domain.workdays import Matter
from care_api.store.tables import Case, CaseDeadline, CaseEvent, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import (
    add_note,
    pending_timers,
    start_deadline,
)
from care_api.usecases.dispatch.offers import withdraw_open_offers

log = logging.getLogger(__name__)

RECLASSIFIED = "reclassified"
LINE_SET = "line"  # a history row "life_care → legal" when the line changed
# The old kind's chase; a filed case's deadline timer belongs to the case, not the kind.
_KIND_TIMERS = (TimerPurpose.LADDER, TimerPurpose.VOLUNTEER_RING)
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


def _target(
    case: Case, kind: CaseKind | None, line: ServiceLine | None
) -> tuple[CaseKind, ServiceLine | None]:
    """The kind and line the case gets: what was asked, the rest kept where it still fits."""
    old_kind = case.kind
    old_line = ServiceLine(case.line) if case.line is not None else None
    if kind is None:
        if line is None:
            raise InvalidInput(Msg("reclassifying needs a kind or a service line"))
        kind = old_kind if fits(old_kind, line) else kind_for_line(line)
    elif line is None:
        line = old_line if fits(kind, old_line) else default_line(kind)
    check_line(kind, line)
    return kind, line


def reclassify(
    uow: SqlUnitOfWork,
    case_id: str,
    kind: CaseKind | None,
    *,
    by: str,
    note: str,
    now: datetime,
    tz: tzinfo,
    line: ServiceLine | None = None,
) -> Case:
    """Give the case another kind or service line, recording old, new and why in its history.

    With only a `line`, the kind stays if it serves that line, else becomes the line's
    (life care → legal makes a consult); with only a `kind`, the line stays if it fits,
    else becomes the kind's default. A case that becomes a consultation gets its
    working-day deadline if it has none.
    A closed case keeps the kind it was closed with, so the figures already reported do
    not change behind the centre's back; asking for the kind and line it already has is a
    Conflict; a line that does not go with the kind is a ValueError.
    The old kind's pending ladder steps and volunteer rings stop; while nobody owns the
    case, the new kind's ladder starts over at step 0 (a timer row due now, so it runs even
    if the process dies before alerts hears of the change). While the case is active, a
    "reclassified" timer row due now has the people alerted so far told of the change.
    """
    # Locked like every other change of a case, so two operators' edits queue up.
    case = uow.session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    if case.state is CaseState.CLOSED:
        raise Conflict(Msg("case {case_id} is closed; it keeps its kind", case_id=case_id))
    old = case.kind
    old_line = case.line
    kind, line = _target(case, kind, line)
    if old is kind and old_line == line:
        raise Conflict(
            Msg(
                "case {case_id} is already {kind} on the {line} line",
                case_id=case_id,
                kind=term(kind),
                line=term(line),
            )
            if line
            else Msg(
                "case {case_id} is already {kind} with no service line",
                case_id=case_id,
                kind=term(kind),
            )
        )
    if old_line != line:
        case.line = line
        # The note goes with the kind's row when the kind changes too.
        # Reads "medical → emergency" in English (as before); the words in the reader's language.
        moved = {"old": term(old_line or "-"), "new": term(line or "-")}
        if note and old is kind:
            why = Msg("{old} → {new}: {note}", note=note, **moved)
        else:
            why = Msg("{old} → {new}", **moved)
        add_note(uow, case, action=LINE_SET, by=by, why=why, now=now)
    if kind is CaseKind.CONSULT and _deadline_of(uow, case.id) is None:
        start_deadline(uow, case, Matter.GENERAL, by=by, now=now, tz=tz)
    if old is kind:
        # The same kind on another line: its ladder and the people alerted stay right.
        uow.emit(CaseReclassified(case.id, old, kind, by, restart=False))
        log.info("case line set case=%s from=%s to=%s by=%s", case_id, old_line, line, by)
        return case
    case.kind = kind
    # The title names the kind ("Emergency (main long press)"); keep the trigger, fix the rest.
    kept = stored_text(case.summary, case.summary_msg)
    trigger = (kept.fields.get("trigger") if isinstance(kept, Msg) else None) or (
        case.summary.partition(" (")[2].removesuffix(")") or Msg("reclassified")
    )
    summary = summary_for(kind, str(trigger) if not isinstance(trigger, Msg) else trigger)
    case.summary, case.summary_msg = summary, msg_json(summary)
    # The Contact ID code follows the kind: a press found to be a care need is no alarm.
    code = contact_id_for_case(kind)
    case.contact_id = code.code if code is not None else None
    kinds = {"old": term(old), "new": term(kind)}  # English as kinds_of reads it back
    why = (
        Msg("{old} → {new}: {note}", note=note, **kinds) if note else Msg("{old} → {new}", **kinds)
    )
    note_id = add_note(uow, case, action=RECLASSIFIED, by=by, why=why, now=now)
    if note_id is None:  # pragma: no cover - an operator's action, never in a batch of rows
        raise RuntimeError(f"case {case_id}: the reclassification's history row has no id")
    stopped = _stop_kind_timers(uow, case.id)
    restart = is_unowned(case.state)
    if restart:
        # Offers of a care task are moot once it is another kind (or a fresh care round).
        withdraw_open_offers(uow.session, case.id, now)
        case.level = 0
        uow.session.add(
            Timer(case_id=case.id, purpose=TimerPurpose.LADDER, step=0, due_at=now, created_at=now)
        )
    if is_active(case.state):
        # People alerted under the old kind may be on their way for the wrong thing. A case
        # resolved or cancelled already told them it ended; a new kind changes nothing there.
        uow.session.add(
            Timer(
                case_id=case.id,
                purpose=TimerPurpose.RECLASSIFIED,
                step=note_id,  # the history row's id names this reclassification
                due_at=now,
                created_at=now,
            )
        )
    uow.emit(CaseReclassified(case.id, old, kind, by, restart))
    log.debug("case %s: %d timer(s) of the old kind stopped", case_id, stopped)
    log.info("case reclassified case=%s from=%s to=%s by=%s", case_id, old, kind, by)
    return case


def _deadline_of(uow: SqlUnitOfWork, case_id: str) -> CaseDeadline | None:
    query = select(CaseDeadline).where(CaseDeadline.case_id == case_id)
    return uow.session.exec(query).first()


def _stop_kind_timers(uow: SqlUnitOfWork, case_id: str) -> int:
    timers = pending_timers(uow.session, case_id, purposes=_KIND_TIMERS)
    for timer in timers:
        timer.cancelled = True
        uow.session.add(timer)
    return len(timers)
