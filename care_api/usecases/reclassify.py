"""Reclassifying a case: a single press often turns out to be a care need, not an emergency."""

from __future__ import annotations

import logging
from datetime import datetime

from care_api.domain.alarm_codes import contact_id_for_case
from care_api.domain.cases import summary_for
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.model import CaseKind, CaseState
from care_api.store.tables import Case
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.case_log import add_note

log = logging.getLogger(__name__)

RECLASSIFIED = "reclassified"


def reclassify(
    uow: SqlUnitOfWork, case_id: str, kind: CaseKind, *, by: str, note: str, now: datetime
) -> Case:
    """Give the case another kind, recording the old and new kind and why in its history.

    A closed case keeps the kind it was closed with, so the figures already reported do
    not change behind the centre's back; asking for the kind it already has is a Conflict.
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
    why = f"{old} → {kind}" + (f": {note}" if note else "")
    add_note(uow, case, action=RECLASSIFIED, by=by, why=why, now=now)
    # TODO(alerts): there is no CaseReclassified domain event yet (domain/events.py), so a
    # running ladder keeps the old kind's steps until alerts re-reads the case kind.
    log.info("case reclassified case=%s from=%s to=%s by=%s", case_id, old, kind, by)
    return case
