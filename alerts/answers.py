"""People answering alerts (SMS replies, key presses on calls) and Twilio's delivery reports.

Every acceptance goes through care_api's `acknowledge`, so first-receiver ownership holds
whichever way the answer came; these functions only find the case and word the reply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from alerts.checkins import ELDER_PREFIX
from alerts.escalation import case_facts
from alerts.ladder import CaseFacts
from alerts.merchant_dispatch import MerchantDispatch
from alerts.outbox import ALERT_KEY_PREFIX, MAX_DETAIL_CHARS, PHONE_CHANNELS
from alerts.replies import Answer, matches_case, parse_reply, short_code
from care_api.domain.cases import ACTIVE, is_unowned
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.model import CaseState
from care_api.log_privacy import mask_phone
from care_api.services import Services
from care_api.store.tables import Case, Elder, Notification
from care_api.usecases.case_actions import arrive, get_case
from care_api.usecases.merchants import MERCHANT
from care_api.usecases.responders import decline, describe_actor, identify_phone, take_case

log = logging.getLogger(__name__)

HELP_TEXT = "Reply 1 to take the case, 2 if you cannot (add its number if you have several)."
NO_ANSWER_TEXT = "We did not hear an answer. We will ask someone else."
ARRIVE_HELP_TEXT = "You have several cases: reply 3 and the case number once you are there."
UNKNOWN_SENDER_TEXT = "This number is not on the centre's alert list. Please call the centre."
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
MERCHANT_PREFIX = f"{MERCHANT}:"


@dataclass(frozen=True, slots=True)
class CallPrompt:
    """What a voice call is about: the case, who is called, and what to say."""

    case_id: str
    who: str
    say: str
    listen: bool = True  # False: only say it (no "press 1", e.g. a call to the elder)
    no_answer: str = NO_ANSWER_TEXT  # said when no key comes


def alerted_cases(session: Session, actors: Sequence[str]) -> list[tuple[Case, str]]:
    """Active cases whose ladder alerted one of `actors`, newest first, with the actor alerted."""
    rows = session.exec(
        select(Notification.case_id, Notification.recipient)
        .where(
            col(Notification.recipient).in_(list(actors)),
            col(Notification.channel).in_(PHONE_CHANNELS),
            col(Notification.idempotency_key).startswith(ALERT_KEY_PREFIX),
        )
        .order_by(col(Notification.id))
    ).all()
    who_of: dict[str, str] = {}
    for case_id, who in rows:
        if case_id is not None:
            who_of.setdefault(case_id, who)
    if not who_of:
        return []
    cases = session.exec(
        select(Case)
        .where(col(Case.id).in_(list(who_of)), col(Case.state).in_([s.value for s in ACTIVE]))
        .order_by(col(Case.opened_at).desc(), col(Case.id).desc())
    ).all()
    return [(case, who_of[case.id]) for case in cases]


def gather_text(facts: CaseFacts) -> str:
    """What a call says before it waits for a key."""
    return (
        f"{facts.summary}. {facts.elder_name} at {facts.address} needs help. "
        "Press 1 to take the case, or 2 if you cannot."
    )


def on_site_prompt_text(facts: CaseFacts) -> str:
    """What a call to the owner of a case not yet confirmed on site says before it waits for 3."""
    return (
        f"{facts.summary}. You took the case of {facts.elder_name} at {facts.address} and have "
        f"not confirmed you are there yet. Press 3 when you are with {facts.elder_name}."
    )


def on_site_no_answer_text(facts: CaseFacts) -> str:
    """What the owner hears when they press nothing: how to confirm later."""
    return (
        f"We did not hear 3. Once you are with {facts.elder_name}, reply 3 by text message "
        "or call the centre."
    )


def owner_prompt(case: Case, facts: CaseFacts) -> CallPrompt:
    """The prompt of a call to the person who owns `case`: "press 3" while they are awaited."""
    owner = str(case.owner)
    state = CaseState(case.state)
    if state is CaseState.ACCEPTED:
        no_answer = on_site_no_answer_text(facts)
        return CallPrompt(case.id, owner, on_site_prompt_text(facts), no_answer=no_answer)
    if state is CaseState.ON_SITE:
        say = f"You are with {facts.elder_name} for case {case.id}. Resolve it when done."
    else:
        say = f"Case {case.id} is {state.value.replace('_', ' ')}. Nothing is needed from you."
    return CallPrompt(case.id, owner, f"{say} Thank you.", listen=False)


class Answers:
    """Turns answers into acknowledgements and words the reply each person gets."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._merchants = MerchantDispatch(services)

    def sms(self, phone: str, text: str) -> str:
        """Handle one SMS reply; returns the text to answer it with."""
        reply = parse_reply(text)
        with self._services.uow() as uow:
            supervisor = self._services.settings.supervisor_phone
            actors = identify_phone(uow.session, phone, supervisor_phone=supervisor)
        if not actors:
            log.warning("sms reply from a number nobody has: %s", mask_phone(phone))
            return UNKNOWN_SENDER_TEXT
        if reply is None:
            return f"Sorry, we did not understand. {HELP_TEXT}"
        merchants = [int(a.partition(":")[2]) for a in actors if a.startswith(MERCHANT_PREFIX)]
        if merchants and reply.answer is not Answer.ARRIVE:
            # A merchant's "1" confirms contact on an order waiting for it, if one is.
            answer = self._merchants.sms_reply(merchants, reply)
            if answer is not None:
                return answer
        with self._services.uow() as uow:
            candidates = alerted_cases(uow.session, actors)
            if reply.code is not None:
                candidates = [c for c in candidates if matches_case(reply.code, c[0].id)]
                if not candidates:
                    return f"No open case {reply.code} was sent to you. {HELP_TEXT}"
            if not candidates:
                return "You have no open case to answer. Thank you."
            if reply.answer is Answer.ARRIVE:
                mine = [(c.id, str(c.owner)) for c, _ in candidates if c.owner in actors]
                if len(mine) != 1:
                    return ARRIVE_HELP_TEXT if mine else "You have no case taken to confirm."
                case_id, who = mine[0]
            else:
                unowned = [c for c in candidates if is_unowned(CaseState(c[0].state))]
                pick = unowned or candidates
                if len(pick) > 1:
                    names = {c.id: self._elder_name(uow.session, c) for c, _ in pick}
                    choices = ", ".join(f"{short_code(c.id)} for {names[c.id]}" for c, _ in pick)
                    return f"You have {len(pick)} open cases. Reply 1 and the number: {choices}."
                case_id, who = pick[0][0].id, pick[0][1]
        if reply.answer is Answer.ARRIVE:
            return self.arrive(case_id, who)
        # A fresh transaction: acknowledge must see the case as it is when locked, not as read.
        if reply.answer is Answer.ACCEPT:
            return self.take(case_id, who, via="sms")
        return self.refuse(case_id, who, via="sms")

    def take(self, case_id: str, who: str, *, via: str) -> str:
        """`who` takes the case if nobody has; the reply says which it was."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            try:
                # A volunteer's acceptance goes through their task, so the others are withdrawn.
                case = take_case(uow, case_id, by=who, now=now, via=via)
                uow.commit()
            except NotFound:
                return f"Case {case_id} does not exist."
            except Conflict:
                uow.rollback()
                return self._not_yours(uow.session, case_id)
            facts = case_facts(case, uow.session.get(Elder, case.elder_id))
        log.info("case %s taken by %s via %s", case_id, who, via)
        phone = f", phone {facts.elder_phone}" if facts.elder_phone else ""
        return (
            f"You have case {case_id}: {facts.elder_name}, {facts.address}{phone}. "
            "Please go now; the centre is informed. Reply 3 when you are with them."
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
                return f"Case {case_id} does not exist."
            if case.owner != who:
                return self._not_yours_to_confirm(uow.session, case)
            try:
                arrive(uow, case_id, by=who, now=self._services.clock.now())
                uow.commit()
            except Conflict:
                uow.rollback()
                return f"Case {case_id} is not waiting for you to arrive. Thank you."
        log.info("case %s: %s is on site", case_id, who)
        return f"Thank you: you are with the elder for case {case_id}. Resolve it when done."

    def refuse(self, case_id: str, who: str, *, via: str) -> str:
        """`who` cannot take the case: a history line, and the ladder goes on."""
        with self._services.uow() as uow:
            try:
                decline(uow, case_id, by=who, now=self._services.clock.now(), via=via)
                uow.commit()
            except NotFound:
                return f"Case {case_id} does not exist."
        return f"Thank you; we will ask someone else for case {case_id}."

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
                actors = identify_phone(session, phone, supervisor_phone=supervisor)
                alerted = alerted_cases(session, actors)
                open_cases = [c for c in alerted if is_unowned(CaseState(c[0].state))]
                # Nothing to take: a caller who took a case may be calling to say they are there.
                awaited = [
                    (c, str(c.owner))
                    for c, _ in alerted
                    if c.owner in actors and CaseState(c.state) is CaseState.ACCEPTED
                ]
                found = open_cases or awaited
                if not found:
                    return None
                case_id, who = found[0][0].id, found[0][1]
            case = session.get(Case, case_id)
            if case is None:
                return None
            facts = case_facts(case, session.get(Elder, case.elder_id))
            if case.owner is not None and case.owner == who:
                return owner_prompt(case, facts)
            return CallPrompt(case_id, who, gather_text(facts))

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
            if final is not None and row.status not in SETTLED:
                row.status = final
            row.detail = f"twilio {status}"[:MAX_DETAIL_CHARS]
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
            return (
                f"Nobody has taken case {case.id} yet, so there is nothing to confirm. "
                "To take it, reply 1 by text message."
            )
        owner = describe_actor(session, case.owner)
        return (
            f"Case {case.id} was taken by {owner}; only they can confirm they are with the "
            "elder. Nothing was changed."
        )

    @staticmethod
    def _not_yours(session: Session, case_id: str) -> str:
        case = get_case(session, case_id)
        state = CaseState(case.state)
        if state is CaseState.CANCELLED:
            return f"Case {case_id} was cancelled; the centre is checking in. Thank you."
        if case.owner is None:
            return f"Case {case_id} is already {state.value}. Thank you."
        owner = describe_actor(session, case.owner)
        return f"Case {case_id} is already taken by {owner}, thank you."
