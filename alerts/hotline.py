"""The centre's number: calls in (menu, operators' Dial), texts in, missed calls chased.

The webhooks (alerts/webhooks.py) check signatures and replays and hand over here; every
function answers with TwiML, or None when the request repeats one already taken.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlmodel import Session
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from alerts.answers import Answers, alerted_cases, case_state_text
from alerts.escalation import OPERATORS
from alerts.sender import OutboxWriter
from alerts.timers import TimerContext
from care_api.domain.hotline import (
    DIAL_TIMEOUT_S,
    MENU_TIMEOUT_S,
    CallerKind,
    CallStatus,
    Choice,
    menu_choice,
)
from care_api.domain.model import ServiceLine
from care_api.domain.texts import N_, Msg
from care_api.i18n import CHINESE, t
from care_api.log_privacy import mask_phone
from care_api.services import Services
from care_api.store.tables import Elder, HotlineCall, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.ladders import CONSOLE
from care_api.usecases.hotline.calls import (
    Caller,
    attach,
    call_ended,
    chase_missed,
    dial_ended,
    mark_missed,
    open_or_join,
    operator_phones,
    recognise,
    seen,
    set_status,
    start_call,
    text_in,
    walk_in_elder,
)

log = logging.getLogger(__name__)

MENU_PATH = "/voice/menu"
DIALED_PATH = "/voice/dialed"
ANSWER_PATH = "/voice/answer"
GATHER_TIMEOUT_S = 10  # a caller hearing their case: as long as a call we place waits

LINE_NAMES = {
    ServiceLine.EMERGENCY: N_("emergency aid"),
    ServiceLine.LIFE_CARE: N_("life care"),
    ServiceLine.MEDICAL: N_("medical nursing"),
    ServiceLine.LEGAL: N_("legal help"),
    ServiceLine.CARE_HOME: N_("advice on care homes"),
}
MENU_TEXT = N_(
    "Hello {name}, this is your care centre. For emergency help press 1, or stay on the "
    "line. For life care press 2, medical nursing 3, legal help 4, advice on care homes 5. "
    "For an operator press 0."
)
STRANGER_TEXT = N_("Hello, this is the care centre's hotline.")
CONNECTING_TEXT = N_("Connecting you to an operator, please hold.")
EMERGENCY_TEXT = N_(
    "We have your emergency call; your family and helpers are being called now. "
    "Connecting you to an operator, please hold."
)
LINE_TEXT = N_("We have your request for {line}. Connecting you to an operator, please hold.")
BUSY_TEXT = N_(
    "Sorry, all our operators are busy. We have your number and will call you back within "
    "5 minutes. Goodbye."
)
NOBODY_TEXT = N_(
    "Sorry, no operator can take your call right now. We have your number and will call you "
    "back within 5 minutes. Goodbye."
)
SMS_TEXT = N_(
    "Your message reached the care centre (case {case}). An operator will call you back. "
    "In an emergency, press your terminal's button or call the centre."
)


@dataclass(frozen=True, slots=True)
class Urls:
    """Where Twilio posts the next step of a call: our public URL and the webhooks' prefix."""

    base: str  # e.g. https://vnh.example.org/webhooks/twilio

    @property
    def menu(self) -> str:
        """The elder's menu key (or its silence)."""
        return self.base + MENU_PATH

    @property
    def dialed(self) -> str:
        """What became of the operators' phones."""
        return self.base + DIALED_PATH


class Hotline:
    """Answers calls and texts to the centre's number."""

    def __init__(self, services: Services, answers: Answers) -> None:
        self._services = services
        self._answers = answers

    # -- speaking --------------------------------------------------------------------------

    def _voice(self, language: str) -> str | None:
        settings = self._services.settings
        return settings.twilio_voice_zh if language == CHINESE else settings.twilio_voice_en

    def _say(self, verb: VoiceResponse | Gather, text: str, language: str) -> None:
        verb.say(text, language=language, voice=self._voice(language))

    def _caller(self, session: Session, phone: str) -> Caller:
        settings = self._services.settings
        return recognise(
            session,
            phone,
            region=settings.phone_region,
            supervisor_phone=settings.supervisor_phone,
            centre_language=settings.language,
        )

    # -- calls in ----------------------------------------------------------------------------

    def call_in(self, sid: str, phone: str, urls: Urls) -> str | None:
        """The first answer to a call to the centre; None when `sid` was taken already."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            if seen(uow.session, sid) is not None:
                return None
            caller = self._caller(uow.session, phone)
            log.info("call in from %s: %s", mask_phone(caller.phone), caller.kind)
            if caller.kind is CallerKind.ELDER:
                call = start_call(uow, sid, caller, status=CallStatus.MENU, now=now)
                elder = uow.session.get(Elder, caller.elder_id)
                uow.commit()
                return self._menu(call, elder.name if elder else "", urls)
            if caller.kind is CallerKind.STRANGER:
                return self._stranger(uow, sid, caller, urls)
        return self._known(sid, phone, urls)

    def _menu(self, call: HotlineCall, name: str, urls: Urls) -> str:
        language = call.language or CHINESE
        response = VoiceResponse()
        # Silence is taken as an elder who cannot press: the action is called without Digits.
        gather = Gather(
            num_digits=1,
            action=urls.menu,
            method="POST",
            timeout=MENU_TIMEOUT_S,
            action_on_empty_result=True,
        )
        self._say(gather, t(language, MENU_TEXT, name=name), language)
        response.append(gather)
        response.redirect(urls.menu, method="POST")
        return str(response)

    def _stranger(self, uow: SqlUnitOfWork, sid: str, caller: Caller, urls: Urls) -> str:
        now = self._services.clock.now()
        call = start_call(uow, sid, caller, status=CallStatus.DIALING, now=now)
        elder_id = walk_in_elder(uow, caller, now=now)
        trigger = "phone call to the centre"
        case, _ = open_or_join(
            uow, elder_id, None, by=caller.by, trigger=trigger, now=now, tz=self._services.tz
        )
        attach(uow, call, case, elder_id=elder_id, now=now)
        response = VoiceResponse()
        language = caller.language
        self._say(response, t(language, STRANGER_TEXT), language)
        self._connect(uow, call, response, urls, first=CONNECTING_TEXT)
        uow.commit()
        return str(response)

    def _known(self, sid: str, phone: str, urls: Urls) -> str:
        """A contact, volunteer, merchant or supervisor: their case (1 takes it), then an operator.

        The case is the one they were alerted to, as a call we place would say it.
        """
        prompt = self._answers.call_prompt("", phone)
        now = self._services.clock.now()
        with self._services.uow() as uow:
            caller = self._caller(uow.session, phone)
            asks = prompt is not None and prompt.listen
            status = CallStatus.PROMPT if asks else CallStatus.DIALING
            call = start_call(uow, sid, caller, status=status, now=now)
            language = caller.language
            response = VoiceResponse()
            if prompt is not None:
                language = prompt.language or language
                call.case_id = prompt.case_id
                if prompt.listen:
                    gather = Gather(
                        num_digits=1,
                        action=_answer_url(urls, prompt.case_id, prompt.who),
                        method="POST",
                        timeout=GATHER_TIMEOUT_S,
                    )
                    self._say(gather, prompt.say, language)
                    response.append(gather)
                else:
                    self._say(response, prompt.say, language)
            else:
                told = alerted_cases(uow.session, list(caller.actors))
                if told:
                    call.case_id = told[0][0].id
                    self._say(response, case_state_text(uow.session, told[0][0].id), language)
            call.language = language
            if asks:
                # Only if no key comes: whether anyone is on duty is decided then.
                response.redirect(urls.dialed, method="POST")
            else:
                self._connect(uow, call, response, urls, first=CONNECTING_TEXT)
            uow.commit()
        return str(response)

    def menu(self, sid: str, digits: str, urls: Urls) -> str | None:
        """The elder's key (or none): open or join the case of that line, then the operators."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            call = seen(uow.session, sid, lock=True)
            if call is None or CallStatus(call.status) is not CallStatus.MENU:
                return None
            language = call.language or CHINESE
            choice = menu_choice(digits)
            set_status(uow, call, CallStatus.DIALING, now=now)
            first = CONNECTING_TEXT
            response = VoiceResponse()
            if isinstance(choice, ServiceLine) and call.elder_id is not None:
                trigger = (
                    Msg("phone call, key {key}", key=digits[:1])
                    if digits
                    else Msg("phone call, no key")
                )
                case, joined = open_or_join(
                    uow,
                    call.elder_id,
                    choice,
                    by=f"phone:{call.phone}",
                    trigger=trigger,
                    now=now,
                    tz=self._services.tz,
                )
                attach(uow, call, case, elder_id=call.elder_id, now=now)
                log.info("call %s: %s case %s", sid, "joined" if joined else "opened", case.id)
                if choice is ServiceLine.EMERGENCY:
                    self._say(response, t(language, EMERGENCY_TEXT), language)
                else:
                    line = t(language, LINE_NAMES[choice])
                    self._say(response, t(language, LINE_TEXT, line=line), language)
                first = ""
            elif choice is not Choice.OPERATOR:  # pragma: no cover - an elder has a record
                log.warning("menu of call %s without an elder", sid)
            self._connect(uow, call, response, urls, first=first, language=language)
            uow.commit()
        return str(response)

    def _connect(
        self,
        uow: SqlUnitOfWork,
        call: HotlineCall,
        response: VoiceResponse,
        urls: Urls,
        *,
        first: str = "",
        language: str | None = None,
    ) -> None:
        """Ring every operator on duty at once; with nobody on the rota, say so: a missed call."""
        language = language or call.language or CHINESE
        now = self._services.clock.now()
        phones = operator_phones(uow.session, now)
        call.operators_rung = len(phones)
        uow.session.add(call)
        if not phones:
            self._say(response, t(language, NOBODY_TEXT), language)
            response.hangup()
            why = Msg("no operator on duty")
            if mark_missed(uow, call, why=why, now=now, tz=self._services.tz):
                self._tell_console(uow, call)
            return
        if first:
            self._say(response, t(language, first), language)
        dial = Dial(action=urls.dialed, method="POST", timeout=DIAL_TIMEOUT_S)
        for phone in phones:
            dial.number(phone)
        response.append(dial)

    def dialed(self, sid: str, dial_status: str, urls: Urls) -> str | None:
        """What became of the operators' phones: answered, or a missed call to call back.

        Without a DialCallStatus it is a caller who heard their case and pressed nothing:
        they are put through to the operators now.
        """
        now = self._services.clock.now()
        with self._services.uow() as uow:
            call = seen(uow.session, sid, lock=True)
            if call is None or call.dial_status is not None:
                return None
            if CallStatus(call.status) is CallStatus.PROMPT and not dial_status:
                set_status(uow, call, CallStatus.DIALING, now=now)
                response = VoiceResponse()
                self._connect(uow, call, response, urls, first=CONNECTING_TEXT)
                uow.commit()
                return str(response)
            if CallStatus(call.status) is not CallStatus.DIALING or not dial_status:
                return None
            missed = dial_ended(uow, call, dial_status, now=now, tz=self._services.tz)
            response = VoiceResponse()
            if missed:
                self._tell_console(uow, call)
                language = call.language or CHINESE
                self._say(response, t(language, BUSY_TEXT), language)
            response.hangup()
            uow.commit()
        return str(response)

    def ended(self, sid: str, call_status: str) -> bool:
        """The caller's leg ended (status callback); True when that made a missed call."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            call = call_ended(uow, sid, call_status, now=now, tz=self._services.tz)
            if call is not None:
                self._tell_console(uow, call)
            uow.commit()
        return call is not None

    def _tell_console(self, uow: SqlUnitOfWork, call: HotlineCall) -> None:
        due = call.callback_due_at
        local = due.astimezone(self._services.tz).strftime("%H:%M") if due else "?"
        language = self._services.settings.language
        body = t(
            language,
            "Missed call from {phone} ({who}): call back by {due}.",
            phone=call.phone,
            who=_who(uow.session, call),
            due=local,
        )
        OutboxWriter(uow.session, self._services.clock.now()).add(
            case_id=call.case_id,
            channel=CONSOLE,
            to=OPERATORS,
            recipient=OPERATORS,
            body=body,
            key=f"missed-call:{call.id}",
        )

    # -- texts in ----------------------------------------------------------------------------

    def text_in(self, sid: str, phone: str, body: str) -> str | None:
        """An SMS from an elder or an unknown number: into a case; None for a responder's reply."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            caller = self._caller(uow.session, phone)
            if caller.kind not in (CallerKind.ELDER, CallerKind.STRANGER):
                return None
            call = start_call(uow, sid, caller, status=CallStatus.SMS, now=now, channel="sms")
            case, _ = text_in(uow, call, caller, body, now=now, tz=self._services.tz)
            uow.commit()
            log.info("sms from %s into case %s", mask_phone(caller.phone), case.id)
            return t(caller.language, SMS_TEXT, case=case.id)

    # -- the 5-minute chase ------------------------------------------------------------------

    def missed_call_due(self, ctx: TimerContext, timer: Timer) -> None:
        """The "missed_call" timer: a callback still not made when its 5 minutes are up."""
        call = chase_missed(ctx.uow, timer.step, now=ctx.now)
        if call is None:
            return
        language = self._services.settings.language
        missed = (
            call.missed_at.astimezone(self._services.tz).strftime("%H:%M")
            if call.missed_at
            else "?"
        )
        body = t(
            language,
            "OVERDUE: the missed call from {phone} ({who}) at {at} was not called back within "
            "5 minutes.",
            phone=call.phone,
            who=_who(ctx.uow.session, call),
            at=missed,
        )
        ctx.outbox.add(
            case_id=call.case_id,
            channel=CONSOLE,
            to=OPERATORS,
            recipient=OPERATORS,
            body=body,
            key=f"missed-call-overdue:{call.id}",
        )
        log.warning("missed call %s not called back within 5 minutes", call.id)


def _who(session: Session, call: HotlineCall) -> str:
    if call.elder_id is not None and call.caller == CallerKind.ELDER:
        elder = session.get(Elder, call.elder_id)
        if elder is not None:
            return elder.name
    return call.caller


def _answer_url(urls: Urls, case_id: str, who: str) -> str:
    return f"{urls.base}{ANSWER_PATH}?{urlencode({'case': case_id, 'who': who})}"
