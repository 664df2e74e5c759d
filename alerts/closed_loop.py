"""The closed loop of an accepted emergency: "on site" in time, then resolution.

`acknowledge` writes a "loop" timer (step LOOP_ARM) in its own transaction; firing it here
schedules the two checks with the configured times, counted from the acknowledgement:

- LOOP_ON_SITE (`VNH_ON_SITE_WITHIN_S`, 30 min): still `accepted`, not `on_site`? The owner
  is asked by a text (where they read their alert: WeChat or SMS) and by a call (press 3
  once there), the console told, and the people of the next ladder step alerted (the
  case's `level` moves up, the last step repeats). Checked again after the same time.
- LOOP_RESOLVE (`VNH_RESOLVE_WITHIN_S`, 2 h): still accepted or on site? The owner gets a
  text (as above) and the console a notice; chased again after the same time until resolved.

Resolving cancels the case's pending timers; a check that finds the case moved on does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from alerts.escalation import (
    OPERATORS,
    Escalation,
    NoticeTo,
    alerted_people,
    case_facts,
    notice_addresses,
)
from alerts.ladder import CaseFacts, Notify, plan, spoken
from alerts.sender import ALERT_KEY_PREFIX
from alerts.timers import TimerBusy, TimerContext
from care_api.domain.channels import Channel
from care_api.domain.model import CaseState, TimerPurpose
from care_api.domain.texts import Msg
from care_api.i18n import render, t
from care_api.services import Services
from care_api.store.tables import Case, Contact, Elder, Timer, Volunteer
from care_api.usecases.cases.ladders import CONSOLE, get_ladder
from care_api.usecases.cases.log import (
    LOOP_ARM,
    LOOP_ON_SITE,
    LOOP_RESOLVE,
    add_note,
)
from care_api.usecases.cases.supervision import BY
from care_api.usecases.dispatch.responders import describe_actor
from care_api.usecases.dispatch.volunteers import volunteer_id_of
from care_api.usecases.people.languages import worded_for

log = logging.getLogger(__name__)

STILL_RESOLVING = frozenset({CaseState.ACCEPTED, CaseState.ON_SITE})


def on_site_overdue_owner_text(case_id: str, minutes: int) -> str:
    """What the owner is asked when "on site" is late."""
    return Msg(
        "Case {case}: you took it {minutes} min ago but have not confirmed you are with "
        "the elder. Reply 3 once you are there, or call the centre; others are being alerted.",
        case=case_id,
        minutes=minutes,
    )


def on_site_overdue_call_text(facts: CaseFacts, minutes: int) -> str:
    """What the call to the owner says when "on site" is late.

    Read out as it is when Twilio cannot reach our webhook; with it, the webhook's prompt
    asks for 3 on the keypad instead.
    """
    return Msg(
        "Case {case}: you took the case of {elder} {minutes} minutes ago "
        "but have not confirmed you are with them. Once you are there, reply 3 by text message.",
        case=facts.case_id,
        elder=facts.elder_name,
        minutes=minutes,
    )


def on_site_overdue_alert_text(facts: CaseFacts, owner: str, minutes: int) -> str:
    """What the next step's people are told: someone took it, but nobody is there yet."""
    return Msg(
        "EMERGENCY {case}: {elder} at {address}. {owner} took it "
        "{minutes} min ago but is not on site yet. Please check on {elder} "
        "or call the centre.",
        case=facts.case_id,
        elder=facts.elder_name,
        address=facts.address,
        owner=owner,
        minutes=minutes,
    )


def resolve_overdue_text(case_id: str, minutes: int, *, owner: str | None = None) -> str:
    """The chase of a case accepted but not resolved in time (owner's SMS or console line)."""
    if owner:
        return Msg(
            "Case {case} (taken by {owner}) is still not resolved {minutes} min after it was "
            "accepted. Resolve it or tell the centre what is holding it up.",
            case=case_id,
            owner=owner,
            minutes=minutes,
        )
    return Msg(
        "Case {case} is still not resolved {minutes} min after it was accepted. "
        "Resolve it or tell the centre what is holding it up.",
        case=case_id,
        minutes=minutes,
    )


def owner_phone(session: Session, case_id: str, owner: str | None) -> str | None:
    """The phone of the person who owns the case, when they have one (operators do not)."""
    if not owner:
        return None
    alerted = alerted_people(session, case_id)
    if owner in alerted:
        return alerted[owner]
    kind, _, ident = owner.partition(":")
    if kind == "contact" and ident.isdigit():
        contact = session.get(Contact, int(ident))
        return contact.phone if contact else None
    volunteer_id = volunteer_id_of(owner)
    if volunteer_id is not None:
        volunteer = session.get(Volunteer, volunteer_id)
        return volunteer.phone if volunteer else None
    return None


def owner_text_to(session: Session, case: Case, phone: str) -> NoticeTo:
    """Where the owner's reminder text goes: where their alert of the case was read, else SMS.

    A daughter who read the alert on WeChat and took the case there reads her reminders
    there too; one only called, or who took it at the console, gets an SMS.
    """
    where = notice_addresses(session, case.id).get(case.owner or "")
    return where or NoticeTo(Channel.sms.value, phone)


class ClosedLoop:
    """The "loop" timer handler: arms the two checks, then runs them."""

    def __init__(self, services: Services, escalation: Escalation) -> None:
        self._services = services
        self._escalation = escalation

    @property
    def _on_site_within(self) -> timedelta:
        return timedelta(seconds=self._services.settings.on_site_within_s)

    @property
    def _resolve_within(self) -> timedelta:
        return timedelta(seconds=self._services.settings.resolve_within_s)

    def run(self, ctx: TimerContext, timer: Timer) -> None:
        """Fire one step of a case's closed loop."""
        if timer.case_id is None:
            return
        session = ctx.uow.session
        case = session.exec(
            select(Case).where(col(Case.id) == timer.case_id).with_for_update(skip_locked=True)
        ).first()
        if case is None:
            if session.get(Case, timer.case_id) is not None:
                raise TimerBusy(timer.case_id)
            return
        state = case.state
        if state not in STILL_RESOLVING:
            return
        if timer.step == LOOP_ARM:
            taken = case.acknowledged_at or ctx.now
            ctx.schedule(
                purpose=TimerPurpose.LOOP,
                case_id=case.id,
                step=LOOP_ON_SITE,
                due_at=taken + self._on_site_within,
            )
            ctx.schedule(
                purpose=TimerPurpose.LOOP,
                case_id=case.id,
                step=LOOP_RESOLVE,
                due_at=taken + self._resolve_within,
            )
        elif timer.step == LOOP_ON_SITE and state is CaseState.ACCEPTED:
            self._on_site_overdue(ctx, case, timer)
            ctx.schedule(
                purpose=TimerPurpose.LOOP,
                case_id=case.id,
                step=LOOP_ON_SITE,
                due_at=ctx.now + self._on_site_within,
            )
        elif timer.step == LOOP_RESOLVE:
            self._resolve_overdue(ctx, case, timer)
            ctx.schedule(
                purpose=TimerPurpose.LOOP,
                case_id=case.id,
                step=LOOP_RESOLVE,
                due_at=ctx.now + self._resolve_within,
            )

    def _minutes(self, case: Case, now: datetime) -> int:
        taken = case.acknowledged_at or now
        return int((now - taken).total_seconds() // 60)

    def _on_site_overdue(self, ctx: TimerContext, case: Case, timer: Timer) -> None:
        session = ctx.uow.session
        minutes = self._minutes(case, ctx.now)
        owner = describe_actor(session, case.owner)
        phone = owner_phone(session, case.id, case.owner)
        elder = session.get(Elder, case.elder_id)
        facts = case_facts(case, elder)
        centre = self._services.settings.language
        if phone and case.owner:
            body, lang = worded_for(
                session, case.owner, on_site_overdue_owner_text(case.id, minutes), centre=centre
            )
            where = owner_text_to(session, case, phone)
            ctx.outbox.add(
                case_id=case.id,
                channel=where.channel,
                to=where.to,
                recipient=case.owner,
                body=body,
                key=f"loop:{case.id}:{timer.id}:owner",
                language=lang,
            )
            # And a call: someone who took the case by phone may not read texts on the way;
            # the call's prompt (alerts/answers.py) lets them press 3 once they are there.
            asked = render(lang, on_site_overdue_call_text(facts, minutes))
            ctx.outbox.add(
                case_id=case.id,
                channel=Channel.voice,
                to=phone,
                recipient=case.owner,
                body=t(lang, "Voice call: {text}", text=asked),
                say=spoken(asked),
                key=f"loop:{case.id}:{timer.id}:owner:voice",
                language=lang,
            )
        ladder = get_ladder(session, case.kind)
        step = min(case.level + 1, len(ladder.steps) - 1)
        contacts, others = self._escalation.people_of_step(session, case, elder, ladder, step)
        text = on_site_overdue_alert_text(facts, owner, minutes)
        told: list[str] = []
        for action in plan(ladder, step, facts, contacts, ctx.now, others=others):
            if not isinstance(action, Notify) or action.recipient == case.owner:
                continue
            if action.channel == CONSOLE:
                body = Msg(
                    "{case}: {owner} not on site after {minutes} min; re-alerted step {step}",
                    case=case.id,
                    owner=owner,
                    minutes=minutes,
                    step=step,
                )
                say = None
            else:
                body = render(action.language, text)
                say = spoken(body) if action.channel == Channel.voice else None
                told.append(action.recipient)
            # The alert prefix makes them "alerted people": they hear when the case ends.
            ctx.outbox.add(
                case_id=case.id,
                channel=action.channel,
                to=action.to,
                recipient=action.recipient,
                body=body,
                say=say,
                key=f"{ALERT_KEY_PREFIX}{case.id}:loop{timer.id}:{action.recipient}:{action.channel}",
                language=action.language if action.channel != CONSOLE else None,
            )
        case.level = max(case.level, step)
        why = Msg(
            "no on-site confirmation after {minutes} min; re-alerted step {step}",
            minutes=minutes,
            step=step,
        )
        if told:
            why = Msg("{text}: {people}", text=why, people=", ".join(dict.fromkeys(told)))
        add_note(ctx.uow, case, action="on_site_overdue", by=BY, why=why, now=ctx.now)
        log.info("case %s: on site overdue, re-alerted step %d", case.id, step)

    def _resolve_overdue(self, ctx: TimerContext, case: Case, timer: Timer) -> None:
        session = ctx.uow.session
        minutes = self._minutes(case, ctx.now)
        phone = owner_phone(session, case.id, case.owner)
        if phone and case.owner:
            centre = self._services.settings.language
            text = resolve_overdue_text(case.id, minutes)
            body, lang = worded_for(session, case.owner, text, centre=centre)
            where = owner_text_to(session, case, phone)
            ctx.outbox.add(
                case_id=case.id,
                channel=where.channel,
                to=where.to,
                recipient=case.owner,
                body=body,
                key=f"loop:{case.id}:{timer.id}:owner",
                language=lang,
            )
        ctx.outbox.add(
            case_id=case.id,
            channel=CONSOLE,
            to=OPERATORS,
            recipient=OPERATORS,
            body=resolve_overdue_text(case.id, minutes, owner=describe_actor(session, case.owner)),
            key=f"loop:{case.id}:{timer.id}:{OPERATORS}",
        )
        add_note(
            ctx.uow,
            case,
            action="resolve_overdue",
            by=BY,
            why=Msg("not resolved {minutes} min after acceptance; owner chased", minutes=minutes),
            now=ctx.now,
        )
