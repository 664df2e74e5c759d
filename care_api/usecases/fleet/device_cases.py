"""A terminal's problems (offline, battery low, power lost) and the one device case they share.

Each problem is a flag on the device row, raised once and cleared once. Raising a problem
opens a `device` case for the terminal's elder, or notes it in the case already open for
that terminal, so a terminal never has two device cases at a time. Clearing the last
problem resolves the case by itself, saying what came back and, for an outage, how long
it lasted. Mains power and the battery may flap (a loose plug, a reading that hovers at the
threshold): when they clear soon after the case last changed, the case waits until they
have held for `STEADY_S` (a `device_settle` timer) before it resolves, so a flapping state
makes one case and one "works again", not one per flap.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_api.domain.cases import is_active
from care_api.domain.fleet import BatteryChange, Problem, battery_change, describe_duration
from care_api.domain.model import CaseKind, TimerPurpose
from care_api.domain.texts import Msg, term
from care_api.store.tables import Case, CaseEvent, Device, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.actions import resolve
from care_api.usecases.cases.log import add_note, find_active_case, open_case
from care_api.usecases.fleet.storms import hold_in_storm, note_back

log = logging.getLogger(__name__)

POWER_LOST = "lost"
POWER_RESTORED = "restored"
# Long enough for a loose plug or a hovering battery reading to show itself again; short
# enough that the family hears "works again" the same quarter of an hour.
STEADY_S = 300
SETTLE_BY = "system:device-settle"


def problems_of(device: Device) -> list[Problem]:
    """The problems flagged on the terminal now."""
    flags = {
        Problem.OFFLINE: device.outage_since is not None,
        Problem.BATTERY_LOW: device.battery_low,
        Problem.POWER_LOST: device.power_lost,
    }
    return [problem for problem, on in flags.items() if on]


def active_device_case(uow: SqlUnitOfWork, device: Device) -> Case | None:
    """The terminal's device case still open for its elder, if any."""
    if device.elder_id is None:
        return None
    return find_active_case(uow.session, device.elder_id, CaseKind.DEVICE, device.device_id)


def raise_problem(
    uow: SqlUnitOfWork,
    device: Device,
    *,
    trigger: str,
    by: str,
    now: datetime,
    tz: tzinfo,
    device_event_id: int | None = None,
    problem: Problem | None = None,
    storm: bool = True,
) -> Case | None:
    """Open the terminal's device case, or note `trigger` in the one open; None if unbound.

    The caller has set the problem's flag on `device` already; `problem` picks the case's
    Contact ID code. A power loss or outage that an area incident holds (`storm`) opens
    nothing: None.
    """
    uow.session.add(device)
    if device.elder_id is None:
        return None
    active = active_device_case(uow, device)
    if (
        storm
        and problem is not None
        and hold_in_storm(uow, device, problem, now=now, has_case=active is not None)
    ):
        return None
    if active is not None:
        add_note(uow, active, action="note", by=by, why=trigger, now=now)
        return active
    case = open_case(
        uow,
        kind=CaseKind.DEVICE,
        elder_id=device.elder_id,
        trigger=trigger,
        by=by,
        now=now,
        tz=tz,
        device_id=device.device_id,
        device_event_id=device_event_id,
        cause=problem.value if problem is not None else None,
    )
    log.info("device case opened case=%s device=%s: %s", case.id, device.device_id, trigger)
    return case


def settle_problem(
    uow: SqlUnitOfWork,
    device: Device,
    *,
    why: str,
    by: str,
    now: datetime,
    steady_s: int = 0,
) -> Case | None:
    """After a flag was cleared: resolve the device case if nothing else is wrong, else note it.

    With `steady_s`, a case that changed less than that long ago resolves only once the
    terminal has stayed fine that long (a `device_settle` timer decides).
    """
    uow.session.add(device)
    active = active_device_case(uow, device)
    if active is None:
        return None
    left = problems_of(device)
    if left:
        still = ", ".join(str(p) for p in left)
        add_note(
            uow,
            active,
            action="note",
            by=by,
            why=Msg("{why}; still {still}", why=why, still=still),
            now=now,
        )
        return active
    if steady_s and not _steady(uow.session, active.id, now, steady_s):
        wait = describe_duration(timedelta(seconds=steady_s))
        add_note(
            uow,
            active,
            action="note",
            by=by,
            why=Msg("{why}; resolves by itself if it stays so for {wait}", why=why, wait=wait),
            now=now,
        )
        due = now + timedelta(seconds=steady_s)
        uow.session.add(
            Timer(
                case_id=active.id,
                purpose=TimerPurpose.DEVICE_SETTLE,
                step=0,
                due_at=due,
                created_at=now,
            )
        )
        return active
    resolve(uow, active.id, by=by, why=Msg("{why}; resolved by itself", why=why), now=now)
    log.info("device case resolved case=%s device=%s: %s", active.id, device.device_id, why)
    return active


def settle_if_steady(uow: SqlUnitOfWork, case_id: str, *, now: datetime) -> Case | None:
    """The `device_settle` timer: resolve the device case if its terminal stayed fine.

    Nothing happens when a problem came back or the case changed since: the timer that
    change set decides later.
    """
    case = uow.session.get(Case, case_id)
    if case is None or case.kind != CaseKind.DEVICE or not is_active(case.state):
        return None
    device = uow.session.get(Device, case.device_id) if case.device_id else None
    if device is None or problems_of(device) or not _steady(uow.session, case.id, now, STEADY_S):
        return None
    wait = describe_duration(timedelta(seconds=STEADY_S))
    resolve(
        uow,
        case.id,
        by=SETTLE_BY,
        why=Msg("fine for {wait}; resolved by itself", wait=wait),
        now=now,
    )
    log.info("device case resolved case=%s device=%s: steady", case.id, device.device_id)
    return case


def _steady(session: Session, case_id: str, now: datetime, steady_s: int) -> bool:
    """True when the case's history has not changed for `steady_s` before `now`."""
    last = session.exec(
        select(func.max(CaseEvent.at)).where(col(CaseEvent.case_id) == case_id)
    ).one()
    return last is None or now - last >= timedelta(seconds=steady_s)


def open_outage(
    uow: SqlUnitOfWork,
    device: Device,
    *,
    last_heard: datetime,
    trigger: str,
    by: str,
    now: datetime,
    tz: tzinfo,
) -> Case | None:
    """The terminal is down: remember since when, and open or update its device case."""
    device.outage_since = last_heard
    device.online = False
    return raise_problem(
        uow, device, trigger=trigger, by=by, now=now, tz=tz, problem=Problem.OFFLINE
    )


def end_outage(
    uow: SqlUnitOfWork,
    device: Device,
    *,
    via: str,
    by: str,
    now: datetime,
    back_at: datetime | None = None,
) -> Case | None:
    """The terminal is back (at `back_at`, default now): the history says how long it was away.

    No-op without an open outage.
    """
    since = device.outage_since
    if since is None:
        return None
    device.outage_since = None
    device.offline_at = None
    device.online = True
    span = describe_duration((back_at or now) - since)
    why = Msg("terminal back ({via}) after an outage of {span}", via=term(via), span=span)
    log.info("device %s back via %s after %s", device.device_id, via, span)
    note_back(uow, device, now=now)
    return settle_problem(uow, device, why=why, by=by, now=now)


def note_battery(
    uow: SqlUnitOfWork,
    device: Device,
    level: int,
    *,
    by: str,
    now: datetime,
    tz: tzinfo,
    device_event_id: int | None = None,
) -> Case | None:
    """A battery reading: a case once per crossing below 20 %, resolved when back above."""
    device.battery = level
    change = battery_change(device.battery_low, level)
    if change is BatteryChange.CROSSED_LOW:
        device.battery_low = True
        return raise_problem(
            uow,
            device,
            trigger=Msg("battery low ({level} %)", level=level),
            by=by,
            now=now,
            tz=tz,
            device_event_id=device_event_id,
            problem=Problem.BATTERY_LOW,
        )
    if change is BatteryChange.RECOVERED:
        device.battery_low = False
        return settle_problem(
            uow,
            device,
            why=Msg("battery back to {level} %", level=level),
            by=by,
            now=now,
            steady_s=STEADY_S,
        )
    return None


def note_power(
    uow: SqlUnitOfWork,
    device: Device,
    state: str,
    *,
    by: str,
    now: datetime,
    tz: tzinfo,
    device_event_id: int | None = None,
) -> Case | None:
    """Mains power lost opens or updates the device case; restored settles it."""
    if state == POWER_LOST:
        device.power_lost = True
        return raise_problem(
            uow,
            device,
            trigger=Msg("mains power lost"),
            by=by,
            now=now,
            tz=tz,
            device_event_id=device_event_id,
            problem=Problem.POWER_LOST,
        )
    if state == POWER_RESTORED and device.power_lost:
        device.power_lost = False
        note_back(uow, device, now=now)
        return settle_problem(
            uow, device, why=Msg("mains power restored"), by=by, now=now, steady_s=STEADY_S
        )
    return None
