"""The "checkin" timer: judge a window that just closed, call the elder if it was missed.

A missed window opens a `care` case (the care ladder tells the operators) and starts with a
voice call to the elder: the call speaks, it asks nothing (the elder presses their button,
the operator calls back). The next check of the window is scheduled in the same transaction.
"""

from __future__ import annotations

import logging

from alerts.ladder import spoken
from alerts.sender import ELDER_CALL_KEY_PREFIX
from alerts.timers import TimerContext
from care_api.domain.channels import Channel
from care_api.domain.model import TimerPurpose
from care_api.domain.texts import Msg
from care_api.i18n import language_of, render, t
from care_api.services import Services
from care_api.store.tables import Case, CheckinWindow, Elder, Timer
from care_api.usecases.schedules.checkins import judge_window, next_check

log = logging.getLogger(__name__)

ELDER_PREFIX = "elder:"


def checkin_call_text(elder_name: str, start: str, end: str) -> str:
    """What the call to an elder who missed a check-in says."""
    return Msg(
        "Hello {elder}, this is your care centre. We did not hear from you between "
        "{start} and {end}. If you are well, press your button once. If you need help, hold "
        "it down. An operator will call you back.",
        elder=elder_name,
        start=start,
        end=end,
    )


class Checkins:
    """Handler of the "checkin" timer rows."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def due(self, ctx: TimerContext, timer: Timer) -> None:
        """Judge the window that closed at `timer.due_at`, then schedule its next check."""
        session = ctx.uow.session
        window = session.get(CheckinWindow, timer.step)
        if window is None or not window.active or window.id is None:
            return
        tz = self._services.tz
        # After downtime only the window this timer was for is judged, not every day missed.
        ctx.schedule(
            purpose=TimerPurpose.CHECKIN, step=window.id, due_at=next_check(window, ctx.now, tz)
        )
        case = judge_window(ctx.uow, window, closes_at=timer.due_at, now=ctx.now, tz=tz)
        if case is None:
            return
        elder = session.get(Elder, window.elder_id)
        if elder is not None:
            said = checkin_call_text(elder.name, window.start, window.end)
            call_elder(ctx, case, elder, said, centre=self._services.settings.language)
        log.info(
            "elder %s missed check-in %s–%s: case %s",
            window.elder_id,
            window.start,
            window.end,
            case.id,
        )


def call_elder(ctx: TimerContext, case: Case, elder: Elder, say: str, *, centre: str) -> None:
    """Start a case's ladder with a voice call to the elder (it speaks, it asks nothing).

    `say` (a catalogue text) is said in the elder's language, else the centre's.
    """
    if not elder.phone:
        return
    lang = language_of(elder.language, default=language_of(centre))
    said = render(lang, say)
    ctx.outbox.add(
        case_id=case.id,
        channel=Channel.voice,
        to=elder.phone,
        recipient=f"{ELDER_PREFIX}{elder.id}",
        body=t(lang, "Voice call: {text}", text=said),
        say=spoken(said),
        key=f"{ELDER_CALL_KEY_PREFIX}{case.id}:{ELDER_PREFIX}{elder.id}",
        language=lang,
    )
