"""Refusals and dead numbers move the ladder: when nobody a step reached can help, go on.

A person a ladder step alerted is out of it once they declined the case ("2" by SMS or on
a call), or once Twilio could not reach them: it refused the number at send time, or its
status callback reported the message `undelivered`/`failed` or the call `no-answer`,
`busy` or `failed`. For someone who was called, the call decides (a delivered SMS to a
phone nobody answers at night is nobody awake); otherwise every message must have failed.
Once everyone the step reached is out, the next rung is made due now, and the sweep's next
beat runs it. Repeats of the last rung keep their pace: they would page the same people.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from alerts.sender import ALERT_KEY_PREFIX, OutboxWriter
from care_api.domain.cases import is_unowned
from care_api.domain.channels import PERSON_CHANNELS, Channel
from care_api.domain.model import SYSTEM, TimerPurpose
from care_api.domain.texts import Msg, term
from care_api.store.tables import Case, CaseEvent, Notification, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.ladders import CONSOLE, Audience, get_ladder
from care_api.usecases.cases.log import add_note
from care_api.usecases.dispatch.responders import describe_actor

log = logging.getLogger(__name__)

BY = str(SYSTEM)
OPERATORS = Audience.OPERATORS.value
DECLINED = "declined"  # the history action of responders.decline
# Final statuses of a row that reached nobody (answers.FINAL_STATUS's words), besides a
# "failed" row the sender gave up on.
DEAD_STATUSES = frozenset({"undelivered", "unanswered"})


def is_dead(row: Notification) -> bool:
    """True when the message or call can no longer reach its person."""
    if row.status in DEAD_STATUSES:
        return True
    # A failed row with a next attempt is still being retried; without one it gave up
    # (or Twilio reported it failed after accepting it).
    return row.status == "failed" and row.next_attempt_at is None


def unreachable(
    uow: SqlUnitOfWork, row: Notification, detail: str, now: datetime, *, tell_console: bool
) -> None:
    """A message or call of a case reached nobody: its history says so, and the ladder goes on.

    Args:
        uow: The transaction that recorded the failure on the row.
        row: The notification row, already marked failed / undelivered / unanswered.
        detail: What went wrong ("twilio no-answer", "Twilio refused it ...").
        now: When it was learnt.
        tell_console: Also write the console line (the sender writes its own on a give-up).
    """
    if row.case_id is None:
        return
    session = uow.session
    case = session.get(Case, row.case_id)
    if case is None:
        return
    who = describe_actor(session, row.recipient)
    what = Msg("call") if row.channel == Channel.voice else row.channel.upper()
    why = Msg(
        "{what} to {who} ({to}) did not reach them: {detail}",
        what=what,
        who=who,
        to=row.to,
        detail=detail,
    )
    add_note(uow, case, action="unreachable", by=BY, why=why, now=now)
    if tell_console:
        OutboxWriter(session, now).add(
            case_id=case.id,
            channel=CONSOLE,
            to=OPERATORS,
            recipient=OPERATORS,
            body=Msg(
                "{case}: could not reach {who} ({to}) by {channel}: {detail}",
                case=case.id,
                who=who,
                to=row.to,
                channel=term(row.channel),
                detail=detail,
            ),
        )
    if (row.idempotency_key or "").startswith(ALERT_KEY_PREFIX):
        hand_on_if_nobody_left(uow, case, now)


def hand_on_if_nobody_left(uow: SqlUnitOfWork, case: Case, now: datetime) -> int | None:
    """Make the next rung due now if everyone the current one reached is out; its step or None."""
    if not is_unowned(case.state):
        return None
    session = uow.session
    found = _latest_step(session, case)
    if found is None:
        return None
    step, people = found
    ladder = get_ladder(session, case.kind)
    if ladder.rung_of(step + 1)[1]:
        return None  # the last rung: its repeats keep their pace
    declined = _declined(session, case.id)
    if not all(who in declined or _reached_nobody(rows) for who, rows in people.items()):
        return None
    moved = cast(
        CursorResult[Any],
        session.execute(
            update(Timer)
            .where(
                col(Timer.case_id) == case.id,
                col(Timer.purpose) == TimerPurpose.LADDER,
                col(Timer.step) == step + 1,
                col(Timer.fired_at).is_(None),
                col(Timer.cancelled).is_(False),
                col(Timer.due_at) > now,
            )
            .values(due_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if moved.rowcount != 1:
        return None  # no such step waiting, or it is due already
    names = ", ".join(describe_actor(session, who) for who in people)
    why = Msg(
        "everyone alerted at step {step} declined or cannot be reached ({names}); step {next} now",
        step=step,
        names=names,
        next=step + 1,
    )
    add_note(uow, case, action="handed_on", by=BY, why=why, now=now)
    OutboxWriter(session, now).add(
        case_id=case.id,
        channel=CONSOLE,
        to=OPERATORS,
        recipient=OPERATORS,
        body=Msg("{case}: {why}", case=case.id, why=why),
        key=f"handed-on:{case.id}:{step}:{case.kind}",
    )
    log.info("case %s: nobody left at step %d, step %d now", case.id, step, step + 1)
    return step + 1


def _latest_step(session: Session, case: Case) -> tuple[int, dict[str, list[Notification]]] | None:
    """The last ladder step of the case's kind that alerted people, and its rows per person."""
    prefix = f"{ALERT_KEY_PREFIX}{case.id}:"
    rows = session.exec(
        select(Notification).where(
            col(Notification.case_id) == case.id,
            col(Notification.channel).in_(PERSON_CHANNELS),
            col(Notification.idempotency_key).startswith(prefix),
        )
    ).all()
    by_step: dict[int, dict[str, list[Notification]]] = {}
    for row in rows:
        # "ladder:<case>:<step>:<recipient>:<channel>:<kind>"; offers' "ring<n>" and the
        # closed loop's "loop<id>" are not ladder steps.
        step, _, rest = (row.idempotency_key or "")[len(prefix) :].partition(":")
        if step.isdigit() and rest.endswith(f":{case.kind}"):
            by_step.setdefault(int(step), {}).setdefault(row.recipient, []).append(row)
    if not by_step:
        return None
    latest = max(by_step)
    return latest, by_step[latest]


def _declined(session: Session, case_id: str) -> set[str]:
    return set(
        session.exec(
            select(CaseEvent.by).where(
                col(CaseEvent.case_id) == case_id, col(CaseEvent.action) == DECLINED
            )
        ).all()
    )


def _reached_nobody(rows: Sequence[Notification]) -> bool:
    calls = [r for r in rows if r.channel == Channel.voice]
    return all(is_dead(r) for r in (calls or rows))
