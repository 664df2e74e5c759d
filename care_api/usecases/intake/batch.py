"""Intake of many presses in one transaction: the gateway's hot path, a few statements a batch.

Same rules as `intake.record_device_report`, report by report and in order (a press joins
the case an earlier press of the batch opened), but each table is read and written once
per batch instead of once per press. The `(device_id, boot, seq)` unique key stays the
truth: a key another process committed meanwhile makes the insert fail, and the batch is
then recorded one report at a time by `record_device_report`, which answers `duplicate`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from care_api.domain.alarm_codes import contact_id_for_case
from care_api.domain.cases import ACTIVE, summary_for
from care_api.domain.events import CaseOpened, CasePressedAgain
from care_api.domain.keymap import PressRoute, route_press
from care_api.domain.model import (
    CaseKind,
    CaseState,
    DeviceReport,
    EventKey,
    IntakeOutcome,
    IntakeStatus,
    ReportType,
)
from care_api.store.tables import Case, CaseEvent, Device, DeviceEvent, Elder, Timer
from care_api.store.uow import SqlUnitOfWork, UowFactory
from care_api.usecases.cases.log import LADDER_TIMER
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.schedules.checkins import elders_checking_in
from care_api.usecases.schedules.drills import drilled_devices

log = logging.getLogger(__name__)


def _table(model: type[SQLModel]) -> Table:
    # The Core table behind a model, for statements the ORM has nothing to track in.
    return SQLModel.metadata.tables[str(model.__tablename__)]


_DEVICE = _table(Device)
_ELDER = _table(Elder)
_EVENT = _table(DeviceEvent)
_CASE = _table(Case)
_CASE_EVENT = _table(CaseEvent)
_TIMER = _table(Timer)
_ACTIVE_STATES = [state.value for state in ACTIVE]

# Built once: building a statement costs more than running it on a small batch.
_SOURCES = (
    select(
        _DEVICE.c.device_id,
        _DEVICE.c.elder_id,
        _DEVICE.c.status,
        _DEVICE.c.hub_port,
        _ELDER.c.keymap_override,
    )
    .select_from(_DEVICE.outerjoin(_ELDER, _ELDER.c.id == _DEVICE.c.elder_id))
    .where(_DEVICE.c.device_id.in_(bindparam("ids", expanding=True)))
)
_EXISTING = select(_EVENT.c.device_id, _EVENT.c.boot, _EVENT.c.seq, _EVENT.c.case_id).where(
    tuple_(_EVENT.c.device_id, _EVENT.c.boot, _EVENT.c.seq).in_(bindparam("keys", expanding=True))
)
# Newest first, so that in a dict the oldest is written last and wins.
_ACTIVE = (
    select(_CASE.c.id, _CASE.c.elder_id, _CASE.c.kind, _CASE.c.state, _CASE.c.line)
    .where(
        _CASE.c.elder_id.in_(bindparam("elders", expanding=True)),
        _CASE.c.state.in_(_ACTIVE_STATES),
    )
    .order_by(_CASE.c.opened_at.desc(), _CASE.c.id.desc())
)
_INSERT_EVENTS = insert(_EVENT).returning(_EVENT.c.id, sort_by_parameter_order=True)
_TOUCH_DEVICE = (
    update(_DEVICE)
    .where(_DEVICE.c.device_id == bindparam("d"))
    .values(last_seen_at=bindparam("now"), online=True)
)
_TOUCH_CASE = update(_CASE).where(_CASE.c.id == bindparam("c")).values(updated_at=bindparam("now"))
_INSERT_CASES = insert(_CASE)
_INSERT_TIMERS = insert(_TIMER)
_INSERT_HISTORY = insert(_CASE_EVENT)

# Hands out `count` case numbers of one day in one statement: the row lock it takes
# serialises numbering between processes, as `case_log.next_case_id` does for one.
_TAKE_NUMBERS = text(
    "INSERT INTO case_counter (day, last) VALUES (:day, :count) "
    "ON CONFLICT (day) DO UPDATE SET last = case_counter.last + :count RETURNING last"
)


@dataclass(frozen=True, slots=True)
class _Source:
    elder_id: int | None
    status: str
    hub_port: str | None
    keymap_override: dict[str, str] | None


@dataclass(frozen=True)
class _Active:
    case_id: str
    state: CaseState


@dataclass
class _Plan:
    """What the batch writes, decided report by report (in order) before anything is written."""

    done: dict[int, IntakeOutcome] = field(default_factory=dict)  # rejected, duplicate
    dup_of: dict[int, int] = field(default_factory=dict)  # a key sent twice in this batch
    new: list[int] = field(default_factory=list)  # reports to insert, in order
    routes: dict[int, PressRoute] = field(default_factory=dict)  # kind and service line
    triggers: dict[int, str] = field(default_factory=dict)
    opener: dict[int, int] = field(default_factory=dict)  # → the press opening its case
    joined: dict[int, str] = field(default_factory=dict)  # → an active case it joins
    joined_state: dict[int, CaseState] = field(default_factory=dict)  # that case's state


class _CheckingIn(Exception):
    """A press of the batch needs rules only the one-by-one path has.

    It may be an elder's check-in (a window open, or one missed), or open a consultation,
    which gets a working-day deadline.
    """


def is_batchable(report: DeviceReport) -> bool:
    """True for reports `record_presses` takes: presses (the rest go one by one)."""
    return report.type is ReportType.PRESS


def record_presses(
    uow_factory: UowFactory, reports: Sequence[DeviceReport], *, now: datetime, tz: tzinfo
) -> list[IntakeOutcome]:
    """Record `reports` (presses) in one transaction; one outcome each, in order; commits.

    Raises:
        ValueError: a report is not a press.
    """
    if not all(is_batchable(r) for r in reports):
        raise ValueError("record_presses takes presses only")
    if not reports:
        return []
    with uow_factory() as uow:
        try:
            outcomes = _record(uow, reports, now, tz)
            uow.commit()
        except IntegrityError:
            # Another process committed one of these keys since we looked: go one by one.
            uow.rollback()
        except _CheckingIn:
            # A press may be an elder's "I'm OK", on time or late: intake's own
            # rules decide it.
            uow.rollback()
            return [record_device_report(uow_factory, r, now=now, tz=tz) for r in reports]
        else:
            return outcomes
    log.info("press batch of %d met a key committed meanwhile; one by one", len(reports))
    return [record_device_report(uow_factory, r, now=now, tz=tz) for r in reports]


def _record(
    uow: SqlUnitOfWork, reports: Sequence[DeviceReport], now: datetime, tz: tzinfo
) -> list[IntakeOutcome]:
    conn = uow.session.connection()  # Core statements: the ORM has nothing to track here
    sources = _sources(conn, {r.key.device_id for r in reports})
    elders = {s.elder_id for s in sources.values() if s.elder_id is not None}
    if elders_checking_in(uow.session, elders, now, tz):
        raise _CheckingIn
    plan = _plan(reports, sources, _existing(conn, reports), _active_cases(conn, elders))
    if any(plan.routes[i].kind is CaseKind.CONSULT for i in plan.new if plan.opener.get(i) == i):
        raise _CheckingIn  # rare, and its deadline is written by `case_log.open_case`
    case_ids: dict[int, str] = {}
    if plan.new:
        case_ids = _number_cases(conn, plan, now, tz)
        drills = drilled_devices(uow.session, sources)
        _write(uow, conn, reports, plan, case_ids, sources, drills, now)
    outcomes: list[IntakeOutcome] = []
    for i in range(len(reports)):
        if i in plan.done:
            outcomes.append(plan.done[i])
        elif i in plan.dup_of:
            outcomes.append(IntakeOutcome(IntakeStatus.DUPLICATE, case_id=case_ids[plan.dup_of[i]]))
        else:
            outcomes.append(
                IntakeOutcome(IntakeStatus.ACCEPTED, case_id=case_ids[i], kind=plan.routes[i].kind)
            )
    return outcomes


def _plan(
    reports: Sequence[DeviceReport],
    sources: dict[str, _Source],
    seen: dict[EventKey, str | None],
    active: dict[tuple[int, str, str | None], _Active],
) -> _Plan:
    plan = _Plan()
    first: dict[EventKey, int] = {}
    opened: dict[tuple[int, str, str | None], int] = {}
    for i, report in enumerate(reports):
        source = sources.get(report.key.device_id)
        rejected = _check(report, source)
        if rejected is not None or source is None or source.elder_id is None:
            plan.done[i] = rejected or IntakeOutcome.rejected("unknown device")
            continue
        if report.key in seen:
            plan.done[i] = IntakeOutcome(IntakeStatus.DUPLICATE, case_id=seen[report.key])
            continue
        if report.key in first:
            plan.dup_of[i] = first[report.key]
            continue
        first[report.key] = i
        button = str(report.fields.get("button", "main"))
        pattern = str(report.fields.get("pattern", "single"))
        route = route_press(button, pattern, source.keymap_override)
        plan.new.append(i)
        plan.routes[i] = route
        plan.triggers[i] = f"{button} {pattern} press"
        # Cases of different service lines never fold together.
        key = (source.elder_id, route.kind.value, route.line)
        if key in active:
            plan.joined[i] = active[key].case_id
            plan.joined_state[i] = active[key].state
        elif key in opened:
            plan.opener[i] = opened[key]
        else:
            opened[key] = plan.opener[i] = i
    return plan


def _check(report: DeviceReport, source: _Source | None) -> IntakeOutcome | None:
    # The same checks, in the same order, as intake._check_source.
    if source is None:
        return IntakeOutcome.rejected("unknown device")
    if source.status == "retired":
        return IntakeOutcome.rejected("device retired")
    if source.elder_id is None:
        return IntakeOutcome.rejected("device not bound to an elder")
    if report.source.startswith("serial:") and source.hub_port not in (None, report.source[7:]):
        return IntakeOutcome.rejected("device not behind this hub")
    return None


def _number_cases(conn: Connection, plan: _Plan, now: datetime, tz: tzinfo) -> dict[int, str]:
    """Case ids of every new report: fresh numbers for openers, in order; joiners share."""
    openers = [i for i in plan.new if plan.opener.get(i) == i]
    case_ids: dict[int, str] = {}
    if openers:
        day = now.astimezone(tz).strftime("%Y%m%d")
        last = conn.execute(_TAKE_NUMBERS, {"day": day, "count": len(openers)}).scalar_one()
        first = int(last) - len(openers) + 1
        case_ids = {i: f"C-{day}-{first + n:04d}" for n, i in enumerate(openers)}
    for i in plan.new:
        case_ids[i] = plan.joined[i] if i in plan.joined else case_ids[plan.opener[i]]
    return case_ids


def _write(
    uow: SqlUnitOfWork,
    conn: Connection,
    reports: Sequence[DeviceReport],
    plan: _Plan,
    case_ids: dict[int, str],
    sources: dict[str, _Source],
    drills: set[str],
    now: datetime,
) -> None:
    event_rows = [
        {
            "device_id": reports[i].key.device_id,
            "boot": reports[i].key.boot,
            "seq": reports[i].key.seq,
            "type": reports[i].type.value,
            "fields": dict(reports[i].fields),
            "source": reports[i].source,
            "case_id": case_ids[i],
            "received_at": now,
        }
        for i in plan.new
    ]
    # The unique key is checked here, before any case is written.
    ids = conn.execute(_INSERT_EVENTS, event_rows).scalars()
    event_ids = dict(zip(plan.new, ids, strict=True))
    devices = sorted({reports[i].key.device_id for i in plan.new})
    conn.execute(_TOUCH_DEVICE, [{"d": d, "now": now} for d in devices])
    cases: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    timers: list[dict[str, Any]] = []
    for i in plan.new:
        device_id, case_id = reports[i].key.device_id, case_ids[i]
        by, why = f"device:{device_id}", plan.triggers[i]
        if plan.opener.get(i) == i:
            elder_id = sources[device_id].elder_id
            kind, line = plan.routes[i].kind, plan.routes[i].line
            code = contact_id_for_case(kind)
            cases.append(
                {
                    "id": case_id,
                    "kind": kind.value,
                    "state": CaseState.OPEN.value,
                    "elder_id": elder_id,
                    "device_id": device_id,
                    "device_event_id": event_ids[i],
                    "summary": summary_for(kind, why),
                    "opened_at": now,
                    "updated_at": now,
                    "contact_id": code.code if code is not None else None,
                    "drill": device_id in drills,
                    "line": line,
                }
            )
            history.append(_history(case_id, now, by, "opened", why, CaseState.OPEN.value))
            timers.append(
                {
                    "case_id": case_id,
                    "purpose": LADDER_TIMER,
                    "step": 0,
                    "due_at": now,
                    "created_at": now,
                }
            )
            uow.emit(CaseOpened(case_id, kind, cast(int, elder_id), device_id))
            log.info(
                "case opened case=%s kind=%s device=%s boot=%d seq=%d",
                case_id,
                kind,
                device_id,
                reports[i].key.boot,
                reports[i].key.seq,
            )
        else:
            # A stuck button or a nervous elder pressing again joins the case already running.
            history.append(_history(case_id, now, by, "pressed_again", why, None))
            # A case opened earlier in this same batch is still open.
            state = plan.joined_state.get(i, CaseState.OPEN)
            uow.emit(CasePressedAgain(case_id, device_id, state))
    if cases:
        conn.execute(_INSERT_CASES, cases)
        conn.execute(_INSERT_TIMERS, timers)
    conn.execute(_INSERT_HISTORY, history)
    joined = sorted(set(plan.joined.values()))
    if joined:
        conn.execute(_TOUCH_CASE, [{"c": c, "now": now} for c in joined])


def _history(
    case_id: str, at: datetime, by: str, action: str, why: str, to_state: str | None
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "at": at,
        "by": by,
        "action": action,
        "from_state": None,
        "to_state": to_state,
        "why": why,
    }


def _sources(conn: Connection, device_ids: set[str]) -> dict[str, _Source]:
    rows = conn.execute(_SOURCES, {"ids": sorted(device_ids)}).all()
    return {row[0]: _Source(row[1], row[2], row[3], row[4]) for row in rows}


def _existing(conn: Connection, reports: Sequence[DeviceReport]) -> dict[EventKey, str | None]:
    """Keys of `reports` already recorded, with their case."""
    keys = sorted({(r.key.device_id, r.key.boot, r.key.seq) for r in reports})
    rows = conn.execute(_EXISTING, {"keys": keys}).all()
    return {EventKey(row[0], row[1], row[2]): row[3] for row in rows}


def _active_cases(
    conn: Connection, elder_ids: set[int]
) -> dict[tuple[int, str, str | None], _Active]:
    """(elder, kind, line) → the oldest active case, as `case_log.find_active_case` picks it."""
    if not elder_ids:
        return {}
    rows = conn.execute(_ACTIVE, {"elders": sorted(elder_ids)}).all()
    return {(row[1], row[2], row[4]): _Active(row[0], CaseState(row[3])) for row in rows}
