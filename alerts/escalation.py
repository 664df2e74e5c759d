"""Escalation: ladder steps as rows (the "ladder" timer handler), and the notices that follow.

Audiences other than the elder's contacts and the consoles are resolved by hooks in
`Escalation.audiences`, keyed by audience name; a hook has the signature `AudienceResolver`:

    def resolve(session: Session, case: Case, elder: Elder, target: Target) -> Sequence[Recipient]

returning people nearest or most relevant first (the ladder applies `target.limit`).
"volunteers_nearest" resolves to nobody until volunteers exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from alerts.ladder import (
    CaseFacts,
    Flag,
    Notify,
    Recipient,
    Schedule,
    Unreached,
    asks_for_answer,
    cancelled_console_text,
    cancelled_sms_text,
    checked_in_late_console_text,
    checked_in_late_sms_text,
    plan,
    pressed_again_text,
    taken_text,
)
from alerts.sender import (
    ALERT_KEY_PREFIX,
    CHECKED_IN_LATE_DETAIL,
    OutboxWriter,
    cancel_elder_calls,
)
from alerts.throttle import UNSENT_BY_BOUNDS
from alerts.timers import Dispatch, TimerBusy, TimerContext
from care_api.domain.cases import is_unowned
from care_api.domain.channels import (
    CHANNELS,
    PERSON_CHANNELS,
    PHONE_CHANNELS,
    AddressKind,
    Channel,
    Medium,
)
from care_api.domain.model import CaseKind, TimerPurpose
from care_api.domain.texts import Msg, stored_text
from care_api.i18n import DEFAULT_LANGUAGE, language_of, render
from care_api.services import Services
from care_api.store.arrays import Pair, one_of
from care_api.store.tables import Case, Contact, Elder, Notification, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.ladders import CONSOLE, Audience, Ladder, Target, get_ladder
from care_api.usecases.cases.log import rows_at_commit
from care_api.usecases.cases.supervision import record_step
from care_api.usecases.dispatch.responders import SUPERVISOR, describe_actor
from care_api.usecases.people.addresses import Reach, phone_of, reach_of
from care_api.usecases.people.languages import language_of_person, load_people
from care_api.usecases.people.registry import contacts_of, contacts_of_elders
from care_api.usecases.schedules.rotas import who_is_on_duty

log = logging.getLogger(__name__)

AudienceResolver = Callable[[Session, Case, Elder, Target], Sequence[Recipient]]
# Why an audience resolved by a hook found nobody for this elder ("no volunteer within 12 km").
NobodyReason = Callable[[Elder], str]
OPERATORS = Audience.OPERATORS.value
# Each person hears "pressed again" at most once in this window (and once more when the
# case gets its owner): a stuck button or twenty nervous presses make one message, not twenty.
PRESSED_AGAIN_QUIET_S = 60
TOLD_AGAIN_MEMO = 10_000
# A text with one of these statuses reached nobody (its fallback, if any, is a row of its own).
NOT_RECEIVED = frozenset({"failed", "undelivered"})
STEPS_READ = "escalation.steps"  # the key of `StepsRead` in a batch's `TimerContext.shared`


@dataclass(frozen=True, slots=True)
class StepsRead:
    """What the ladder steps of a batch of timers read, read once for all of them."""

    cases: dict[str, Case]  # locked, as `run_step` locks one; a case locked elsewhere is absent
    elders: dict[int, Elder]  # held here: the session's identity map keeps no row alive
    contacts: dict[int, list[Contact]]  # by elder, first to alert first
    reach: dict[str, Reach]  # of every contact
    ladders: dict[CaseKind, Ladder]
    used_keys: frozenset[str]  # the ladder keys these cases' rows already have


def nobody(session: Session, case: Case, elder: Elder, target: Target) -> Sequence[Recipient]:
    """The audience hook of people who do not exist yet (volunteers before their change)."""
    return ()


def case_facts(case: Case, elder: Elder | None) -> CaseFacts:
    """What messages say about `case`."""
    return CaseFacts(
        case_id=case.id,
        kind=case.kind,
        summary=stored_text(case.summary, case.summary_msg),
        elder_name=elder.name if elder else Msg("the elder"),
        address=elder.address if elder else "",
        elder_phone=elder.phone if elder else "",
    )


class NoticeTo(NamedTuple):
    """Where a notice that follows an alert reaches a person: a text channel and address."""

    channel: str
    to: str


# Built once: every notice after an alert (taken, cancelled, pressed again…) asks it, and
# building it cost more than running it. Alerts the send bounds kept back told nobody
# anything: nothing to follow up.
_FOLLOWED_UP = (
    col(Notification.channel).in_(PERSON_CHANNELS),
    col(Notification.idempotency_key).startswith(ALERT_KEY_PREFIX),
    col(Notification.status).not_in(UNSENT_BY_BOUNDS),
)
_ALERT_ROWS = (
    select(Notification)
    .where(col(Notification.case_id) == bindparam("case_id"), *_FOLLOWED_UP)
    .order_by(col(Notification.id))
)
# The same for several cases at once (a batch of presses again).
_CASES_ALERT_ROWS = Pair(
    lambda pg: (
        select(Notification)
        .where(one_of(col(Notification.case_id), "ids", postgres=pg), *_FOLLOWED_UP)
        .order_by(col(Notification.id))
    )
)


def _alert_rows(session: Session, case_id: str) -> Sequence[Notification]:
    return session.exec(_ALERT_ROWS, params={"case_id": case_id}).all()


def alerted_people(session: Session, case_id: str) -> dict[str, str]:
    """Everyone the ladder alerted for the case: actor → phone number, first alerted first.

    A person alerted on WeChat only is named by the phone on their record.
    """
    people: dict[str, str] = {}
    for row in _alert_rows(session, case_id):
        if row.channel in PHONE_CHANNELS:
            people.setdefault(row.recipient, row.to)
        elif row.recipient not in people:
            phone = phone_of(session, row.recipient)
            if phone:
                people[row.recipient] = phone
    return people


def notice_addresses(session: Session, case_id: str) -> dict[str, NoticeTo]:
    """Everyone the ladder alerted, first alerted first, and where their notices go.

    A notice (taken, cancelled, pressed again…) takes the text channel the person's last
    alert of the case went out on (WeChat for those who read the alert there; a WeChat
    send that failed is followed by its SMS); by SMS for those only called. A WeChat
    notice that fails falls back to SMS as the alert did.
    """
    return _addresses(session, _alert_rows(session, case_id))


def _addresses(session: Session, alerts: Iterable[Notification]) -> dict[str, NoticeTo]:
    # `notice_addresses` from a case's alert rows (`_FOLLOWED_UP`), read already.
    text: dict[str, NoticeTo] = {}
    phones: dict[str, str] = {}
    for row in alerts:
        if row.channel in PHONE_CHANNELS:
            phones.setdefault(row.recipient, row.to)
        else:
            phones.setdefault(row.recipient, "")
        if CHANNELS[Channel(row.channel)].medium is Medium.text and row.status not in NOT_RECEIVED:
            text[row.recipient] = NoticeTo(row.channel, row.to)
    people: dict[str, NoticeTo] = {}
    for who, phone in phones.items():
        if who in text:
            people[who] = text[who]
        elif phone := phone or (phone_of(session, who) or ""):
            people[who] = NoticeTo(Channel.sms.value, phone)
    return people


def tell_all(
    writer: OutboxWriter,
    case: Case,
    what: str,
    *,
    console: str,
    sms: str | Callable[[str], str],
    people: Mapping[str, NoticeTo] | None = None,
    owner_sms: str | None = None,
    centre: str = DEFAULT_LANGUAGE,
    key: Callable[[str], str] | None = None,
) -> None:
    """The console line, and a text to everyone the ladder alerted, once each per `what`.

    Each is reached where their alert was (`notice_addresses`: WeChat or SMS). `people`
    replaces those alerted; the case's owner among them is sent `owner_sms` when one is
    given. `sms` may be a text per language, written for each person in theirs (`centre`
    for those who have none). `key` names each recipient's row (default: once per `what`).
    """
    key = key or (lambda who: f"{what}:{case.id}:{who}")
    writer.add(
        case_id=case.id,
        channel=CONSOLE,
        to=OPERATORS,
        recipient=OPERATORS,
        body=console,
        key=key(OPERATORS),
    )
    if people is None:
        people = notice_addresses(writer.session, case.id)
    for who, where in people.items():
        language = language_of_person(writer.session, who, centre=centre)
        text = sms(language) if callable(sms) else sms
        if owner_sms is not None and who == case.owner:
            text = owner_sms
        writer.add(
            case_id=case.id,
            channel=where.channel,
            to=where.to,
            recipient=who,
            body=render(language, text),
            key=key(who),
            language=language,
        )


class Escalation:
    """Writes what the ladder and a case's events call for, as rows; sending is the sender's."""

    def __init__(self, services: Services, dispatch: Dispatch) -> None:
        self._services = services
        self._dispatch = dispatch
        self.audiences: dict[str, AudienceResolver] = {
            Audience.VOLUNTEERS_NEAREST.value: nobody,
            Audience.SUPERVISOR.value: self._supervisor,
        }
        self.why_nobody: dict[str, NobodyReason] = {}
        # The channels a notifier sends on here: a person is reached only on those.
        self.channels: frozenset[str] = frozenset(PERSON_CHANNELS)
        # case → the window in which "pressed again" was last written (one worker thread).
        self._told_again: dict[str, int] = {}

    # -- the "ladder" timer handler ----------------------------------------------------------

    def read_steps(
        self, uow: SqlUnitOfWork, timers: Sequence[Timer], shared: dict[str, object]
    ) -> None:
        """The ladder timers' preparer: what their steps read, in a few queries for all."""
        session = uow.session
        ids = sorted({t.case_id for t in timers if t.case_id is not None})
        if not ids:
            return
        cases: dict[str, Case] = {}
        elders: dict[int | None, Elder] = {}
        for case, elder in session.exec(_STEP_CASES.on(session), params={"ids": ids}).all():
            cases[case.id] = case
            if elder is not None:
                elders[elder.id] = elder
        elder_ids = sorted({c.elder_id for c in cases.values()})
        contacts = contacts_of_elders(session, elder_ids)
        actors = [f"contact:{c.id}" for cs in contacts.values() for c in cs if not c.notify_only]
        used = session.exec(_STEP_KEYS.on(session), params={"ids": ids}).all()
        shared[STEPS_READ] = StepsRead(
            cases=cases,
            elders={i: e for i, e in elders.items() if i is not None},
            contacts=contacts,
            reach=reach_of(session, actors),
            ladders={kind: get_ladder(session, kind) for kind in {c.kind for c in cases.values()}},
            used_keys=frozenset(k for k in used if k is not None),
        )

    def run_step(self, ctx: TimerContext, timer: Timer) -> None:
        """Run step `timer.step` of the case's ladder unless someone owns the case already."""
        if timer.case_id is None:
            log.warning("ladder timer %s has no case", timer.id)
            return
        session = ctx.uow.session
        read = ctx.shared.get(STEPS_READ)
        batch = read if isinstance(read, StepsRead) else None
        case = batch.cases.get(timer.case_id) if batch is not None else None
        if case is None:
            batch = None  # not read with the batch (locked by someone then): read on its own
            case = session.exec(
                select(Case).where(col(Case.id) == timer.case_id).with_for_update(skip_locked=True)
            ).first()
        if case is None:
            if session.get(Case, timer.case_id) is not None:
                # Someone holds the case (acknowledging it, most likely): decide after them.
                raise TimerBusy(timer.case_id)
            log.warning("ladder timer %s: case %s does not exist", timer.id, timer.case_id)
            return
        if not is_unowned(case.state):
            return
        kind = case.kind
        # Its alerts go out as soon as the sender can, whoever fired the step (the sender's
        # bounds treat an emergency's ladder alerts as urgent too).
        ctx.urgent = kind is CaseKind.EMERGENCY
        known = batch.ladders.get(kind) if batch is not None else None
        ladder = known if known is not None else get_ladder(session, kind)
        if timer.step > ladder.final_step:
            return  # an admin cut the ladder (or its repeats) short meanwhile
        elder = batch.elders.get(case.elder_id) if batch is not None else None
        if elder is None:
            elder = session.get(Elder, case.elder_id)
        rung, repeat = ladder.rung_of(timer.step)
        contacts, others = self.people_of_step(session, case, elder, ladder, rung, read=batch)
        facts = case_facts(case, elder)
        why_nobody = (
            {name: reason(elder) for name, reason in self.why_nobody.items()} if elder else {}
        )
        actions = plan(
            ladder, timer.step, facts, contacts, ctx.now, others=others, why_nobody=why_nobody
        )
        notified: list[str] = []
        flag: str | None = None
        unreached: tuple[str, ...] = ()
        # The kind is in the key: after a reclassification the new kind's ladder starts at
        # step 0 again and must not be taken for the old one's replay.
        keys = {
            action: f"{ALERT_KEY_PREFIX}{case.id}:{timer.step}:{action.recipient}:"
            f"{action.channel}:{kind}"
            for action in actions
            if isinstance(action, Notify)
        }
        ctx.outbox.expect(keys.values(), used=batch.used_keys if batch is not None else None)
        for action in actions:
            if isinstance(action, Notify):
                key = keys[action]
                ctx.outbox.add(
                    case_id=case.id,
                    channel=action.channel,
                    to=action.to,
                    recipient=action.recipient,
                    body=action.body,
                    say=action.say,
                    key=key,
                    language=action.language,
                )
                if action.channel != CONSOLE and action.recipient not in notified:
                    notified.append(action.recipient)
            elif isinstance(action, Schedule):
                ctx.schedule(
                    purpose=TimerPurpose.LADDER,
                    case_id=case.id,
                    step=action.step,
                    due_at=action.due_at,
                )
            elif isinstance(action, Flag):
                flag = action.text
            elif isinstance(action, Unreached):
                unreached = action.reasons
        record_step(
            ctx.uow,
            case,
            step=rung,
            notified=notified,
            asked=asks_for_answer(kind),
            flag=flag,
            now=ctx.now,
            unreached=unreached,
            handed_on=bool(unreached) and rung < ladder.last_rung,
            repeat=(repeat, ladder.repeat),
        )
        log.info("case %s ladder step %d: %d notified", case.id, timer.step, len(notified))
        self.forget_pressed_again(case.id)  # the people just alerted hear of the next press

    def people_of_step(
        self,
        session: Session,
        case: Case,
        elder: Elder | None,
        ladder: Ladder,
        step: int,
        *,
        read: StepsRead | None = None,
    ) -> tuple[list[Recipient], dict[str, Sequence[Recipient]]]:
        """The elder's contacts and the people of the step's other audiences, for `plan`.

        `read`: the batch's contacts and their addresses, read already.
        """
        centre = self._services.settings.language
        of_elder = (
            read.contacts[case.elder_id]
            if read is not None and case.elder_id in read.contacts
            else contacts_of(session, case.elder_id)
        )
        contacts = [
            Recipient(
                f"contact:{c.id}", c.name, c.phone, c.priority, language_of(c.language, centre)
            )
            for c in of_elder
            if not c.notify_only  # info-only people hear of it when the case closes
        ]
        others: dict[str, Sequence[Recipient]] = {}
        for target in ladder.steps[step].notify:
            hook = self.audiences.get(target.audience.value)
            if hook is not None and elder is not None:
                others[target.audience.value] = hook(session, case, elder, target)
        everyone = [r.key for r in contacts] + [r.key for rs in others.values() for r in rs]
        known = read.reach if read is not None else {}
        found = {**known, **reach_of(session, [k for k in everyone if k not in known])}
        return (
            [self._with_addresses(r, found) for r in contacts],
            {a: [self._with_addresses(r, found) for r in rs] for a, rs in others.items()},
        )

    def _with_addresses(self, person: Recipient, found: Mapping[str, Reach]) -> Recipient:
        """`person` with their other addresses, on the channels a notifier serves here."""
        reach = found.get(person.key)
        if reach is None:
            return person
        usable = {
            CHANNELS[Channel(c)].address for c in self.channels if CHANNELS[Channel(c)].address
        }
        addresses = {k: v for k, v in reach.addresses.items() if AddressKind(k) in usable}
        preferred = reach.preferred if reach.preferred in self.channels else None
        return replace(person, addresses=addresses, preferred=preferred)

    def _supervisor(
        self, session: Session, case: Case, elder: Elder, target: Target
    ) -> Sequence[Recipient]:
        # The supervisor on duty now, from the rota; VNH_SUPERVISOR_PHONE when nobody is on it.
        duty = who_is_on_duty(
            session,
            self._services.clock.now(),
            fallback_phone=self._services.settings.supervisor_phone,
        )
        if not duty.supervisor_phone:
            log.warning(
                "case %s reached the supervisor step but no supervisor is on duty or set", case.id
            )
            return ()
        name = f"{duty.supervisor_name} (supervisor on duty)" if duty.supervisor_name else None
        centre = language_of(self._services.settings.language)
        return (Recipient(SUPERVISOR, name or "the supervisor", duty.supervisor_phone, 1, centre),)

    # -- notices that follow a case's events -------------------------------------------------

    def notify_taken(self, ctx: TimerContext, timer: Timer) -> None:
        """The "taken" timer handler: everyone else alerted hears who took the case.

        `acknowledge` writes the timer in its own transaction; the event's fast path fires it
        at once, the sweep after a crash. Keyed per person, so nobody is told twice.
        """
        session = ctx.uow.session
        case = session.get(Case, timer.case_id) if timer.case_id is not None else None
        if case is None or case.owner is None:
            log.warning("taken timer %s: case %s has no owner", timer.id, timer.case_id)
            return
        owner = describe_actor(session, case.owner)
        centre = self._services.settings.language
        for who, where in notice_addresses(session, case.id).items():
            if who == case.owner:
                continue
            language = language_of_person(session, who, centre=centre)
            ctx.outbox.add(
                case_id=case.id,
                channel=where.channel,
                to=where.to,
                recipient=who,
                body=taken_text(case.id, owner, language),
                key=f"taken:{case.id}:{who}",
                language=language,
            )
        ctx.outbox.add(
            case_id=case.id,
            channel=CONSOLE,
            to=OPERATORS,
            recipient=OPERATORS,
            body=Msg("{case} taken by {owner}", case=case.id, owner=owner),
            key=f"taken:{case.id}:{OPERATORS}",
        )

    def notify_cancelled(self, case_id: str, by: str) -> None:
        """The console checks in with the elder; alerted people are told to stand down."""
        with self._notices(case_id) as (writer, case, facts):
            by_elder = by.startswith("device:")
            tell_all(
                writer,
                case,
                "cancelled",
                console=cancelled_console_text(facts, by_elder),
                sms=lambda language: cancelled_sms_text(facts, language),
                centre=self._services.settings.language,
            )

    def notify_checked_in_late(self, case_id: str, at: datetime) -> None:
        """The console confirms and resolves; alerted people stand down; the elder's call stops."""
        local_time = at.astimezone(self._services.tz).strftime("%H:%M")
        with self._notices(case_id) as (writer, case, facts):
            cancelled = cancel_elder_calls(
                writer.session,
                case.id,
                detail=CHECKED_IN_LATE_DETAIL,
                now=self._services.clock.now(),
            )
            if cancelled:
                log.info(
                    "case %s: %d call(s) to the elder cancelled (checked in late)",
                    case.id,
                    cancelled,
                )
            tell_all(
                writer,
                case,
                "late",
                console=checked_in_late_console_text(facts, local_time),
                sms=checked_in_late_sms_text(facts, local_time),
                centre=self._services.settings.language,
            )

    def notify_pressed_again(self, case_id: str) -> None:
        """The console, and whoever owns the case (else everyone alerted), hear of the press."""
        self.notify_pressed_again_many([case_id])

    def notify_pressed_again_many(self, case_ids: Sequence[str]) -> None:
        """`notify_pressed_again` for several cases, in one transaction (cases not found: none).

        Already written for this window and nobody new to tell: no transaction (the
        idempotency keys would refuse the rows anyway). Under a stuck button this is most
        of the alerts' work, and it competes with intake for the database.
        """
        minute = self._quiet_window()
        due = [c for c in dict.fromkeys(case_ids) if self._told_again.get(c) != minute]
        if not due:
            return
        with self._services.uow() as uow:
            session = uow.session
            found = session.exec(_AGAIN_CASES.on(session), params={"ids": due}).all()
            read = {case.id: (case, elder) for case, elder in found}
            alerts: dict[str, list[Notification]] = {case_id: [] for case_id in read}
            for row in session.exec(_CASES_ALERT_ROWS.on(session), params={"ids": due}):
                alerts[cast(str, row.case_id)].append(row)
            # Whoever owns the case hears of it, else everyone alerted; and the console.
            audience = {
                case_id: _pressed_again_audience(case, _addresses(session, alerts[case_id]))
                for case_id, (case, _) in read.items()
            }
            # Held while the rows are worded (`tell_all` finds each person in the session,
            # which keeps only weak references to its rows).
            people = load_people(session, {who for told in audience.values() for who in told})
            writer = OutboxWriter(session, self._services.clock.now())
            writer.expect(
                _again_key(case, who, minute)
                for case_id, (case, _) in read.items()
                for who in [OPERATORS, *audience[case_id]]
            )
            # The rows wait for the commit, one statement for all: SQLite's one writer is
            # taken then, not from the first case's rows on while the others are read.
            rows_at_commit(session)
            with session.no_autoflush:
                for case_id in due:
                    if case_id not in read:
                        log.warning("pressed again: case %s not found", case_id)
                        continue
                    case, elder = read[case_id]
                    self._write_pressed_again(writer, case, elder, audience[case_id], minute)
            del people
            uow.commit()
        if writer.to_send:
            self._dispatch(writer.to_send)
        for case_id in due:
            self._remember_told_again(case_id, minute)

    def _write_pressed_again(
        self,
        writer: OutboxWriter,
        case: Case,
        elder: Elder | None,
        audience: dict[str, NoticeTo],
        minute: int,
    ) -> None:
        text = pressed_again_text(case_facts(case, elder))
        tell_all(
            writer,
            case,
            "again",
            console=text,
            sms=text,
            people=audience,
            centre=self._services.settings.language,
            key=lambda who: _again_key(case, who, minute),
        )

    def told_of_press_again(self, case_id: str) -> bool:
        """Whether a press again on `case_id` now is already told of: nothing to write."""
        return self._told_again.get(case_id) == self._quiet_window()

    def _quiet_window(self) -> int:
        return int(self._services.clock.now().timestamp()) // PRESSED_AGAIN_QUIET_S

    def forget_pressed_again(self, case_id: str) -> None:
        """The case's audience may have changed (new owner, next step): tell them next press."""
        self._told_again.pop(case_id, None)

    def _remember_told_again(self, case_id: str, minute: int) -> None:
        if len(self._told_again) >= TOLD_AGAIN_MEMO:
            # Entries of past windows are worthless; drop them rather than grow.
            self._told_again = {c: m for c, m in self._told_again.items() if m >= minute}
        self._told_again[case_id] = minute

    @contextmanager
    def _notices(self, case_id: str) -> Iterator[tuple[OutboxWriter, Case, CaseFacts]]:
        """One transaction writing notices about a case; they are sent after its commit."""
        with self._services.uow() as uow:
            case = uow.session.get(Case, case_id)
            if case is None:
                raise LookupError(f"case {case_id} not found")
            writer = OutboxWriter(uow.session, self._services.clock.now())
            yield writer, case, case_facts(case, uow.session.get(Elder, case.elder_id))
            uow.commit()
        if writer.to_send:
            self._dispatch(writer.to_send)


def _pressed_again_audience(case: Case, alerted: dict[str, NoticeTo]) -> dict[str, NoticeTo]:
    # A case someone took is theirs: the others alerted were told to stand down.
    if case.owner is None:
        return alerted
    return {who: where for who, where in alerted.items() if who == case.owner}


def _again_key(case: Case, who: str, minute: int) -> str:
    # Once per case, person and window; a new owner is a new audience.
    return f"again:{case.id}:{who}:{case.owner or '-'}:{minute}"


# The cases of a batch of presses again, with their elders, in one statement.
_AGAIN_CASES = Pair(
    lambda pg: (
        select(Case, Elder)
        .outerjoin(Elder, col(Elder.id) == col(Case.elder_id))
        .where(one_of(col(Case.id), "ids", postgres=pg))
    )
)
# Built once, the reads of a batch of ladder steps (`read_steps`): its cases, locked, as
# many as are free, with their elders in the same statement (the cases' rows locked only,
# as before); the alert keys their ladders used already. One text each on PostgreSQL
# whatever the batch's size (`one_of`).
_STEP_CASES = Pair(
    lambda pg: (
        select(Case, Elder)
        .outerjoin(Elder, col(Elder.id) == col(Case.elder_id))
        .where(one_of(col(Case.id), "ids", postgres=pg))
        .with_for_update(skip_locked=True, of=Case)
    )
)
_STEP_KEYS = Pair(
    lambda pg: select(Notification.idempotency_key).where(
        one_of(col(Notification.case_id), "ids", postgres=pg),
        col(Notification.idempotency_key).startswith(ALERT_KEY_PREFIX),
    )
)
