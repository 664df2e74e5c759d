"""What a ladder step does to the case itself: its state, level, and history lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from care_api.domain.cases import ALLOWED
from care_api.domain.model import SYSTEM, CaseState
from care_api.domain.texts import Msg, joined, term
from care_api.store.tables import Case
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import add_note, move_case

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
    repeat: tuple[int, int] = (0, 0),
) -> None:
    """Write the history of one ladder step and move the case along.

    Step 0 that asked people to take the case makes it `dispatched`; every later step (and
    every repeat of the last) makes it `escalated` with `level` = the step, whoever (if
    anyone) that step could reach.

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
        repeat: (n, of) when this is the n-th repeat of the last step, of at most `of`.
    """
    label = (
        Msg("step {step}, repeat {n} of {of}", step=step, n=repeat[0], of=repeat[1])
        if repeat[0]
        else Msg("step {step}", step=step)
    )
    if notified:
        why = Msg("{step}: {people}", step=label, people=", ".join(notified))
        add_note(uow, case, action="notified", by=BY, why=why, now=now)
    current = case.state
    if step == 0:
        if asked and notified and CaseState.DISPATCHED in ALLOWED[current]:
            move_case(uow, case, CaseState.DISPATCHED, by=BY, why=Msg("alerts sent"), now=now)
        elif repeat[0]:
            # A one-step ladder repeating: no state change says so, this line does.
            add_note(
                uow,
                case,
                action="repeated",
                by=BY,
                why=Msg("no acknowledgement: {step}", step=label),
                now=now,
            )
    elif CaseState.ESCALATED in ALLOWED[current]:
        # A repeat moves escalated to escalated: one more history line, saying which repeat.
        why = Msg("no acknowledgement: {step}", step=label)
        move_case(uow, case, CaseState.ESCALATED, by=BY, why=why, now=now)
        case.level = step
    if unreached:
        # After the step's own lines, so the history reads: step 1 ran, found nobody, step 2.
        why = Msg(
            "{step} reached nobody by phone: {reasons}", step=label, reasons=joined(unreached)
        )
        if handed_on:
            why = Msg("{text}; step {next} now", text=why, next=step + 1)
        add_note(uow, case, action="unreached", by=BY, why=why, now=now)
    if flag:
        add_note(uow, case, action="flag", by=BY, why=term(flag), now=now)
