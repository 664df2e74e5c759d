"""The "quiet" timer: an elder's no-activity watch looks, prompts the terminal, opens a case.

See care_api/usecases/schedules/quiet_watch.py. A case after an unanswered prompt
starts, like a missed check-in, with a voice call to the elder; the care ladder tells the operators.
"""

from __future__ import annotations

import logging

from alerts.checkins import call_elder
from alerts.timers import TimerContext
from care_api.domain.model import TimerPurpose
from care_api.domain.texts import Msg
from care_api.services import Services
from care_api.store.tables import Elder, QuietWatch, Timer
from care_api.usecases.schedules.quiet_watch import run_watch

log = logging.getLogger(__name__)


def quiet_call_text(elder_name: str) -> str:
    """What the call to an elder who did not answer the terminal's prompt says."""
    return Msg(
        "Hello {elder}, this is your care centre. We have not heard from you for a long "
        "time. If you are well, press your button once. An operator will call you back.",
        elder=elder_name,
    )


class QuietWatches:
    """Handler of the "quiet" timer rows."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def due(self, ctx: TimerContext, timer: Timer) -> None:
        """Look at the elder's watch and schedule its next look."""
        watch = ctx.uow.session.get(QuietWatch, timer.step)
        if watch is None or not watch.active:
            return
        decision, case = run_watch(ctx.uow, watch, now=ctx.now, tz=self._services.tz)
        ctx.schedule(purpose=TimerPurpose.QUIET, step=watch.elder_id, due_at=decision.next_at)
        log.info("quiet watch of elder %s: %s", watch.elder_id, decision.action)
        if case is not None:
            elder = ctx.uow.session.get(Elder, watch.elder_id)
            if elder is not None:
                centre = self._services.settings.language
                call_elder(ctx, case, elder, quiet_call_text(elder.name), centre=centre)
