"""People answering alerts (SMS replies, key presses on calls) and Twilio's delivery reports.

Every acceptance goes through care_api's `acknowledge`, so first-receiver ownership holds
whichever way the answer came; these functions only find the case and word the reply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from alerts.checkins import ELDER_PREFIX
from alerts.escalation import case_facts
from alerts.hand_on import hand_on_if_nobody_left, unreachable
from alerts.ladder import CaseFacts, asks_for_answer, kind_label
from alerts.merchant_dispatch import MerchantDispatch
from alerts.replies import Answer, Reply, matches_case, parse_reply, short_code
from alerts.sender import ALERT_KEY_PREFIX, MAX_DETAIL_CHARS, SKIPPED, fall_back
from care_api.domain.cases import ACTIVE, is_unowned
from care_api.domain.channels import PERSON_CHANNELS, Channel
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.model import CaseKind, CaseState
from care_api.domain.texts import Msg, state_word, term
from care_api.i18n import language_of, render, t
from care_api.log_privacy import mask_phone
from care_api.services import Services
from care_api.store.tables import Case, Elder, Notification, WebhookReceipt
from care_api.throttle import Gate
from care_api.usecases.cases.actions import arrive, get_case
from care_api.usecases.dispatch.merchants import MERCHANT
from care_api.usecases.dispatch.responders import (
    decline,
    describe_actor,
    identify_phone,
    identify_phone_speaking,
    take_case,
)
from care_api.usecases.people.addresses import bind_wechat, identify_openid, looks_like_bind_code
from care_api.usecases.people.languages import language_of_person

log = logging.getLogger(__name__)

HELP_TEXT = Msg("Reply 1 to take the case, 2 if you cannot (add its number if you have several).")
NO_ANSWER_TEXT = Msg("We did not hear an answer. We will ask someone else.")
ARRIVE_HELP_TEXT = Msg("You have several cases: reply 3 and the case number once you are there.")
UNKNOWN_SENDER_TEXT = Msg("This number is not on the centre's alert list. Please call the centre.")
WECHAT_BOUND_TEXT = Msg(
    "Your WeChat now gets the centre's alerts. Reply 1 to an alert to take the case, "
    "2 if you cannot."
)
WECHAT_UNKNOWN_TEXT = Msg(
    "This WeChat is not linked to the centre's alerts. Send the 8-digit code the centre gave you."
)
# Twilio's final statuses, as the notification row shows them; others only go to `detail`.
FINAL_STATUS = {
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
    "completed": "answered",
    "busy": "unanswered",
    "no-answer": "unanswered",
}
SETTLED = frozenset({"delivered", "answered"})
UNREACHED = frozenset({"undelivered", "failed", "unanswered"})  # nobody got it
MERCHANT_PREFIX = f"{MERCHANT}:"


@dataclass(frozen=True, slots=True)
class CallPrompt:
    """What a voice call is about: the case, who is called, and what to say."""

    case_id: str
    who: str
    say: str
    listen: bool = True  # False: only say it (no "press 1", e.g. a call to the elder)
    no_answer: str = NO_ANSWER_TEXT  # said when no key comes (a catalogue text)
    language: str | None = None  # of the callee: what is said, and the voice saying it


def alerted_cases(session: Session, actors: Sequence[str]) -> list[tuple[Case, str]]:
    """Active cases whose ladder alerted one of `actors`, newest first, with the actor alerted."""
    rows = session.exec(_ALERTED, params={"actors": list(actors)}).all()
    who_of: dict[str, str] = {}
    for case_id, who in rows:
        if case_id is not None:
            who_of.setdefault(case_id, who)
    if not who_of:
        return []
    cases = session.exec(_ACTIVE_CASES, params={"ids": list(who_of)}).all()
    return [(case, who_of[case.id]) for case in cases]


# Built once, as those of `asked_cases`: each SMS answer asks them. `actors` and case ids
# are bound per call.
_ALERTED = (
    select(Notification.case_id, Notification.recipient)
    .where(
        col(Notification.recipient).in_(bindparam("actors", expanding=True)),
        col(Notification.channel).in_(PERSON_CHANNELS),
        col(Notification.idempotency_key).startswith(ALERT_KEY_PREFIX),
    )
    .order_by(col(Notification.id))
)
_ACTIVE_CASES = (
    select(Case)
    .where(
        col(Case.id).in_(bindparam("ids", expanding=True)),
        col(Case.state).in_([s.value for s in ACTIVE]),
    )
    .order_by(col(Case.opened_at).desc(), col(Case.id).desc())
)


# A message in one of these states never reached its person, so it asked them nothing.
NEVER_ASKED = frozenset({SKIPPED, "failed", "undelivered", "unanswered"})
# The closed loop's re-alert of an accepted case informs; it asks nobody to take it.
_LOOP_STEP_PREFIX = "loop"


@dataclass(frozen=True, slots=True)
class Ask:
    """A case whose alert asked a person for an answer: the case, who, and how recently."""

    case: Case
    who: str
    row_id: int  # the newest asking message's row: a larger id is a later ask


def is_asking_key(key: str | None) -> bool:
    """True when a ladder message with this idempotency key asked its reader to take the case.

    Keys are "ladder:<case>:<step>:<who>:<channel>[:<kind>]"; a device case's alert only
    informs, and so does the closed loop's re-alert ("ladder:<case>:loop<n>:…").
    """
    if not key or not key.startswith(ALERT_KEY_PREFIX):
        return False
    parts = key.split(":")
    if len(parts) > 2 and parts[2].startswith(_LOOP_STEP_PREFIX):
        return False
    return not key.endswith(f":{CaseKind.DEVICE.value}")


def asked_cases(session: Session, actors: Sequence[str]) -> list[Ask]:
    """Cases (any state) whose alert asked one of `actors` for an answer, latest ask first."""
    rows = session.exec(_ASKED, params={"actors": list(actors)}).all()
    latest: dict[str, tuple[int, str]] = {}
    for row_id, case_id, who, key in rows:
        if is_asking_key(key) and case_id is not None and row_id is not None:
            latest[case_id] = (row_id, who)  # rows come oldest first: the last one wins
    if not latest:
        return []
    cases = session.exec(_CASES_IN, params={"ids": list(latest)}).all()
    asks = [
        Ask(case, latest[case.id][1], latest[case.id][0])
        for case in cases
        if asks_for_answer(case.kind)  # reclassified to a device case since
    ]
    return sorted(asks, key=lambda a: a.row_id, reverse=True)


_ASKED = (
    select(
        Notification.id,
        Notification.case_id,
        Notification.recipient,
        Notification.idempotency_key,
    )
    .where(
        col(Notification.recipient).in_(bindparam("actors", expanding=True)),
        col(Notification.channel).in_(PERSON_CHANNELS),
        col(Notification.idempotency_key).startswith(ALERT_KEY_PREFIX),
        col(Notification.status).not_in(list(NEVER_ASKED)),
    )
    .order_by(col(Notification.id))
)
_CASES_IN = select(Case).where(col(Case.id).in_(bindparam("ids", expanding=True)))


def case_state_text(session: Session, case_id: str) -> str:
    """Where a case stands, as a person alerted to it is told (who took it, or its state)."""
    return Answers._not_yours(session, case_id)


def gather_text(facts: CaseFacts, language: str | None = None) -> str:
    """What a call says before it waits for a key, in the callee's language."""
    return t(
        language,
        "{what}. {elder} at {address} needs help. Press 1 to take the case, or 2 if you cannot.",
        what=kind_label(facts.kind, language),
        elder=facts.elder_name,
        address=facts.address,
    )


def on_site_prompt_text(facts: CaseFacts) -> str:
    """What a call to the owner of a case not yet confirmed on site says before it waits for 3."""
    return Msg(
        "{summary}. You took the case of {elder} at {address} and have "
        "not confirmed you are there yet. Press 3 when you are with {elder}.",
        summary=facts.summary,
        elder=facts.elder_name,
        address=facts.address,
    )


def on_site_no_answer_text(facts: CaseFacts) -> str:
    """What the owner hears when they press nothing: how to confirm later."""
    return Msg(
        "We did not hear 3. Once you are with {elder}, reply 3 by text message or call the centre.",
        elder=facts.elder_name,
    )


def owner_prompt(case: Case, facts: CaseFacts) -> CallPrompt:
    """The prompt of a call to the person who owns `case`: "press 3" while they are awaited."""
    owner = str(case.owner)
    state = case.state
    if state is CaseState.ACCEPTED:
        no_answer = on_site_no_answer_text(facts)
        return CallPrompt(case.id, owner, on_site_prompt_text(facts), no_answer=no_answer)
    if state is CaseState.ON_SITE:
        say = Msg(
            "You are with {elder} for case {case}. Resolve it when done. Thank you.",
            elder=facts.elder_name,
            case=case.id,
        )
    else:
        say = Msg(
            "Case {case} is {state}. Nothing is needed from you. Thank you.",
            case=case.id,
            state=state_word(state),
        )
    return CallPrompt(case.id, owner, say, listen=False)


class Answers:
    """Turns answers into acknowledgements and words the reply each person gets."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._merchants = MerchantDispatch(services)

    def sms(self, phone: str, text: str) -> str:
        """Handle one SMS reply; returns the text to answer it with."""
        with self._services.uow() as uow:
            supervisor = self._services.settings.supervisor_phone
            region = self._services.settings.phone_region
            who = identify_phone_speaking(
                uow.session, phone, supervisor_phone=supervisor, region=region
            )
        if not who.actors:
            log.warning("sms reply from a number nobody has: %s", mask_phone(phone))
            return render(self._services.settings.language, UNKNOWN_SENDER_TEXT)
        if who.known:  # their language came with them: no second read
            centre = language_of(self._services.settings.language)
            language = language_of(who.language, default=centre)
            return render(
                language, self._answer_text(who.actors, parse_reply(text), via=Channel.sms)
            )
        return self.reply(who.actors, text, via=Channel.sms)

    def wechat(self, openid: str, text: str) -> str:
        """A message to the official account: a bind code binds it, else a reply as by SMS."""
        now = self._services.clock.now()
        centre = self._services.settings.language
        # Guessing codes: each account gets a few tries, then waits longer each time.
        guesses, source = self._services.auth[Gate.WEBHOOK], f"wechat-bind:{openid}"
        if looks_like_bind_code(text) and guesses.retry_after(source, now) is not None:
            log.warning("wechat bind code guessing held back")
            return render(centre, WECHAT_UNKNOWN_TEXT)
        with self._services.uow() as uow:
            bound = bind_wechat(uow.session, openid, text, now=now)
            if bound is None and looks_like_bind_code(text):
                guesses.failed(source, now)
            if bound is not None:
                uow.commit()
                log.info("wechat bound to %s", bound)
                language = language_of_person(uow.session, bound, centre=centre)
                return render(language, WECHAT_BOUND_TEXT)
            actors = identify_openid(uow.session, openid)
        if not actors:
            log.warning("wechat message from an account nobody bound")
            return render(centre, WECHAT_UNKNOWN_TEXT)
        return self.reply(actors, text, via=Channel.wechat)

    def reply(self, actors: Sequence[str], text: str, *, via: str) -> str:
        """One text answer (SMS, WeChat) from the person behind `actors`, in their language."""
        with self._services.uow() as uow:
            centre = self._services.settings.language
            language = language_of_person(uow.session, actors[0], centre=centre)
        return render(language, self._answer_text(actors, parse_reply(text), via=via))

    def _answer_text(self, actors: Sequence[str], reply: Reply | None, *, via: str) -> str:
        """The answer to a text reply from `actors`, as a text to render in their language."""
        if reply is None:
            return Msg("Sorry, we did not understand. {help}", help=HELP_TEXT)
        merchants = [int(a.partition(":")[2]) for a in actors if a.startswith(MERCHANT_PREFIX)]
        if merchants and reply.answer is not Answer.ARRIVE:
            # A merchant's "1" confirms contact on an order waiting for it, if one is.
            answer = self._merchants.sms_reply(merchants, reply)
            if answer is not None:
                return answer
        with self._services.uow() as uow:
            if reply.answer is Answer.ARRIVE:
                found = self._arrival_case(uow.session, actors, reply.code)
            else:
                found = self._asked_case(uow.session, actors, reply.code)
        if isinstance(found, str):
            return found
        case_id, who = found
        if reply.answer is Answer.ARRIVE:
            return self.arrive(case_id, who)
        # A fresh transaction: acknowledge must see the case as it is when locked, not as read.
        if reply.answer is Answer.ACCEPT:
            return self.take(case_id, who, via=via)
        return self.refuse(case_id, who, via=via)

    def _arrival_case(
        self, session: Session, actors: Sequence[str], code: str | None
    ) -> tuple[str, str] | str:
        """The case a "3" is about: the one the sender owns (named by `code` if several)."""
        candidates = alerted_cases(session, actors)
        if code is not None:
            candidates = [c for c in candidates if matches_case(code, c[0].id)]
            if not candidates:
                return Msg("No open case {code} was sent to you. {help}", code=code, help=HELP_TEXT)
        if not candidates:
            return Msg("You have no open case to answer. Thank you.")
        mine = [(c.id, str(c.owner)) for c, _ in candidates if c.owner in actors]
        if len(mine) != 1:
            return ARRIVE_HELP_TEXT if mine else Msg("You have no case taken to confirm.")
        return mine[0]

    def _asked_case(
        self, session: Session, actors: Sequence[str], code: str | None
    ) -> tuple[str, str] | str:
        """The case a "1" or "2" answers, or the reply that says why none is.

        A bare answer is about the last message that asked this person to take a case: when
        that case is still waiting it is the one (unless others asked them and wait too: then
        they choose); when it is not, they are told who took it and nothing else changes. A
        late "1" must never take another, older case that happens to be unowned.
        """
        asks = asked_cases(session, actors)
        if code is not None:
            named = [a for a in asks if matches_case(code, a.case.id)]
            named = [a for a in named if CaseState(a.case.state) in ACTIVE]
            if not named:
                return Msg("No open case {code} was sent to you. {help}", code=code, help=HELP_TEXT)
            return named[0].case.id, named[0].who
        if not asks:
            return Msg("You have no open case to answer. Thank you.")
        waiting = [a for a in asks if is_unowned(CaseState(a.case.state))]
        latest = asks[0]
        if not waiting or waiting[0] is not latest:
            text = self._not_yours(session, latest.case.id)
            if waiting:
                choices = ", ".join(self._choice(session, a.case) for a in waiting)
                text = Msg(
                    "{text} Nothing else was changed. Still waiting for an answer: {choices}; "
                    "reply 1 and the number to take one.",
                    text=text,
                    choices=choices,
                )
            return text
        if len(waiting) == 1:
            return latest.case.id, latest.who
        choices = ", ".join(self._choice(session, a.case) for a in waiting)
        return Msg(
            "You have {n} cases waiting for an answer. Reply 1 and the number: {choices}.",
            n=len(waiting),
            choices=choices,
        )

    def _choice(self, session: Session, case: Case) -> Msg:
        """A case as a choice reads: "0056 emergency 03:12 (Zhang Xiuying)", centre time."""
        opened = case.opened_at.astimezone(self._services.tz).strftime("%H:%M")
        return Msg(
            "{code} {kind} {opened} ({elder})",
            code=short_code(case.id),
            kind=term(case.kind),
            opened=opened,
            elder=self._elder_name(session, case),
        )

    def take(self, case_id: str, who: str, *, via: str) -> str:
        """`who` takes the case if nobody has; the reply says which it was."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            try:
                # A volunteer's acceptance goes through their task, so the others are withdrawn.
                case = take_case(uow, case_id, by=who, now=now, via=via)
                uow.commit()
            except NotFound:
                return Msg("Case {case} does not exist.", case=case_id)
            except Conflict:
                uow.rollback()
                return self._not_yours(uow.session, case_id)
            facts = case_facts(case, uow.session.get(Elder, case.elder_id))
        log.info("case %s taken by %s via %s", case_id, who, via)
        fields = {"case": case_id, "elder": facts.elder_name, "address": facts.address}
        if facts.elder_phone:
            return Msg(
                "You have case {case}: {elder}, {address}, phone {phone}. "
                "Please go now; the centre is informed. Reply 3 when you are with them.",
                phone=facts.elder_phone,
                **fields,
            )
        return Msg(
            "You have case {case}: {elder}, {address}. "
            "Please go now; the centre is informed. Reply 3 when you are with them.",
            **fields,
        )

    def arrive(self, case_id: str, who: str) -> str:
        """The owner of the case says they are with the elder; the closed loop stops chasing.

        Only the owner may say so (first-receiver ownership): anyone else is told who owns
        the case, and nothing changes.
        """
        with self._services.uow() as uow:
            # Locked: the owner read here is the one the transition below sees.
            case = uow.session.get(Case, case_id, with_for_update=True)
            if case is None:
                return Msg("Case {case} does not exist.", case=case_id)
            if case.owner != who:
                return self._not_yours_to_confirm(uow.session, case)
            try:
                arrive(uow, case_id, by=who, now=self._services.clock.now())
                uow.commit()
            except Conflict:
                uow.rollback()
                return Msg("Case {case} is not waiting for you to arrive. Thank you.", case=case_id)
        log.info("case %s: %s is on site", case_id, who)
        return Msg(
            "Thank you: you are with the elder for case {case}. Resolve it when done.", case=case_id
        )

    def refuse(self, case_id: str, who: str, *, via: str) -> str:
        """`who` cannot take the case: a history line, and the ladder goes on.

        When that was the last person the current step reached who could still say yes,
        the next step is due at once.
        """
        now = self._services.clock.now()
        with self._services.uow() as uow:
            try:
                decline(uow, case_id, by=who, now=now, via=via)
            except NotFound:
                return Msg("Case {case} does not exist.", case=case_id)
            # Someone taking the case meanwhile is harmless: the step checks the owner first.
            case = uow.session.get(Case, case_id)
            if case is not None:
                hand_on_if_nobody_left(uow, case, now)
            uow.commit()
        return Msg("Thank you; we will ask someone else for case {case}.", case=case_id)

    def call_prompt(self, call_sid: str, phone: str) -> CallPrompt | None:
        """The case a call is about: the alert it was placed for, else the callee's newest."""
        with self._services.uow() as uow:
            session = uow.session
            row = None
            if call_sid:
                row = session.exec(
                    select(Notification).where(col(Notification.provider_id) == call_sid)
                ).first()
            if (
                row is not None
                and row.case_id is not None
                and row.recipient.startswith(ELDER_PREFIX)
            ):
                # A check-in call to the elder (alerts/checkins.py) speaks and asks nothing.
                return CallPrompt(row.case_id, row.recipient, row.say or "", listen=False)
            if row is not None and row.case_id is not None:
                case_id, who = row.case_id, row.recipient
            else:
                supervisor = self._services.settings.supervisor_phone
                region = self._services.settings.phone_region
                actors = identify_phone(session, phone, supervisor_phone=supervisor, region=region)
                alerted = alerted_cases(session, actors)
                # Only a case whose message asked them is one to press 1 for.
                open_cases = [
                    (a.case, a.who)
                    for a in asked_cases(session, actors)
                    if is_unowned(CaseState(a.case.state))
                ]
                # Nothing to take: a caller who took a case may be calling to say they are there.
                awaited = [
                    (c, str(c.owner))
                    for c, _ in alerted
                    if c.owner in actors and c.state is CaseState.ACCEPTED
                ]
                found = open_cases or awaited
                if not found:
                    return None
                case_id, who = found[0][0].id, found[0][1]
            case = session.get(Case, case_id)
            if case is None:
                return None
            facts = case_facts(case, session.get(Elder, case.elder_id))
            language = language_of_person(session, who, centre=self._services.settings.language)
            if case.owner is not None and case.owner == who:
                return replace(owner_prompt(case, facts), language=language)
            return CallPrompt(case_id, who, gather_text(facts, language), language=language)

    def language_of(self, who: str) -> str:
        """The language `who` ("contact:3") reads and hears; the centre's for anyone else."""
        with self._services.uow() as uow:
            return language_of_person(uow.session, who, centre=self._services.settings.language)

    def first_sighting(self, sid: str, step: str) -> bool:
        """Record that Twilio's message or call `sid` did `step`; False when it had: a replay.

        A captured signed request stays valid for ever (its signature covers no time), so
        the only way to tell a replay from a new answer is to remember every answer taken.
        """
        with self._services.uow() as uow:
            now = self._services.clock.now()
            uow.session.add(WebhookReceipt(sid=sid, step=step, received_at=now))
            try:
                uow.commit()
            except IntegrityError:
                uow.rollback()
                return False
        return True

    def forget_sighting(self, sid: str, step: str) -> None:
        """Undo `first_sighting` when the answer failed here: Twilio's retry must go through."""
        with self._services.uow() as uow:
            uow.session.exec(
                delete(WebhookReceipt).where(
                    col(WebhookReceipt.sid) == sid, col(WebhookReceipt.step) == step
                )
            )
            uow.commit()

    def call_answers_case(self, call_sid: str, case_id: str, who: str) -> bool:
        """False when `call_sid` is a call we placed about another case or person, or before it.

        A key press answers the alert of its own call; one from an older call (placed before
        the case opened, or for another case) must not act on this one.
        """
        with self._services.uow() as uow:
            row = uow.session.exec(
                select(Notification).where(col(Notification.provider_id) == call_sid)
            ).first()
            if row is None:
                return True  # a call the person placed to the centre: its prompt chose the case
            case = uow.session.get(Case, case_id)
            if case is None or row.case_id != case_id or row.recipient != who:
                return False
            return row.created_at >= case.opened_at

    def delivery_status(self, sid: str, status: str) -> bool:
        """Record Twilio's report on a message or call; False when no row has that id."""
        if not sid:
            return False
        now = self._services.clock.now()
        with self._services.uow() as uow:
            row = uow.session.exec(
                select(Notification).where(col(Notification.provider_id) == sid)
            ).first()
            if row is None:
                return False
            final = FINAL_STATUS.get(status)
            # Callbacks can arrive out of order: never step back from a settled status.
            newly_dead = False
            if final is not None and row.status not in SETTLED:
                newly_dead = final != row.status and final in UNREACHED
                row.status = final
            row.detail = f"twilio {status}"[:MAX_DETAIL_CHARS]
            row.updated_at = now
            uow.session.add(row)
            if newly_dead:
                # Not only on the row: the case's history and the console hear of it, and
                # the ladder goes on if that was the last person the step could reach.
                unreachable(uow, row, f"twilio {status}", now, tell_console=True)
            uow.commit()
        return True

    def wechat_delivery(self, msgid: str, status: str) -> bool:
        """WeChat's report on a template message; a failed one falls back to SMS now.

        `status` is "success", or why it failed ("failed:user block", "failed: system
        failed"). False when no message has that id.
        """
        if not msgid:
            return False
        now = self._services.clock.now()
        with self._services.uow() as uow:
            row = uow.session.exec(
                select(Notification).where(col(Notification.provider_id) == f"wx-{msgid}")
            ).first()
            if row is None:
                return False
            if status == "success":
                if row.status not in SETTLED:
                    row.status = "delivered"
            elif row.status not in SETTLED | UNREACHED:
                row.status = "failed"
                reason = f"wechat {status}"
                fallback = fall_back(uow.session, row, reason, now)
                if fallback is not None:
                    fallback.next_attempt_at = now  # the sender's next beat, not after a grace
                    reason += f"; sent by {fallback.channel} instead"
                else:
                    unreachable(uow, row, reason, now, tell_console=True)
                row.detail = reason[:MAX_DETAIL_CHARS]
            row.updated_at = now
            uow.session.add(row)
            uow.commit()
        return True

    @staticmethod
    def _elder_name(session: Session, case: Case) -> str:
        elder = session.get(Elder, case.elder_id)
        return elder.name if elder else case.id

    @staticmethod
    def _not_yours_to_confirm(session: Session, case: Case) -> str:
        if case.owner is None:
            return Msg(
                "Nobody has taken case {case} yet, so there is nothing to confirm. "
                "To take it, reply 1 by text message.",
                case=case.id,
            )
        owner = describe_actor(session, case.owner)
        return Msg(
            "Case {case} was taken by {owner}; only they can confirm they are with the "
            "elder. Nothing was changed.",
            case=case.id,
            owner=owner,
        )

    @staticmethod
    def _not_yours(session: Session, case_id: str) -> str:
        case = get_case(session, case_id)
        state = case.state
        if state is CaseState.CANCELLED:
            return Msg(
                "Case {case} was cancelled; the centre is checking in. Thank you.", case=case_id
            )
        if case.owner is None:
            return Msg(
                "Case {case} is already {state}. Thank you.", case=case_id, state=state_word(state)
            )
        owner = describe_actor(session, case.owner)
        return Msg("Case {case} is already taken by {owner}, thank you.", case=case_id, owner=owner)
