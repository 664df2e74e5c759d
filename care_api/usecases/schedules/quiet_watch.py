"""No-activity watches: per elder, a quiet period, a prompt on the terminal, a case.

Each active watch has one pending "quiet" timer (step = the elder's id). Presses write no
row here: when the timer fires, the last sign of life is read from the device events, and
the timer is set again from it. So a busy elder costs nothing and a crash loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_api.domain.errors import NotFound
from care_api.domain.model import CaseKind, TimerPurpose
from care_api.domain.quiet import ACTIVITY_TYPES, QuietAction, QuietDecision, check_periods, decide
from care_api.domain.texts import Msg
from care_api.store.tables import Case, Device, DeviceEvent, QuietWatch, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import add_note, open_case
from care_api.usecases.fleet.commands import CommandName, request_command
from care_api.usecases.people.registry import get_elder
from care_api.usecases.schedules.checkins import away_days

QUIET_ACTOR = "system:quiet"
PROMPT_SAY = "Hello, this is your care centre. Are you all right? Please press your button."


@dataclass(frozen=True, slots=True)
class WatchView:
    """A watch with the last sign of life it knows and when it looks next."""

    watch: QuietWatch
    last_activity_at: datetime
    next_check_at: datetime | None


def last_activity(session: Session, watch: QuietWatch) -> datetime:
    """The elder's last press or cancel on any of their terminals, or when the watch (re)started."""
    latest = session.exec(
        select(func.max(DeviceEvent.received_at))
        .join(Device, col(Device.device_id) == col(DeviceEvent.device_id))
        .where(
            col(Device.elder_id) == watch.elder_id,
            col(DeviceEvent.type).in_(sorted(ACTIVITY_TYPES)),
        )
    ).first()
    floor = watch.last_activity_at or watch.updated_at
    if latest is None:
        return floor
    return max(floor, _aware(latest, floor))


def _aware(moment: datetime, like: datetime) -> datetime:
    # max() over the column may come back naive on SQLite; the stored times are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=like.tzinfo)


def put_watch(
    session: Session, elder_id: int, *, quiet_s: int, grace_s: int, by: str, now: datetime
) -> QuietWatch:
    """Start (or change and restart) the elder's watch; the quiet period counts from now."""
    get_elder(session, elder_id)
    check_periods(timedelta(seconds=quiet_s), timedelta(seconds=grace_s))
    watch = session.get(QuietWatch, elder_id) or QuietWatch(elder_id=elder_id, updated_at=now)
    watch.quiet_s, watch.grace_s, watch.active = quiet_s, grace_s, True
    watch.last_activity_at, watch.prompted_at = now, None
    watch.updated_by, watch.updated_at = by, now
    session.add(watch)
    _cancel_timers(session, elder_id)
    due = now + timedelta(seconds=quiet_s)
    session.add(Timer(purpose=TimerPurpose.QUIET, step=elder_id, due_at=due, created_at=now))
    return watch


def stop_watch(session: Session, elder_id: int, *, by: str, now: datetime) -> None:
    """Stop the elder's watch."""
    watch = session.get(QuietWatch, elder_id)
    if watch is None or not watch.active:
        raise NotFound(Msg("elder {elder_id} has no quiet watch", elder_id=elder_id))
    watch.active, watch.prompted_at = False, None
    watch.updated_by, watch.updated_at = by, now
    session.add(watch)
    _cancel_timers(session, elder_id)


def view_watch(session: Session, elder_id: int) -> WatchView | None:
    """The elder's watch, or None when it never had one."""
    get_elder(session, elder_id)
    watch = session.get(QuietWatch, elder_id)
    if watch is None:
        return None
    due = session.exec(
        select(func.min(Timer.due_at)).where(
            col(Timer.purpose) == TimerPurpose.QUIET,
            col(Timer.step) == elder_id,
            col(Timer.fired_at).is_(None),
            col(Timer.cancelled).is_(False),
        )
    ).first()
    last = last_activity(session, watch)
    return WatchView(watch, last, _aware(due, last) if due is not None else None)


def _cancel_timers(session: Session, elder_id: int) -> None:
    for timer in session.exec(
        select(Timer).where(
            col(Timer.purpose) == TimerPurpose.QUIET,
            col(Timer.step) == elder_id,
            col(Timer.fired_at).is_(None),
        )
    ).all():
        timer.cancelled = True
        session.add(timer)


def run_watch(
    uow: SqlUnitOfWork, watch: QuietWatch, *, now: datetime, tz: tzinfo
) -> tuple[QuietDecision, Case | None]:
    """One look of the watch: prompt the terminals, open a case, or wait.

    The caller schedules the next look at the decision's `next_at`.
    """
    session = uow.session
    last = last_activity(session, watch)
    decision = decide(
        now=now,
        last_activity=last,
        prompted_at=watch.prompted_at,
        quiet=timedelta(seconds=watch.quiet_s),
        grace=timedelta(seconds=watch.grace_s),
        away=now.astimezone(tz).date() in away_days(session, watch.elder_id),
    )
    case = None
    if decision.action is QuietAction.PROMPT:
        devices = session.exec(
            select(Device).where(col(Device.elder_id) == watch.elder_id, Device.status == "active")
        ).all()
        for device in devices:
            request_command(
                uow,
                device.device_id,
                CommandName.RING,
                {"say": PROMPT_SAY, "reason": "quiet"},
                by=QUIET_ACTOR,
                now=now,
            )
        watch.prompted_at = now
    elif decision.action is QuietAction.ANSWERED:
        watch.prompted_at = None
    elif decision.action is QuietAction.CASE:
        hours = watch.quiet_s / 3600
        case = open_case(
            uow,
            kind=CaseKind.CARE,
            elder_id=watch.elder_id,
            trigger=Msg("no activity for {hours} h, prompt unanswered", hours=f"{hours:g}"),
            by=QUIET_ACTOR,
            now=now,
            tz=tz,
        )
        add_note(
            uow,
            case,
            action="note",
            by=QUIET_ACTOR,
            why=Msg(
                "last sign of life {last}; terminal prompted {prompted}, no press since",
                last=last.isoformat(),
                prompted=watch.prompted_at.isoformat() if watch.prompted_at else "-",
            ),
            now=now,
        )
        watch.case_id = case.id
        watch.prompted_at = None
        watch.last_activity_at = now  # a new quiet period starts with the case
    session.add(watch)
    return decision, case
