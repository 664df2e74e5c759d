"""Intake of many presses in one transaction: the gateway's hot path, a few statements a batch.

The same planner as `intake.record_device_report` decides, report by report and in order
(a press joins the case an earlier press of the batch opened), and a new case is written
from the same rows (`case_log.new_case_rows`), but each table is read and written once per
batch instead of once per press. The `(device_id, boot, seq)` unique key stays the
truth: a key another process committed meanwhile makes the insert fail, and the batch is
then recorded one report at a time by `record_device_report`, which answers `duplicate`.
On PostgreSQL one statement reads what the planner needs (`_READS_PG`) and the statements
of `batch_pg` write: most batches (presses joining running cases) in two round trips, each
statement committing by itself.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Connection,
    DateTime,
    Integer,
    Select,
    String,
    Table,
    TextClause,
    and_,
    any_,
    bindparam,
    func,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from care_api.domain.cases import ACTIVE
from care_api.domain.events import CaseOpened, CasePressedAgain
from care_api.domain.model import (
    CaseKind,
    CaseState,
    DeviceReport,
    EventKey,
    IntakeOutcome,
    IntakeStatus,
    ReportType,
)
from care_api.domain.texts import msg_json
from care_api.store.arrays import is_postgres
from care_api.store.tables import Case, CaseEvent, Device, DeviceEvent, Elder, Timer
from care_api.store.uow import SqlUnitOfWork, UowFactory
from care_api.usecases.cases.log import new_case_rows
from care_api.usecases.intake import batch_pg
from care_api.usecases.intake.plan import (
    Decision,
    JoinKey,
    Running,
    Source,
    Step,
    plan_presses,
    running_by_key,
    running_cases,
)
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.schedules.checkins import elders_checking_in, has_windows_clause
from care_api.usecases.schedules.drills import in_drill_clause

log = logging.getLogger(__name__)


def core_table(model: type[SQLModel]) -> Table:
    """The Core table behind a model, for statements the ORM has nothing to track in."""
    return SQLModel.metadata.tables[str(model.__tablename__)]


_DEVICE = core_table(Device)
_ELDER = core_table(Elder)
_EVENT = core_table(DeviceEvent)
_CASE = core_table(Case)
_CASE_EVENT = core_table(CaseEvent)
_TIMER = core_table(Timer)


def _sources_of(devices: ColumnElement[bool]) -> Select[Any]:
    """The terminals `devices` selects, with what intake needs to know of each."""
    # Whether a terminal is in a drill and whether its elder has check-in windows come with
    # it: two or three statements a batch fewer, and most elders have no window to look at.
    return (
        select(
            _DEVICE.c.device_id,
            _DEVICE.c.elder_id,
            _DEVICE.c.status,
            _DEVICE.c.hub_port,
            _ELDER.c.keymap_override,
            _DEVICE.c.outage_since,
            in_drill_clause(_DEVICE.c.device_id, _ELDER.c.district),
            has_windows_clause(_DEVICE.c.elder_id),
        )
        .select_from(_DEVICE.outerjoin(_ELDER, _ELDER.c.id == _DEVICE.c.elder_id))
        .where(devices)
    )


# Built once: building a statement costs more than running it on a small batch. On
# PostgreSQL `_READS_PG` reads the terminals with the rest, the values as arrays: one SQL
# text whatever their number (`batch_pg`).
_SOURCES = _sources_of(_DEVICE.c.device_id.in_(bindparam("ids", expanding=True)))


def _reads_pg() -> CompoundSelect[Any]:
    """Everything the planner reads, on PostgreSQL in one statement (one round trip).

    Rows (tag, values as a JSON array, opened_at, case id): the terminals (tag 2, as
    `_SOURCES`), the keys already recorded (tag 0), and the running cases of the terminals'
    elders (tag 1, newest first, as `plan.running_cases`).
    """
    ids = bindparam("ids", type_=ARRAY(String))
    terminals = _sources_of(_DEVICE.c.device_id == any_(ids)).subquery("src")
    keys = (
        func.unnest(
            bindparam("d", type_=ARRAY(String)),
            bindparam("b", type_=ARRAY(Integer)),
            bindparam("s", type_=ARRAY(Integer)),
        )
        .table_valued("device_id", "boot", "seq")
        .render_derived(name="k")
    )
    no_at = null().cast(DateTime(timezone=True))
    no_id = null().cast(String)
    return union_all(
        select(literal(2), func.json_build_array(*terminals.c), no_at, no_id),
        select(
            literal(0),
            func.json_build_array(
                _EVENT.c.device_id, _EVENT.c.boot, _EVENT.c.seq, _EVENT.c.case_id
            ),
            no_at,
            no_id,
        ).select_from(
            keys.join(
                _EVENT,
                and_(
                    _EVENT.c.device_id == keys.c.device_id,
                    _EVENT.c.boot == keys.c.boot,
                    _EVENT.c.seq == keys.c.seq,
                ),
            )
        ),
        select(
            literal(1),
            func.json_build_array(
                _CASE.c.id,
                _CASE.c.elder_id,
                _CASE.c.kind,
                _CASE.c.state,
                _CASE.c.drill,
                _CASE.c.line,
            ),
            _CASE.c.opened_at,
            _CASE.c.id,
        ).where(
            _CASE.c.elder_id.in_(
                select(_DEVICE.c.elder_id).where(_DEVICE.c.device_id == any_(ids))
            ),
            _CASE.c.state.in_([state.value for state in ACTIVE]),
        ),
    ).order_by(text("1, 3 DESC, 4 DESC"))


_READS_PG = _reads_pg()
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
    silent: bool  # an outage is open: the press ends it
    drill: bool  # in test mode now, by itself or by its elder's district
    windows: bool  # its elder has check-in windows: `elders_checking_in` decides


class _FullRules(Exception):
    """A press of the batch needs rules only the one-by-one path has.

    It may be an elder's check-in (a window open, or one missed), its terminal is back
    from an outage, or it opens a consultation, which gets a working-day deadline.
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
        raise TypeError("record_presses takes presses only")  # a caller's bug, never input
    if not reports:
        return []
    with uow_factory() as uow:
        try:
            outcomes = _record(uow, reports, now, tz)
            uow.commit()
        except IntegrityError:
            # Another process committed one of these keys since we looked: go one by one.
            uow.rollback()
        except _FullRules:
            # A press may be an elder's "I'm OK", on time or late, or end an outage: intake's
            # own rules decide it.
            uow.rollback()
            return [record_device_report(uow_factory, r, now=now, tz=tz) for r in reports]
        else:
            return outcomes
    log.info("press batch of %d met a key committed meanwhile; one by one", len(reports))
    return [record_device_report(uow_factory, r, now=now, tz=tz) for r in reports]


def _record(
    uow: SqlUnitOfWork, reports: Sequence[DeviceReport], now: datetime, tz: tzinfo
) -> list[IntakeOutcome]:
    # Core statements: the ORM has nothing to track here. On PostgreSQL the reads go
    # outside a transaction (`batch_pg.connection`).
    conn = batch_pg.connection(uow.session)
    postgres = is_postgres(conn)
    if postgres:
        found, seen, running = _read_pg(conn, reports)
    else:
        found = _sources(conn, {r.key.device_id for r in reports})
    elders = {s.elder_id for s in found.values() if s.elder_id is not None}
    windowed = {s.elder_id for s in found.values() if s.windows and s.elder_id is not None}
    if any(s.silent for s in found.values()) or elders_checking_in(uow.session, windowed, now, tz):
        raise _FullRules
    sources = {
        device_id: Source(s.status, s.elder_id, s.hub_port, s.keymap_override, s.drill)
        for device_id, s in found.items()
    }
    if not postgres:
        seen, running = facts(conn, reports, elders)
    plan = plan_presses(reports, sources, seen, running)
    if any(d.step is Step.OPEN and d.kind is CaseKind.CONSULT for d in plan):
        raise _FullRules  # rare, and its deadline is written by `cases.log.open_case`
    new = [i for i, d in enumerate(plan) if d.step in (Step.OPEN, Step.JOIN)]
    case_ids: dict[int, str] = {}
    if new:
        if postgres and any(plan[i].step is Step.OPEN for i in new):
            batch_pg.begin(conn)  # the cases' several statements: one transaction
        case_ids = _number_cases(conn, plan, new, now, tz)
        _write(uow, conn, reports, plan, new, case_ids, sources, now)
    outcomes: list[IntakeOutcome] = []
    for i, d in enumerate(plan):
        if d.step is Step.REJECT:
            outcomes.append(IntakeOutcome.rejected(d.reason or "rejected"))
        elif d.step is Step.DUPLICATE:
            case_id = d.case_id if d.same_as is None else case_ids[d.same_as]
            outcomes.append(IntakeOutcome(IntakeStatus.DUPLICATE, case_id=case_id))
        else:
            outcomes.append(IntakeOutcome(IntakeStatus.ACCEPTED, case_id=case_ids[i], kind=d.kind))
    return outcomes


def _number_cases(
    conn: Connection, plan: Sequence[Decision], new: list[int], now: datetime, tz: tzinfo
) -> dict[int, str]:
    """Case ids of every new report: fresh numbers for openers, in order; joiners share."""
    openers = [i for i in new if plan[i].step is Step.OPEN]
    case_ids: dict[int, str] = {}
    if openers:
        day = now.astimezone(tz).strftime("%Y%m%d")
        last = conn.execute(_TAKE_NUMBERS, {"day": day, "count": len(openers)}).scalar_one()
        first = int(last) - len(openers) + 1
        case_ids = {i: f"C-{day}-{first + n:04d}" for n, i in enumerate(openers)}
    for i in new:
        d = plan[i]
        if d.step is Step.JOIN:
            case_ids[i] = case_ids[d.same_as] if d.same_as is not None else cast(str, d.case_id)
    return case_ids


def _write(
    uow: SqlUnitOfWork,
    conn: Connection,
    reports: Sequence[DeviceReport],
    plan: Sequence[Decision],
    new: list[int],
    case_ids: dict[int, str],
    sources: dict[str, Source],
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
        for i in new
    ]
    devices = sorted({reports[i].key.device_id for i in new})
    postgres = is_postgres(conn)
    # Only a new case needs its event's id: without one, PostgreSQL takes the whole batch in
    # one statement at the end.
    at_once = postgres and not any(plan[i].step is Step.OPEN for i in new)
    event_ids: dict[int, int] = {}
    # The unique key is checked here, before any case is written (or with them, at once).
    if postgres and not at_once:
        by_key = batch_pg.insert_events(conn, event_rows, devices, now)
        event_ids = {i: by_key[reports[i].key] for i in new}
    elif not postgres:
        ids = conn.execute(_INSERT_EVENTS, event_rows).scalars()
        event_ids = dict(zip(new, ids, strict=True))
        conn.execute(_TOUCH_DEVICE, [{"d": d, "now": now} for d in devices])
    cases: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    timers: list[dict[str, Any]] = []
    for i in new:
        d = plan[i]
        kind = cast(CaseKind, d.kind)
        device_id, case_id = reports[i].key.device_id, case_ids[i]
        by = f"device:{device_id}"
        if d.step is Step.OPEN:
            elder_id = cast(int, sources[device_id].elder_id)
            case, opened, timer = new_case_rows(
                case_id=case_id,
                kind=kind,
                elder_id=elder_id,
                trigger=d.trigger,
                by=by,
                now=now,
                device_id=device_id,
                device_event_id=event_ids[i],
                drill=d.drill,
                line=d.line,
            )
            cases.append(case)
            history.append(opened)
            timers.append(timer)
            uow.emit(CaseOpened(case_id, kind, elder_id, device_id))
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
            history.append(_history(case_id, now, by, "pressed_again", d.trigger, None))
            uow.emit(CasePressedAgain(case_id, device_id, cast(CaseState, d.state)))
    if cases:
        conn.execute(_INSERT_CASES, cases)
        conn.execute(_INSERT_TIMERS, timers)
    joined = sorted({cast(str, plan[i].case_id) for i in new if plan[i].case_id is not None})
    if at_once:
        batch_pg.insert_all(conn, event_rows, devices, history, joined, now)
        return
    if postgres:
        batch_pg.insert_history(conn, history, joined, now)
        return
    conn.execute(_INSERT_HISTORY, history)
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
        "why_msg": msg_json(why),
    }


def _sources(conn: Connection, device_ids: set[str]) -> dict[str, _Source]:
    rows = conn.execute(_SOURCES, {"ids": sorted(device_ids)}).all()
    return {
        row[0]: _Source(
            row[1], row[2], row[3], row[4], row[5] is not None, bool(row[6]), bool(row[7])
        )
        for row in rows
    }


def _read_pg(
    conn: Connection, reports: Sequence[DeviceReport]
) -> tuple[dict[str, _Source], dict[EventKey, str | None], dict[JoinKey, Running]]:
    """`_sources`, and `facts` of their elders, in one statement on PostgreSQL."""
    keys = list({r.key for r in reports})
    params = {
        "ids": sorted({k.device_id for k in keys}),
        "d": [k.device_id for k in keys],
        "b": [k.boot for k in keys],
        "s": [k.seq for k in keys],
    }
    found: dict[str, _Source] = {}
    seen: dict[EventKey, str | None] = {}
    cases: list[list[Any]] = []
    for tag, row, _, _ in conn.execute(_READS_PG, params):
        if tag == 2:
            found[row[0]] = _Source(
                row[1], row[2], row[3], row[4], row[5] is not None, bool(row[6]), bool(row[7])
            )
        elif tag == 0:
            seen[EventKey(row[0], row[1], row[2])] = row[3]
        else:
            cases.append(row)
    return found, seen, running_by_key(cases)


def facts(
    conn: Connection, reports: Sequence[DeviceReport], elder_ids: set[int]
) -> tuple[dict[EventKey, str | None], dict[JoinKey, Running]]:
    """What the planner reads: the keys of `reports` already recorded, the running cases."""
    return recorded_keys(conn, reports), running_cases(conn, elder_ids)


def recorded_keys(conn: Connection, reports: Sequence[DeviceReport]) -> dict[EventKey, str | None]:
    """Keys of `reports` already recorded, with their case."""
    if is_postgres(conn):
        return batch_pg.recorded_keys(conn, {r.key for r in reports})
    keys = sorted({(r.key.device_id, r.key.boot, r.key.seq) for r in reports})
    params: dict[str, object] = {}
    for n, (device_id, boot, seq) in enumerate(keys):
        params[f"d{n}"], params[f"b{n}"], params[f"s{n}"] = device_id, boot, seq
    rows = conn.execute(_existing_statement(len(keys)), params).all()
    return {EventKey(row[0], row[1], row[2]): row[3] for row in rows}


@functools.lru_cache(maxsize=256)
def _existing_statement(n: int) -> TextClause:
    """The look-up of `n` event keys: the keys as a table joined to the unique key's index.

    Not `(device_id, boot, seq) IN (...)`: SQLite answers a row-value IN list of more than
    one key by scanning the whole event table, which grows with every press (6 ms a batch
    at 20,000 events, the gateway's largest cost at 1,000 presses/s). Both databases look
    each key up in the index this way. One statement per batch size, built once.
    """
    rows = ", ".join(f"(:d{i}, :b{i}, :s{i})" for i in range(n))
    return text(
        f"WITH k (device_id, boot, seq) AS (VALUES {rows}) "  # noqa: S608 - placeholders only
        "SELECT e.device_id, e.boot, e.seq, e.case_id FROM k "
        f"JOIN {_EVENT.name} AS e ON e.device_id = k.device_id AND e.boot = k.boot "
        "AND e.seq = k.seq"
    )
