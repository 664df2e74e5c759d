"""A watch taken off the wrist: a notice to the elder's first contact and to the console."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo

from sqlmodel import col, select

from care_api.domain.model import CaseKind, TimerPurpose
from care_api.domain.texts import Msg
from care_api.i18n import t
from care_api.store.tables import Case, Contact, Device, Elder, Notification, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import open_case
from care_api.usecases.people.languages import language_of_person

log = logging.getLogger(__name__)

TAKEN_OFF = (
    "{name}'s watch was taken off the wrist at {time}. If that is unexpected, please check on them."
)
WORN_ACTOR = "system:watch"
SEND_AFTER_S = 1  # the alerts sender picks the row up on its next look


def note_taken_off(
    uow: SqlUnitOfWork, device: Device, at: datetime, *, now: datetime, tz: tzinfo, centre: str
) -> int:
    """Tell the first contact (SMS) and the console; once per alarm (its own time stamp).

    Returns how many messages were written (0: this alarm was noted already, or no elder).
    """
    session = uow.session
    elder = session.get(Elder, device.elder_id) if device.elder_id is not None else None
    if elder is None or elder.id is None:
        return 0
    key = f"taken_off:{device.device_id}:{at.isoformat()}"
    noted = select(Notification.id).where(col(Notification.idempotency_key).startswith(key))
    if session.exec(noted).first() is not None:
        return 0  # the watch resent the alarm
    when = at.astimezone(tz).strftime("%H:%M")
    text = t(centre, TAKEN_OFF, name=elder.name, time=when)
    rows = [_row("console", "console", "centre", text, centre, f"{key}:console", now)]
    contact = session.exec(
        select(Contact)
        .where(col(Contact.elder_id) == elder.id, col(Contact.notify_only).is_(False))
        .order_by(col(Contact.priority), col(Contact.id))
        .limit(1)
    ).first()
    if contact is not None:
        recipient = f"contact:{contact.id}"
        language = language_of_person(session, recipient, centre=centre)
        body = t(language, TAKEN_OFF, name=elder.name, time=when)
        rows.append(_row("sms", contact.phone, recipient, body, language, f"{key}:sms", now))
    session.add_all(rows)
    log.info("watch %s taken off the wrist: %d notices", device.device_id, len(rows))
    return len(rows)


def _row(
    channel: str, to: str, recipient: str, body: str, language: str, key: str, now: datetime
) -> Notification:
    phone = channel == "sms"
    return Notification(
        channel=channel,
        to=to,
        recipient=recipient,
        body=body,
        language=language,
        status="pending" if phone else "delivered",
        idempotency_key=key,
        next_attempt_at=now + timedelta(seconds=SEND_AFTER_S) if phone else None,
        created_at=now,
        updated_at=now,
    )


def watch_taken_off(uow: SqlUnitOfWork, elder_id: int, *, now: datetime, after_s: int) -> bool:
    """For an elder flagged for it, a timer: a care case unless the watch is worn again."""
    elder = uow.session.get(Elder, elder_id)
    if elder is None or not elder.taken_off_case:
        return False
    due = now + timedelta(seconds=after_s)
    uow.session.add(
        Timer(purpose=TimerPurpose.TAKEN_OFF, step=elder_id, due_at=due, created_at=now)
    )
    return True


def worn_again(uow: SqlUnitOfWork, elder_id: int) -> int:
    """The watch is on the wrist again: its pending taken-off timers are cancelled."""
    pending = uow.session.exec(
        select(Timer).where(
            col(Timer.purpose) == TimerPurpose.TAKEN_OFF,
            col(Timer.step) == elder_id,
            col(Timer.fired_at).is_(None),
            col(Timer.cancelled).is_(False),
        )
    ).all()
    for timer in pending:
        timer.cancelled = True
        uow.session.add(timer)
    return len(pending)


def open_taken_off_case(
    uow: SqlUnitOfWork, elder_id: int, *, off_since: datetime, now: datetime, tz: tzinfo
) -> Case | None:
    """The watch stayed off the wrist: a care case for the flagged elder (None: not flagged)."""
    elder = uow.session.get(Elder, elder_id)
    if elder is None or not elder.taken_off_case:
        return None
    device = uow.session.exec(
        select(Device)
        .where(col(Device.elder_id) == elder_id, col(Device.status) != "retired")
        .order_by(col(Device.position_at).desc().nulls_last())
    ).first()
    minutes = max(1, round((now - off_since).total_seconds() / 60))
    case = open_case(
        uow,
        kind=CaseKind.CARE,
        elder_id=elder_id,
        trigger=Msg("the watch has been off the wrist for {minutes} min", minutes=minutes),
        by=WORN_ACTOR,
        now=now,
        tz=tz,
        device_id=device.device_id if device is not None else None,
    )
    log.info("elder %d: watch off the wrist for %d min, case %s", elder_id, minutes, case.id)
    return case
