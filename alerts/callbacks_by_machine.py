"""Callbacks by machine (回访): the attempts' timer, and the survey asked by keys on the call.

Resolving a case leaves a timer (step 0). Step 0 picks whom to call and schedules attempt 1
`auto_callback_delay_s` later; attempt n marks the row "dial" (CallDesk places the call) and
schedules attempt n+1 `auto_callback_retry_s` later, every time moved into the centre's
working hours. An attempt finding the callback done does nothing; one finding three attempts
made without an answer puts the case on the operators' callback list with a due time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from alerts.timers import TimerContext
from care_api.domain.model import TimerPurpose
from care_api.domain.phones import e164_or_none
from care_api.domain.survey import (
    MAX_ASKS,
    MAX_ATTEMPTS,
    OK,
    PRICE_OK,
    SATISFACTION,
    TIME_OK,
    callback_slot,
    next_question,
    questions,
    read_key,
)
from care_api.domain.texts import N_, Msg, term
from care_api.domain.workdays import WorkCalendar
from care_api.i18n import t
from care_api.services import Services
from care_api.store.call_tables import AutoCallback
from care_api.store.tables import Case, Notification, ServiceOrder, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.auto_callbacks import (
    ASKING,
    CALLING,
    DIAL,
    DONE,
    FINISHED,
    TEXTING,
    WAITING,
    awaits_machine,
    callback_of,
    fall_back,
    finish,
    merchant_served,
    note,
    start_auto_callback,
)
from care_api.usecases.dispatch.merchants import SERVED
from care_api.usecases.schedules.workdays import load_calendar

log = logging.getLogger(__name__)

ON_THE_LINE_RETRY_S = 600  # an attempt due while the last call is still asking waits this long
PROMPTS = {
    OK: N_("Is everything all right now? Press 1 for yes, or 2 if you still need help."),
    SATISFACTION: N_(
        "How satisfied are you with the help? Press a key from 1, very unhappy, "
        "to 5, very satisfied."
    ),
    TIME_OK: N_("Did the help come on time? Press 1 for yes, 2 for no."),
    PRICE_OK: N_("Was the price fair? Press 1 for yes, 2 for no."),
}


@dataclass(frozen=True, slots=True)
class Turn:
    """What the survey says next on the call: `ask` a question key, or hang up (None)."""

    say: str
    language: str
    ask: str | None = None


# The survey waiting for this phone's SMS answer, newest first, with all a reply needs in
# the same read (one statement, not four on each reply): its case; whether the phone was
# alerted about another case since the survey's last SMS (its "1" then takes that case: an
# emergency's answer never goes to a survey); and the merchant who served the case, if any
# (`merchant_who_served`: the price is asked only then).
_NEWER_ALERT = (
    select(Notification.id)
    .where(
        col(Notification.to) == col(AutoCallback.phone),
        col(Notification.case_id) != col(AutoCallback.case_id),
        col(Notification.created_at) >= col(AutoCallback.updated_at),
    )
    .exists()
)
_SERVED_BY = (
    select(ServiceOrder.merchant_id)
    .where(
        col(ServiceOrder.case_id) == col(AutoCallback.case_id),
        col(ServiceOrder.status).in_(SERVED),
    )
    .order_by(col(ServiceOrder.id).desc())
    .limit(1)
    .scalar_subquery()
)
_TEXTING_TO = (
    select(AutoCallback, Case, _NEWER_ALERT, _SERVED_BY)
    .outerjoin(Case, col(Case.id) == col(AutoCallback.case_id))
    .where(col(AutoCallback.phone) == bindparam("phone"), col(AutoCallback.state) == TEXTING)
    .order_by(col(AutoCallback.updated_at).desc())
)


class AutoCallbacks:
    """The machine's callback: its attempts on the timer, and its answers from the call."""

    def __init__(self, services: Services, *, voice: bool) -> None:
        self._services = services
        self._voice = voice  # Twilio can call and reach our webhooks; else SMS to the outbox

    # -- attempts ------------------------------------------------------------------------------

    def _slots(self, session: Session) -> Callable[[datetime], datetime]:
        """The first calling slot at or after a moment; the calendar is read once, if asked."""
        s = self._services.settings
        start, end = s.day_shift_start_hour, s.night_shift_start_hour
        if end <= start:
            end = 24  # a day shift running past midnight: call until the day ends
        calendar: list[WorkCalendar] = []

        def slot(at: datetime) -> datetime:
            if not calendar:  # one step is one moment: its two slots need one read
                calendar.append(load_calendar(session))
            return callback_slot(
                at, tz=self._services.tz, calendar=calendar[0], start_hour=start, end_hour=end
            )

        return slot

    def run(self, ctx: TimerContext, timer: Timer) -> None:
        """One step of a case's machine callback (see the module's docstring)."""
        settings = self._services.settings
        session = ctx.uow.session
        case = session.get(Case, timer.case_id) if timer.case_id else None
        if not settings.auto_callbacks_on or case is None or not awaits_machine(case):
            return
        row = callback_of(session, case.id)
        slot_at = self._slots(session)
        if timer.step == 0:
            if row is None:
                row = start_auto_callback(
                    session, case, default_language=settings.language, now=ctx.now
                )
            if row is not None and row.state not in FINISHED:
                first = ctx.now + timedelta(seconds=settings.auto_callback_delay_s)
                self._next(ctx, case.id, 1, slot_at(first))
            return
        if row is None or row.state in FINISHED:
            return
        if row.state == ASKING:  # someone is answering right now
            self._next(ctx, case.id, timer.step, ctx.now + timedelta(seconds=ON_THE_LINE_RETRY_S))
            return
        if row.attempts >= MAX_ATTEMPTS:
            why = Msg("not reached in {n} calls by machine", n=MAX_ATTEMPTS)
            due = slot_at(ctx.now)
            fall_back(ctx.uow, row, reason=why, due_at=due, now=ctx.now, tz=self._services.tz)
            return
        slot = slot_at(ctx.now)
        if slot > ctx.now:  # out of working hours: wait for them
            self._next(ctx, case.id, timer.step, slot)
            return
        self._attempt(ctx, row, case)
        later = ctx.now + timedelta(seconds=settings.auto_callback_retry_s)
        self._next(ctx, case.id, timer.step + 1, slot_at(later))

    def _next(self, ctx: TimerContext, case_id: str, step: int, due_at: datetime) -> None:
        ctx.schedule(purpose=TimerPurpose.AUTO_CALLBACK, case_id=case_id, step=step, due_at=due_at)

    def _attempt(self, ctx: TimerContext, row: AutoCallback, case: Case) -> None:
        attempt = row.attempts + 1
        if self._voice:
            state, question, asked = DIAL, "", 0  # CallDesk.dial_due places it after this commits
            how = "voice call"
        else:
            # The survey by SMS: the callee's next SMS reply answers the first question. Read
            # and written before the row changes, so neither flushes it on its own.
            order = questions(merchant_served(ctx.uow.session, case.id))
            state, question, asked = TEXTING, order[0], 1
            greeting = t(
                row.language, "Hello, this is the care centre asking about your recent help."
            )
            reply = t(row.language, "Please answer by SMS with the number.")
            body = f"{greeting} {reply} {t(row.language, PROMPTS[order[0]])}"
            ctx.outbox.add(
                case_id=case.id,
                channel="sms",
                to=row.phone,
                recipient=row.whom,
                body=body,
                key=f"callback {case.id} {attempt}",
                language=row.language,
            )
            how = "sms"
        row.attempts = attempt
        row.state, row.question, row.asked, row.call_sid = state, question, asked, None
        row.updated_at = ctx.now
        ctx.uow.session.add(row)
        why = Msg("callback by machine: attempt {n} ({channel})", n=row.attempts, channel=term(how))
        note(ctx.uow, row, why, ctx.now)

    # -- the survey on the call ----------------------------------------------------------------

    def _own(self, session: Session, row_id: int, call_sid: str) -> AutoCallback | None:
        row = session.get(AutoCallback, row_id)
        if row is None or not call_sid or row.call_sid != call_sid:
            return None
        return row

    def survey(self, row_id: int, call_sid: str, question: str, digits: str | None) -> Turn | None:
        """The next turn of the call; None when the call or the question is not the one asked.

        `question` empty: the callee just answered the phone. Otherwise `digits` answer it
        (None or a wrong key: asked again, MAX_ASKS times in all).
        """
        now = self._services.clock.now()
        red_card = timedelta(days=self._services.settings.merchant_red_card_days)
        with self._services.uow() as uow:
            row = self._own(uow.session, row_id, call_sid)
            if row is None or row.state not in (CALLING, ASKING) or row.question != question:
                return None
            lang = row.language
            order = questions(merchant_served(uow.session, row.case_id))
            case = uow.session.get(Case, row.case_id)
            if case is None or not awaits_machine(case):
                # An operator made the callback by hand meanwhile: nothing left to ask.
                row.state = DONE
                turn = Turn(t(lang, "This call has ended. Goodbye."), lang)
            elif not question:
                row.state, row.question, row.asked = ASKING, order[0], 1
                greeting = t(lang, "Hello, this is the care centre calling about your recent help.")
                turn = Turn(f"{greeting} {t(lang, PROMPTS[order[0]])}", lang, order[0])
            else:
                turn = self._answer(uow, row, order, digits, now=now, red_card=red_card)
            row.updated_at = now
            uow.session.add(row)
            uow.commit()
            return turn

    def _answer(
        self,
        uow: SqlUnitOfWork,
        row: AutoCallback,
        order: tuple[str, ...],
        digits: str | None,
        *,
        now: datetime,
        red_card: timedelta,
    ) -> Turn:
        lang, question = row.language, row.question
        value = read_key(question, digits or "")
        if value is None:
            if row.asked >= MAX_ASKS:
                row.state = WAITING  # unanswered: the next attempt is due already
                return Turn(t(lang, "We will call you again later. Goodbye."), lang)
            row.asked += 1
            sorry = t(lang, "Sorry, that key is not one of the answers.")
            return Turn(f"{sorry} {t(lang, PROMPTS[question])}", lang, question)
        row.answers = {**row.answers, question: value}
        if question == OK and value is False:
            why = Msg("the callee still needs help")
            fall_back(uow, row, reason=why, due_at=now, now=now, tz=self._services.tz)
            return Turn(t(lang, "An operator will call you back soon. Goodbye."), lang)
        following = next_question(question, order)
        if following is not None:
            row.question, row.asked = following, 1
            return Turn(t(lang, PROMPTS[following]), lang, following)
        row.question = ""
        finish(uow, row, now=now, red_card=red_card)
        return Turn(t(lang, "Thank you for your answers. Goodbye."), lang)

    def sms_reply(self, phone: str, body: str) -> str | None:
        """An SMS from a phone whose survey waits for an SMS answer: the next question or thanks.

        None when no survey by SMS waits for this phone (the reply is someone else's business).
        """
        settings = self._services.settings
        e164 = e164_or_none(phone, settings.phone_region)
        if e164 is None:
            return None
        now = self._services.clock.now()
        red_card = timedelta(days=settings.merchant_red_card_days)
        with self._services.uow() as uow:
            found = uow.session.execute(_TEXTING_TO, {"phone": e164}).first()
            if found is None:
                return None
            row, case, alerted_since, served_by = found
            if alerted_since:
                return None
            if case is None or not awaits_machine(case):
                row.state = DONE  # an operator called back by hand meanwhile
                text = t(row.language, "Thank you. The centre has your answers already.")
            else:
                order = questions(served_by is not None)
                turn = self._answer(uow, row, order, body.strip()[:8], now=now, red_card=red_card)
                text = turn.say
                if turn.ask is not None:
                    row.state = TEXTING  # the next reply answers the next question
                elif row.state == WAITING:
                    why = Msg("callback attempt {n} unanswered by SMS", n=row.attempts)
                    note(uow, row, why, now)
            row.updated_at = now
            uow.session.add(row)
            uow.commit()
            return text

    def call_ended(self, row_id: int, call_sid: str, status: str) -> bool:
        """Twilio's final report on a callback call; unfinished, the attempt was unreached."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            row = self._own(uow.session, row_id, call_sid)
            if row is None:
                return False
            if row.state in (CALLING, ASKING):
                row.state = WAITING
                row.updated_at = now
                uow.session.add(row)
                why = Msg(
                    "callback attempt {n} unreached ({status})", n=row.attempts, status=term(status)
                )
                note(uow, row, why, now)
                uow.commit()
            return True
