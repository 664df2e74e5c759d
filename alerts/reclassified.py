"""Telling the people alerted under a case's old kind that an operator reclassified it.

`reclassify` writes a "reclassified" timer row (step: the id of the history row that records
the change) in its own transaction, so a crash cannot lose the notices. Each person alerted
by phone so far hears once per change: the owner that the case is still theirs, everyone
else that they are no longer needed. Info-only contacts are never told.

While nobody owns the case the new kind's ladder starts at step 0 in the same moment. Its
notices then ride on that step, in its transaction, and leave out the people the step has
just alerted: the new alert tells them enough, and nobody gets two messages for one change.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from sqlmodel import Session, col, select

from alerts.closed_loop import owner_phone
from alerts.escalation import NoticeTo, case_facts, notice_addresses, tell_all
from alerts.ladder import (
    reclassified_console_text,
    reclassified_owner_text,
    reclassified_sms_text,
)
from alerts.timers import TimerBusy, TimerContext, TimerHandler, claim_timer
from care_api.domain.channels import Channel
from care_api.domain.model import TimerPurpose
from care_api.i18n import DEFAULT_LANGUAGE
from care_api.store.arrays import Pair, one_of
from care_api.store.tables import Case, CaseEvent, Contact, Elder, Notification, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import pending_timers
from care_api.usecases.cases.reclassify import kinds_of
from care_api.usecases.dispatch.responders import describe_actor

log = logging.getLogger(__name__)

# The key, in a batch's `TimerContext.shared`, of its cases with "reclassified" notices due.
NOTICES_DUE = "reclassified.due"


def _is_info_only(session: Session, who: str) -> bool:
    kind, _, ident = who.partition(":")
    if kind != "contact" or not ident.isdigit():
        return False
    contact = session.get(Contact, int(ident))
    return contact is not None and contact.notify_only


class ReclassifiedNotices:
    """The "reclassified" timer handler, and the hook that runs it with a new step 0."""

    def __init__(self, centre: str = DEFAULT_LANGUAGE) -> None:
        self._centre = centre  # the language of people who have none of their own

    def run(self, ctx: TimerContext, timer: Timer) -> None:
        """Tell the people alerted so far of one reclassification (its timer fired)."""
        if timer.case_id is None:
            return
        session = ctx.uow.session
        if pending_timers(session, timer.case_id, purposes=(TimerPurpose.LADDER,), step=0):
            # The new kind's step 0 is still to run: it tells them, knowing whom it alerts.
            raise TimerBusy(timer.case_id)
        case = session.get(Case, timer.case_id)
        if case is not None:
            self._tell(ctx, case, timer, alerted_now=())

    @staticmethod
    def read_due(uow: SqlUnitOfWork, timers: Sequence[Timer], shared: dict[str, object]) -> None:
        """The ladder timers' preparer: which of their cases have notices due, in one query."""
        ids = sorted({t.case_id for t in timers if t.step == 0 and t.case_id is not None})
        due = uow.session.exec(_NOTICES_DUE.on(uow.session), params={"ids": ids}).all()
        shared[NOTICES_DUE] = frozenset(due)

    def after_ladder(self, run_step: TimerHandler) -> TimerHandler:
        """The ladder handler; a step 0 after a reclassification then tells the others."""

        def handle(ctx: TimerContext, timer: Timer) -> None:
            run_step(ctx, timer)
            if timer.step != 0 or timer.case_id is None:
                return
            due = ctx.shared.get(NOTICES_DUE)
            if isinstance(due, frozenset) and timer.case_id not in due:
                return  # read for the whole batch: none due for this case
            session = ctx.uow.session
            notices = pending_timers(session, timer.case_id, purposes=(TimerPurpose.RECLASSIFIED,))
            if not notices:
                return  # nearly always: the case is not loaded again for nothing
            case = session.get(Case, timer.case_id)
            if case is None:
                return
            # The phone messages this step just wrote (ring 0 offers included).
            alerted_now = {
                row.recipient
                for row_id in ctx.outbox.to_send
                if (row := session.get(Notification, row_id)) is not None
            }
            for notice in notices:
                if notice.id is not None and claim_timer(ctx.uow, notice.id, ctx.now):
                    self._tell(ctx, case, notice, alerted_now=alerted_now)

        return handle

    def _tell(
        self, ctx: TimerContext, case: Case, timer: Timer, *, alerted_now: Collection[str]
    ) -> None:
        session = ctx.uow.session
        record = session.get(CaseEvent, timer.step)
        kinds = kinds_of(record) if record is not None and record.case_id == case.id else None
        if kinds is None:
            log.warning("reclassified timer %s: no reclassification %s", timer.id, timer.step)
            return
        old, new = kinds
        people = {
            who: where
            for who, where in notice_addresses(session, case.id).items()
            if who not in alerted_now and not _is_info_only(session, who)
        }
        if case.owner and case.owner not in people and case.owner not in alerted_now:
            # The owner may have taken it without being alerted (an SMS reply, the API).
            phone = owner_phone(session, case.id, case.owner)
            if phone:
                people[case.owner] = NoticeTo(Channel.sms.value, phone)
        if not people:
            return
        facts = case_facts(case, session.get(Elder, case.elder_id))
        owner = describe_actor(session, case.owner) if case.owner else None
        tell_all(
            ctx.outbox,
            case,
            f"reclassified.{timer.step}",
            console=reclassified_console_text(case.id, old, new, len(people)),
            sms=reclassified_sms_text(facts, old, new, owner),
            people=people,
            owner_sms=reclassified_owner_text(facts, old, new),
            centre=self._centre,
        )
        log.info("case %s: %d person(s) told of %s → %s", case.id, len(people), old, new)


# Which of these cases have a reclassification's notices still to fire: built once, asked
# by every batch of ladder steps.
_NOTICES_DUE = Pair(
    lambda pg: select(Timer.case_id).where(
        one_of(col(Timer.case_id), "ids", postgres=pg),
        col(Timer.purpose) == TimerPurpose.RECLASSIFIED,
        col(Timer.fired_at).is_(None),
        col(Timer.cancelled).is_(False),
    )
)
