"""A fall waits a short window for the elder's `cancel` before it opens the emergency.

Fall sensors fire on a dropped terminal or a quick sit-down; the elder gets
`VNH_FALL_CANCEL_WINDOW_S` (30 s) to send `cancel` with the fall's seq (PROTOCOL.md), as
after a press. The window is a `timer` row ("fall_window", its `step` the fall's
device_event id), so a restart inside the window loses nothing: the sweep opens the
emergency when the row falls due, in whichever process is up.

A fall cancelled inside the window still gets a check-in call: it is recorded as an
emergency case cancelled at once, so nobody is paged, the operators' console is told to
call the elder (as for any cancelled alarm), and the case waits for that call (the
callback) before it closes. A cancel after the window cancels the emergency like any other.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlmodel import col

from care_api.domain.alarm_codes import CAUSE_FALL
from care_api.domain.model import CaseKind, CaseState, TimerPurpose
from care_api.domain.texts import Msg
from care_api.store.tables import Case, Device, DeviceEvent, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import cancel_pending_timers, move_case, open_case, open_or_join
from care_api.usecases.schedules.drills import in_drill

log = logging.getLogger(__name__)

FALL_CANCEL_WINDOW_S = 30
FALL_TRIGGER = Msg("fall detected")


def hold_fall(uow: SqlUnitOfWork, event: DeviceEvent, *, now: datetime, window_s: int) -> Timer:
    """Start the cancel window of a recorded fall: a timer row due `window_s` from now."""
    timer = Timer(
        purpose=TimerPurpose.FALL_WINDOW,
        step=event.id or 0,
        due_at=now + timedelta(seconds=window_s),
        created_at=now,
    )
    uow.session.add(timer)
    log.info(
        "fall held for %d s device=%s boot=%d seq=%d",
        window_s,
        event.device_id,
        event.boot,
        event.seq,
    )
    return timer


def open_held_fall(uow: SqlUnitOfWork, timer: Timer, *, now: datetime, tz: tzinfo) -> Case | None:
    """The window closed without a cancel: open (or join) the elder's emergency."""
    event = uow.session.get(DeviceEvent, timer.step)
    if event is None or event.case_id is not None:
        return None
    device = uow.session.get(Device, event.device_id)
    if device is None or device.elder_id is None or device.status == "retired":
        log.warning("held fall of %s: the terminal has no elder now", event.device_id)
        return None
    window_s = int((timer.due_at - timer.created_at).total_seconds())
    trigger = Msg("fall detected, not cancelled within {s} s", s=window_s)
    case = open_or_join(uow, device, event, CaseKind.EMERGENCY, trigger, now, tz, cause=CAUSE_FALL)
    event.case_id = case.id
    uow.session.add(event)
    return case


def cancel_held_fall(
    uow: SqlUnitOfWork, fall: DeviceEvent, *, by: str, now: datetime, tz: tzinfo
) -> Case | None:
    """The elder cancelled a fall inside its window: no alarm, but the centre checks in.

    Returns the (cancelled) case that asks for the check-in call, or None when the window
    had closed already; the caller then cancels the emergency the window opened.
    """
    stopped = cast(
        CursorResult[Any],
        uow.session.execute(
            update(Timer)
            .where(
                col(Timer.purpose) == TimerPurpose.FALL_WINDOW,
                col(Timer.step) == fall.id,
                col(Timer.fired_at).is_(None),
                col(Timer.cancelled).is_(False),
            )
            .values(cancelled=True)
        ),
    )
    if stopped.rowcount != 1:
        return None  # the sweep fired it first: the emergency exists
    device = uow.session.get(Device, fall.device_id)
    if device is None or device.elder_id is None:
        return None
    after = int((now - fall.received_at).total_seconds())
    case = open_case(
        uow,
        kind=CaseKind.EMERGENCY,
        elder_id=device.elder_id,
        trigger=Msg("fall detected, cancelled by the elder after {s} s", s=after),
        by=by,
        now=now,
        tz=tz,
        device_id=device.device_id,
        device_event_id=fall.id,
        cause=CAUSE_FALL,
        drill=in_drill(uow.session, device.device_id),
    )
    cancel_pending_timers(uow.session, case.id)  # nobody is paged for a cancelled fall
    why = Msg("elder cancelled the fall within the window; the centre calls to check in")
    move_case(uow, case, CaseState.CANCELLED, by=by, why=why, now=now)
    fall.case_id = case.id
    uow.session.add(fall)
    log.info("fall cancelled in its window case=%s device=%s", case.id, device.device_id)
    return case
