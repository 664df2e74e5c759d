"""What a ladder step does to the case itself: its state, level, and history lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from care_api.domain.cases import ALLOWED
from care_api.domain.model import SYSTEM, CaseState
from care_api.store.tables import Case
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.case_log import add_note, move_case

BY = str(SYSTEM)


def record_step(
    uow: SqlUnitOfWork,
    case: Case,
    *,
    step: int,
    notified: Sequence[str],
    asked: bool,
    flag: str | None,
    now: datetime,
    unreached: Sequence[str] = (),
    handed_on: bool = False,
) -> None:
    """Write the history of one ladder step and move the case along.

    Step 0 that asked people to take the case makes it `dispatched`; every later step makes it
    `escalated` with `level` = the step, whoever (if anyone) that step could reach.

    Args:
        uow: The unit of work the step runs in.
        case: The case, locked by the caller.
        step: The step that ran (0 first).
        notified: Actors told on a phone channel ("contact:3", "supervisor"), in order.
        asked: True when those messages ask them to take the case.
        flag: Console flag of the step ("call 120"), if any.
        now: When the step ran.
        unreached: Why the step reached nobody by phone ("no contacts on record"), if so.
        handed_on: True when the next step was therefore made due at once.
    """
    if notified:
        why = f"step {step}: " + ", ".join(notified)
        add_note(uow, case, action="notified", by=BY, why=why, now=now)
    if unreached:
        why = f"step {step} reached nobody by phone: " + ", ".join(unreached)
        if handed_on:
            why += f"; step {step + 1} now"
        add_note(uow, case, action="unreached", by=BY, why=why, now=now)
    current = CaseState(case.state)
    if step == 0:
        if asked and notified and CaseState.DISPATCHED in ALLOWED[current]:
            move_case(uow, case, CaseState.DISPATCHED, by=BY, why="alerts sent", now=now)
    elif CaseState.ESCALATED in ALLOWED[current]:
        why = f"no acknowledgement: step {step}"
        move_case(uow, case, CaseState.ESCALATED, by=BY, why=why, now=now)
        case.level = step
    if flag:
        add_note(uow, case, action="flag", by=BY, why=flag, now=now)
