"""Supervision notices (督办通知书): the "case_deadline" timer of a hand-filed matter."""

from __future__ import annotations

import logging
from datetime import datetime

from alerts.escalation import OPERATORS
from alerts.timers import TimerContext
from care_api.domain.texts import Msg, term
from care_api.services import Services
from care_api.store.tables import Timer
from care_api.usecases.cases.filings import supervise_if_overdue
from care_api.usecases.cases.ladders import CONSOLE

log = logging.getLogger(__name__)


def notice_text(case_id: str, matter: str, summary: str, due: datetime) -> str:
    """The console's supervision notice (`due` in the centre's time, said per reader)."""
    return Msg(
        "督办通知书 SUPERVISION NOTICE {case}: {matter} matter due {due} is overdue: {summary}",
        case=case_id,
        matter=term(matter),
        due=due,
        summary=summary,
    )


class Deadlines:
    """Issues the supervision notice when a matter is still open at its due time."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def due(self, ctx: TimerContext, timer: Timer) -> None:
        """The "case_deadline" handler: a notice row and a console line, once per due time."""
        notice = supervise_if_overdue(ctx.uow, timer.step, now=ctx.now)
        if notice is None:
            return
        due = notice.due_at.astimezone(self._services.tz)
        ctx.outbox.add(
            case_id=notice.case_id,
            channel=CONSOLE,
            to=OPERATORS,
            recipient=OPERATORS,
            body=notice_text(notice.case_id, notice.matter, notice.summary, due),
            key=f"supervision:{notice.case_id}:{notice.due_at.isoformat()}",
        )
        log.info("case %s overdue since %s: supervision notice issued", notice.case_id, due)
