"""Calls and texts to the centre's number: who rang, the case it opens, and missed calls.

A call from an elder opens or joins their case of the chosen line exactly as a press of
their terminal would (the intake planner's join key, the same ladder and history), by
`phone:<number>` instead of `device:<id>`. A call no operator answered is a missed call
with a callback due within 5 minutes (遇忙时5分钟内回拨).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlmodel import Session, col, select

from care_api.domain.errors import Conflict, NotFound
from care_api.domain.events import CallMissed, CasePressedAgain
from care_api.domain.hotline import (
    WAITING,
    CallerKind,
    CallStatus,
    callback_due,
)
from care_api.domain.lines import kind_for_line
from care_api.domain.model import CaseKind, ServiceLine, TimerPurpose
from care_api.domain.phones import DEFAULT_REGION, e164_or_none
from care_api.domain.texts import Msg, msg_json, term
from care_api.store.tables import Case, Device, Elder, HotlineCall, Timer, WalkInCaller
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import add_note, open_case
from care_api.usecases.dispatch.responders import SUPERVISOR, identify_phone
from care_api.usecases.intake.plan import join_key, running_cases
from care_api.usecases.people.languages import language_of_person
from care_api.usecases.schedules.rotas import who_is_on_duty

PHONE_SOURCE = "phone"
MAX_PHONE_CHARS = 32
MAX_TEXT_CHARS = 900
_KINDS = {
    "contact": CallerKind.CONTACT,
    "volunteer": CallerKind.VOLUNTEER,
    "merchant": CallerKind.MERCHANT,
    SUPERVISOR: CallerKind.SUPERVISOR,
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a number belongs to: an elder, someone the alerts know, or a stranger."""

    kind: CallerKind
    phone: str  # E.164 when the number is one, else as Twilio gave it
    actors: tuple[str, ...]  # contact:3, volunteer:2 … (for an elder: elder:<id>)
    elder_id: int | None  # the elder, or a stranger's walk-in record once they have one
    language: str

    @property
    def by(self) -> str:
        """How the case history names what this caller did: `phone:+86…`."""
        return f"{PHONE_SOURCE}:{self.phone}"


def recognise(
    session: Session,
    raw_phone: str,
    *,
    region: str = DEFAULT_REGION,
    supervisor_phone: str | None,
    centre_language: str,
) -> Caller:
    """Who rang from `raw_phone`: an elder (their phone), else whom the alerts know, or nobody.

    Contacts, volunteers, merchants and the supervisor are found as their SMS replies are.
    """
    e164 = e164_or_none(raw_phone, region)
    phone = (e164 or raw_phone.strip())[:MAX_PHONE_CHARS]
    if e164 is None:
        # A withheld number ("anonymous"): such callers share one walk-in record, not one each.
        known = session.exec(select(WalkInCaller).where(col(WalkInCaller.phone) == phone)).first()
        elder_id = known.elder_id if known is not None else None
        return Caller(CallerKind.STRANGER, phone, (), elder_id, centre_language)
    elder = session.exec(
        select(Elder).where(col(Elder.phone) == e164).order_by(col(Elder.id))
    ).first()
    if elder is None:
        # A terminal is a phone too: a call from its SIM is its elder's.
        elder = session.exec(
            select(Elder)
            .join(Device, col(Device.elder_id) == col(Elder.id))
            .where(col(Device.sim_phone) == e164, col(Device.status) != "retired")
        ).first()
    if elder is not None and elder.id is not None:
        actor = f"elder:{elder.id}"
        language = language_of_person(session, actor, centre=centre_language)
        if session.get(WalkInCaller, elder.id) is not None:
            return Caller(CallerKind.STRANGER, e164, (), elder.id, language)
        return Caller(CallerKind.ELDER, e164, (actor,), elder.id, language)
    actors = identify_phone(session, e164, supervisor_phone=supervisor_phone, region=region)
    if not actors:
        return Caller(CallerKind.STRANGER, e164, (), None, centre_language)
    kind = _KINDS.get(actors[0].partition(":")[0], CallerKind.CONTACT)
    language = language_of_person(session, actors[0], centre=centre_language)
    return Caller(kind, e164, tuple(actors), None, language)


def seen(session: Session, sid: str, *, lock: bool = False) -> HotlineCall | None:
    """The call or text Twilio named `sid`, if it reached us before; `lock`: for update.

    Locked, two deliveries of the same step (a retry racing a replay) take turns: the second
    sees what the first did.
    """
    query = select(HotlineCall).where(col(HotlineCall.sid) == sid)
    return session.exec(query.with_for_update() if lock else query).first()


def start_call(
    uow: SqlUnitOfWork,
    sid: str,
    caller: Caller,
    *,
    status: CallStatus,
    now: datetime,
    channel: str = "voice",
) -> HotlineCall:
    """Record a call (or text) to the centre; Conflict when `sid` was recorded already."""
    if seen(uow.session, sid) is not None:
        raise Conflict(Msg("{channel} {sid} was already received", channel=channel, sid=sid))
    row = HotlineCall(
        sid=sid,
        channel=channel,
        phone=caller.phone,
        caller=caller.kind.value,
        actor=caller.actors[0] if caller.actors else "",
        elder_id=caller.elder_id,
        status=status.value,
        language=caller.language,
        started_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def walk_in_elder(uow: SqlUnitOfWork, caller: Caller, *, now: datetime) -> int:
    """The elder record of a stranger, opened on their first call or text: named by the number."""
    if caller.elder_id is not None:
        return caller.elder_id
    elder = Elder(name=caller.phone, phone=caller.phone, created_at=now)
    uow.session.add(elder)
    uow.session.flush()
    if elder.id is None:  # pragma: no cover - flushed above
        raise RuntimeError("walk-in elder has no id")
    uow.session.add(WalkInCaller(elder_id=elder.id, phone=caller.phone, created_at=now))
    return elder.id


def open_or_join(
    uow: SqlUnitOfWork,
    elder_id: int,
    line: ServiceLine | None,
    *,
    by: str,
    trigger: str,
    now: datetime,
    tz: tzinfo,
    kind: CaseKind | None = None,
) -> tuple[Case, bool]:
    """Open the elder's case of `line` (kind: the line's), or join the one running; True if joined.

    The same join rule as a press (the planner's `join_key`; a call is never a drill), the
    same history row a repeated press writes, and the same event, so the alerts tell the
    console and whoever owns the case that the elder called again.
    """
    kind = kind or (kind_for_line(line) if line is not None else CaseKind.CONSULT)
    uow.session.flush()  # the running cases are read with Core, past the ORM's pending rows
    running = running_cases(uow.session.connection(), {elder_id}).get(
        join_key(elder_id, kind, line, False)
    )
    if running is not None:
        case = uow.session.get(Case, running.case_id)
        if case is None:  # pragma: no cover - read in this transaction a moment ago
            raise RuntimeError(f"running case {running.case_id} vanished")
        add_note(uow, case, action="pressed_again", by=by, why=trigger, now=now)
        uow.emit(CasePressedAgain(case.id, None, running.state))
        return case, True
    case = open_case(
        uow, kind=kind, elder_id=elder_id, trigger=trigger, by=by, now=now, tz=tz, line=line
    )
    return case, False


def active_case_of(session: Session, elder_id: int) -> Case | None:
    """The elder's case a text joins: the oldest running emergency, else the newest running case."""
    running = running_cases(session.connection(), {elder_id})
    if not running:
        return None
    ids = [r.case_id for r in running.values()]
    cases = session.exec(select(Case).where(col(Case.id).in_(ids))).all()
    cases = [c for c in cases if c.kind != CaseKind.DEVICE]
    emergencies = sorted(
        (c for c in cases if c.kind == CaseKind.EMERGENCY), key=lambda c: c.opened_at
    )
    if emergencies:
        return emergencies[0]
    return max(cases, key=lambda c: c.opened_at, default=None)


def text_in(
    uow: SqlUnitOfWork, call: HotlineCall, caller: Caller, text: str, *, now: datetime, tz: tzinfo
) -> tuple[Case, bool]:
    """An SMS to the centre from an elder or a stranger: into their running case, or a new one.

    The new case is a consultation the operator classifies; the text goes into the history.
    """
    body = " ".join(text.split())[:MAX_TEXT_CHARS] or "(empty message)"
    elder_id = walk_in_elder(uow, caller, now=now)
    case = active_case_of(uow.session, elder_id)
    joined = case is not None
    if case is None:
        case, _ = open_or_join(
            uow, elder_id, None, by=caller.by, trigger=Msg("SMS to the centre"), now=now, tz=tz
        )
        # The text is the title the operator reads; its key goes too, or the API would show
        # the opening's title instead.
        summary = Msg("SMS: {text}", text=body)
        case.summary, case.summary_msg = summary[:500], msg_json(summary)
        uow.session.add(case)
    add_note(uow, case, action="sms", by=caller.by, why=body, now=now)
    attach(uow, call, case, elder_id=elder_id, now=now)
    call.status = CallStatus.SMS.value
    return case, joined


def attach(
    uow: SqlUnitOfWork, call: HotlineCall, case: Case, *, elder_id: int, now: datetime
) -> None:
    """The call is about `case`."""
    call.case_id = case.id
    call.elder_id = elder_id
    call.line = case.line
    call.updated_at = now
    uow.session.add(call)


def operator_phones(session: Session, now: datetime) -> list[str]:
    """The phones of the operators on duty now, the latest to start first, each once."""
    duty = who_is_on_duty(session, now, fallback_phone=None)
    phones: list[str] = []
    for shift in duty.operators:
        if shift.phone and shift.phone not in phones:
            phones.append(shift.phone)
    return phones


def set_status(uow: SqlUnitOfWork, call: HotlineCall, status: CallStatus, *, now: datetime) -> None:
    """Move the call on."""
    call.status = status.value
    call.updated_at = now
    uow.session.add(call)


def mark_missed(
    uow: SqlUnitOfWork, call: HotlineCall, *, why: str, now: datetime, tz: tzinfo
) -> bool:
    """Nobody at the centre answered: a missed call, a callback due in 5 minutes, its timer.

    False when it was missed (or answered) already: a late report changes nothing.
    """
    if CallStatus(call.status) not in WAITING:
        return False
    due = callback_due(now)
    call.status = CallStatus.MISSED.value
    call.missed_at = now
    call.callback_due_at = due
    call.updated_at = now
    uow.session.add(call)
    uow.session.flush()
    if call.id is None:  # pragma: no cover - flushed above
        raise RuntimeError("missed call has no id")
    uow.session.add(
        Timer(purpose=TimerPurpose.MISSED_CALL, step=call.id, due_at=due, created_at=now)
    )
    uow.emit(CallMissed(call_id=call.id, phone=call.phone, case_id=call.case_id))
    if call.case_id is not None:
        case = uow.session.get(Case, call.case_id)
        if case is not None:
            local = due.astimezone(tz).strftime("%H:%M")
            note = Msg(
                "missed call from {phone} ({why}); call back by {time}",
                phone=call.phone,
                why=why,
                time=local,
            )
            add_note(
                uow,
                case,
                action="missed_call",
                by=f"{PHONE_SOURCE}:{call.phone}",
                why=note,
                now=now,
            )
    return True


def dial_ended(
    uow: SqlUnitOfWork, call: HotlineCall, dial_status: str, *, now: datetime, tz: tzinfo
) -> bool:
    """Twilio's DialCallStatus for the operators' phones; True when the call is now missed."""
    call.dial_status = dial_status[:16]
    uow.session.add(call)
    if dial_status in ("completed", "answered"):
        if CallStatus(call.status) in WAITING:
            set_status(uow, call, CallStatus.ANSWERED, now=now)
        return False
    why = Msg("no operator answered ({status})", status=term(dial_status))
    return mark_missed(uow, call, why=why, now=now, tz=tz)


def call_ended(
    uow: SqlUnitOfWork, sid: str, call_status: str, *, now: datetime, tz: tzinfo
) -> HotlineCall | None:
    """The caller's leg ended: one still in the menu or queue hung up unserved (missed).

    Returns the call when that made it missed, else None.
    """
    call = seen(uow.session, sid)
    if call is None:
        return None
    if CallStatus(call.status) is CallStatus.PROMPT:
        set_status(uow, call, CallStatus.HANDLED, now=now)
        return None
    why = Msg("caller hung up ({status})", status=term(call_status))
    if mark_missed(uow, call, why=why, now=now, tz=tz):
        return call
    return None


def called_back(
    uow: SqlUnitOfWork, call_id: int, *, by: str, note: str, now: datetime
) -> HotlineCall:
    """An operator called the caller back: the missed call is settled.

    Raises:
        NotFound: no such call.
        Conflict: it was not missed, or was called back already.
    """
    call = uow.session.get(HotlineCall, call_id, with_for_update=True)
    if call is None:
        raise NotFound(Msg("call {call_id} not found", call_id=call_id))
    if CallStatus(call.status) is not CallStatus.MISSED:
        raise Conflict(
            Msg(
                "call {call_id} is {status}, not a missed call",
                call_id=call_id,
                status=term(call.status),
            )
        )
    if call.called_back_at is not None:
        raise Conflict(
            Msg(
                "call {call_id} was called back already by {called_back_by}",
                call_id=call_id,
                called_back_by=call.called_back_by,
            )
        )
    call.called_back_at = now
    call.called_back_by = by
    call.callback_note = note.strip()[:500]
    call.updated_at = now
    uow.session.add(call)
    if call.case_id is not None:
        case = uow.session.get(Case, call.case_id)
        if case is not None:
            why = (
                Msg("called {phone} back: {note}", phone=call.phone, note=call.callback_note)
                if call.callback_note
                else Msg("called {phone} back", phone=call.phone)
            )
            add_note(uow, case, action="called_back", by=by, why=why, now=now)
    return call


def chase_missed(uow: SqlUnitOfWork, call_id: int, *, now: datetime) -> HotlineCall | None:
    """The 5 minutes of a missed call ran out: the call, when it still waits for its callback."""
    call = uow.session.get(HotlineCall, call_id, with_for_update=True)
    if call is None or call.called_back_at is not None or call.overdue_at is not None:
        return None
    if call.callback_due_at is None or call.callback_due_at > now:
        return None
    call.overdue_at = now
    uow.session.add(call)
    if call.case_id is not None:
        case = uow.session.get(Case, call.case_id)
        if case is not None:
            why = Msg("missed call from {phone} not called back within 5 minutes", phone=call.phone)
            add_note(uow, case, action="flag", by="system:vnh", why=why, now=now)
    return call


def missed_calls(
    session: Session, *, waiting_only: bool = True, limit: int = 200
) -> list[HotlineCall]:
    """Missed calls, the callback due soonest first; by default only those not called back."""
    query = select(HotlineCall).where(col(HotlineCall.status) == CallStatus.MISSED.value)
    if waiting_only:
        query = query.where(col(HotlineCall.called_back_at).is_(None))
    query = query.order_by(col(HotlineCall.callback_due_at), col(HotlineCall.id))
    return list(session.exec(query.limit(limit)).all())


def recent_calls(
    session: Session, since: datetime, until: datetime, limit: int = 500
) -> list[HotlineCall]:
    """Calls and texts to the centre in `[since, until)`, newest first."""
    return list(
        session.exec(
            select(HotlineCall)
            .where(col(HotlineCall.started_at) >= since, col(HotlineCall.started_at) < until)
            .order_by(col(HotlineCall.started_at).desc(), col(HotlineCall.id).desc())
            .limit(limit)
        ).all()
    )
