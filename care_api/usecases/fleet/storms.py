"""Area incidents: a storm of technical troubles held as one row instead of a case each.

`hold_in_storm` is asked before a terminal's power loss or outage opens its device case.
While an incident holds the terminal's area, the terminal joins it (its history still
says what happened) and no case, hence no family SMS, is opened. When the trouble of a
terminal not yet held makes its area cross the storm threshold, the incident opens with
every terminal of the window, and the few device cases they opened just before are
folded into it. `note_back` counts the terminals coming back; the incident closes when
most are back (or by `sweep_incidents` once the signals stopped and all are back), and a
`incident_followup` timer gives each terminal still down its own case later.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import Connection, bindparam, func, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from care_api.domain.cases import is_unowned
from care_api.domain.fleet import Problem
from care_api.domain.model import CaseKind, CaseState, TimerPurpose
from care_api.domain.storms import (
    ALL,
    Area,
    Scope,
    Signal,
    Storm,
    StormRule,
    Trouble,
    areas_of,
    find_storms,
    may_close,
)
from care_api.domain.texts import Msg, msg_json
from care_api.store.arrays import Pair, one_of
from care_api.store.incident_tables import Incident, IncidentTerminal, TechSignal
from care_api.store.tables import Case, Device, DeviceHistory, Elder, Timer
from care_api.store.uow import SqlUnitOfWork, UowFactory
from care_api.usecases.cases.log import add_note, move_case
from care_api.usecases.fleet.history import MAX_DETAIL_CHARS, record_history

log = logging.getLogger(__name__)

STORM_BY = "system:storm"
# Signals are counted over the window only, but a held one is read when its timer fires.
SIGNAL_KEEP_S = 3600
TROUBLE_OF = {Problem.POWER_LOST: Trouble.POWER_LOST, Problem.OFFLINE: Trouble.OFFLINE}
MAX_SIGNALS = 100_000


def _areas(session: Session, device: Device) -> list[Area]:
    district = None
    if device.elder_id is not None:
        district = session.exec(select(Elder.district).where(Elder.id == device.elder_id)).first()
    return areas_of(district or "", device.hub_port or "")


def open_incident_of(session: Session, areas: list[Area]) -> Incident | None:
    """The open incident covering one of `areas`, the narrowest first."""
    rows = session.exec(
        select(Incident).where(col(Incident.open_key).in_([a.key for a in areas]))
    ).all()
    by_key = {row.open_key: row for row in rows}
    return next((by_key[a.key] for a in areas if a.key in by_key), None)


def hold_in_storm(
    uow: SqlUnitOfWork, device: Device, problem: Problem, *, now: datetime, has_case: bool = False
) -> bool:
    """True when the terminal's `problem` opens no case now: an incident holds it, or may.

    An incident holds it when one covers its area or opens with it. It may when other
    terminals of its district or hub had a trouble within the window: the case then
    waits `hold_s` (a `storm_hold` timer) for the storm to show itself or not. A lone
    power loss waits `settle_s` the same way: it may be the first of a blackout. A terminal
    whose device case is open (`has_case`) waits for nothing: the trouble is noted there.
    """
    trouble = TROUBLE_OF.get(problem)
    if trouble is None:
        return False
    session = uow.session
    # No autoflush: in a storm this runs for every event, and each query would first write
    # the event's pending rows; they are written once, at the commit.
    with session.no_autoflush:
        areas = _areas(session, device)
        incident = open_incident_of(session, areas)
        if incident is not None:
            _join(session, incident, device.device_id, trouble, now, device)
            return True
    district = next((a.name for a in areas if a.scope is Scope.DISTRICT), "")
    hub = device.hub_port or ""
    signal = TechSignal(
        device_id=device.device_id, trouble=trouble, district=district, hub=hub, at=now
    )
    session.add(signal)
    session.flush()
    rule = uow.storm_rule
    storm, others = _storm_for(session, areas, rule, now, device.device_id)
    if storm is not None:
        return _open(uow, storm, device, now) is not None
    wait_s = rule.wait_s(trouble, others=others)
    if has_case or wait_s <= 0 or signal.id is None:
        return False
    due = now + timedelta(seconds=wait_s)
    session.add(Timer(purpose=TimerPurpose.STORM_HOLD, step=signal.id, due_at=due, created_at=now))
    log.info(
        "device %s: %s held %d s (%s)",
        device.device_id,
        trouble,
        wait_s,
        "others of its area too" if others else "alone so far",
    )
    return True


def release_held(uow: SqlUnitOfWork, signal_id: int, *, now: datetime, tz: tzinfo) -> Case | None:
    """The `storm_hold` timer: no storm came, so the terminal still in trouble gets its case."""
    # Imported here: device_cases asks this module before opening a case.
    from care_api.usecases.fleet.device_cases import raise_problem

    session = uow.session
    signal = session.get(TechSignal, signal_id)
    device = session.get(Device, signal.device_id) if signal is not None else None
    if signal is None or device is None:
        return None
    taken = session.exec(
        select(IncidentTerminal.id).where(
            IncidentTerminal.device_id == device.device_id,
            col(IncidentTerminal.joined_at) >= signal.at,
        )
    ).first()
    if taken is not None:
        return None  # the storm came and holds it (or closed and follows it up)
    if signal.trouble == Trouble.POWER_LOST and device.power_lost:
        problem = Problem.POWER_LOST
    elif signal.trouble == Trouble.OFFLINE and device.outage_since is not None:
        problem = Problem.OFFLINE
    else:
        return None  # it came back meanwhile
    # The case reads as if it had opened at once: its trigger is what the family's SMS and
    # the console say (the wait for a storm is ours, not theirs to decode); the log keeps it.
    log.info(
        "device %s: %s, held %d s, no storm came: its case opens",
        device.device_id,
        signal.trouble,
        int((now - signal.at).total_seconds()),
    )
    return raise_problem(
        uow,
        device,
        trigger=trouble_text(problem),
        by=STORM_BY,
        now=now,
        tz=tz,
        problem=problem,
        storm=False,
    )


def _storm_for(
    session: Session, areas: list[Area], rule: StormRule, now: datetime, device_id: str
) -> tuple[Storm | None, bool]:
    """The storm of the terminal's areas, if any; and whether others near it had trouble."""
    start = now - timedelta(seconds=rule.window_s)
    sizes = {area: _size(session, area) for area in areas}
    near = [
        col(TechSignal.district) == a.name
        if a.scope is Scope.DISTRICT
        else col(TechSignal.hub) == a.name
        for a in areas
        if a.scope is not Scope.ALL
    ]
    rows: dict[int | None, TechSignal] = {}
    if near:
        for row in session.exec(
            select(TechSignal).where(col(TechSignal.at) >= start, or_(*near)).limit(MAX_SIGNALS)
        ).all():
            rows[row.id] = row
    # The whole fleet: at most as many as make its storm are needed to see one.
    enough = min(MAX_SIGNALS, rule.threshold(ALL, sizes[ALL]) * 2)
    for row in session.exec(
        select(TechSignal)
        .where(col(TechSignal.at) >= start)
        .order_by(col(TechSignal.at))
        .limit(enough)
    ).all():
        rows[row.id] = row
    signals = [
        Signal(r.device_id, Trouble(r.trouble), r.at, r.district, r.hub) for r in rows.values()
    ]
    storms = [s for s in find_storms(signals, sizes, rule, now) if s.area in areas]
    nearby = {a for a in areas if a.scope is not Scope.ALL}
    others = any(
        s.device_id != device_id and nearby.intersection(s.areas())
        for s in signals
        if s.at >= start
    )
    return (storms[0] if storms else None), others


def _size(session: Session, area: Area) -> int:
    query = (
        select(func.count())
        .select_from(Device)
        .where(col(Device.status) != "retired", col(Device.elder_id).is_not(None))
    )
    if area.scope is Scope.DISTRICT:
        query = query.join(Elder, col(Elder.id) == col(Device.elder_id)).where(
            col(Elder.district) == area.name
        )
    elif area.scope is Scope.HUB:
        query = query.where(col(Device.hub_port) == area.name)
    return int(session.exec(query).one())


def _open(uow: SqlUnitOfWork, storm: Storm, device: Device, now: datetime) -> Incident | None:
    session = uow.session
    incident = Incident(
        trouble=storm.trouble,
        scope=storm.area.scope,
        area=storm.area.name,
        open_key=storm.area.key,
        since=storm.since,
        last_signal_at=now,
        opened_at=now,
    )
    try:
        with session.begin_nested():
            session.add(incident)
            session.flush()
    except IntegrityError:
        # Another process opened it a moment ago: join that one.
        found = open_incident_of(session, [storm.area])
        if found is not None:
            _join(session, found, device.device_id, _trouble_now(device), now)
        return found
    for device_id in sorted(storm.terminals):
        _join(session, incident, device_id, storm.trouble, now)
        if device_id != device.device_id:
            _fold_case(uow, device_id, incident, now)
    log.warning(
        "area incident %s opened: %s in %s, %d terminals since %s",
        incident.id,
        storm.trouble,
        storm.area.key,
        storm.count,
        storm.since.isoformat(),
    )
    return incident


def where(incident: Incident) -> Msg:
    """Where the incident is, e.g. "district Huangpu", or "all terminals"."""
    if not incident.area:
        return Msg("all terminals")
    if incident.scope == Scope.HUB:
        return Msg("hub {area}", area=incident.area)
    return Msg("district {area}", area=incident.area)


def trouble_text(trouble: Trouble | Problem) -> Msg:
    """A terminal's trouble as a person reads it, the same words its own case would use."""
    if trouble in (Trouble.POWER_LOST, Problem.POWER_LOST):
        return Msg("mains power lost")
    return Msg("terminal offline")


def _during(trouble: Trouble, incident_id: int, incident: Incident) -> Msg:
    """A terminal's history line while an incident holds it."""
    return Msg(
        "{trouble} during area incident {incident} ({where})",
        trouble=trouble_text(trouble),
        incident=incident_id,
        where=where(incident),
    )


def _id(incident: Incident) -> int:
    if incident.id is None:  # flushed before use; this guards later edits
        raise RuntimeError("incident used before it was flushed")
    return incident.id


def _trouble_now(device: Device) -> Trouble:
    """The trouble a terminal shows now (power first: it explains a silence)."""
    return Trouble.POWER_LOST if device.power_lost else Trouble.OFFLINE


def _join(
    session: Session,
    incident: Incident,
    device_id: str,
    trouble: Trouble,
    now: datetime,
    device: Device | None = None,
) -> None:
    there = session.exec(
        select(IncidentTerminal).where(
            IncidentTerminal.incident_id == incident.id, IncidentTerminal.device_id == device_id
        )
    ).first()
    if there is not None and there.back_at is not None:
        # Back, then down again while the incident holds: no longer counted as back.
        there.back_at = None
        session.add(there)
        session.connection().execute(
            update(Incident)
            .where(col(Incident.id) == incident.id)
            .values(back=col(Incident.back) - 1, last_signal_at=now)
        )
    if there is None:
        session.add(
            IncidentTerminal(
                incident_id=_id(incident), device_id=device_id, trouble=trouble, joined_at=now
            )
        )
        # In SQL: several workers join the same incident at once. On the connection, not
        # the ORM session: an ORM update would look for the row among the loaded ones.
        session.connection().execute(
            update(Incident)
            .where(col(Incident.id) == incident.id)
            .values(terminals=col(Incident.terminals) + 1, last_signal_at=now)
        )
    device = device or session.get(Device, device_id)
    if device is not None:
        record_history(
            session,
            device,
            "incident",
            by=STORM_BY,
            now=now,
            detail=_during(trouble, _id(incident), incident),
        )


def _fold_case(uow: SqlUnitOfWork, device_id: str, incident: Incident, now: datetime) -> None:
    """A device case the storm's first terminals opened before it was seen: into the incident."""
    case = uow.session.exec(
        select(Case).where(
            Case.kind == CaseKind.DEVICE,
            Case.device_id == device_id,
            col(Case.opened_at) >= incident.since,
        )
    ).first()
    if case is None or not is_unowned(CaseState(case.state)):
        return
    why = Msg(
        "part of area incident {incident} ({where})", incident=_id(incident), where=where(incident)
    )
    move_case(uow, case, CaseState.CANCELLED, by=STORM_BY, why=why, now=now)


def note_back(uow: SqlUnitOfWork, device: Device, *, now: datetime) -> Incident | None:
    """The terminal is back (power restored, heard again): count it; close when most are."""
    session = uow.session
    row = session.exec(
        select(IncidentTerminal)
        .join(Incident, col(Incident.id) == col(IncidentTerminal.incident_id))
        .where(
            IncidentTerminal.device_id == device.device_id,
            col(IncidentTerminal.back_at).is_(None),
            col(Incident.closed_at).is_(None),
        )
    ).first()
    if row is None or device.power_lost or device.outage_since is not None:
        return None
    row.back_at = now
    session.add(row)
    session.connection().execute(
        update(Incident)
        .where(col(Incident.id) == row.incident_id)
        .values(back=col(Incident.back) + 1)
    )
    incident = session.get(Incident, row.incident_id)
    if incident is None:
        return None
    session.refresh(incident)
    if may_close(incident.terminals, incident.back, uow.storm_rule.close_share):
        close_incident(uow, incident, now=now, why=Msg("power back"))
    return incident


def close_incident(uow: SqlUnitOfWork, incident: Incident, *, now: datetime, why: Msg) -> None:
    """Close with its figures; terminals still down get their own case after the follow-up."""
    incident.closed_at = now
    incident.open_key = None
    reason = Msg(
        "{why}: {back} of {terminals} terminals back",
        why=why,
        back=incident.back,
        terminals=incident.terminals,
    )
    incident.close_reason = reason
    incident.close_reason_msg = msg_json(reason)
    uow.session.add(incident)
    due = now + timedelta(seconds=uow.storm_rule.followup_s)
    uow.session.add(
        Timer(
            case_id=None,
            purpose=TimerPurpose.STORM_FOLLOWUP,
            step=_id(incident),
            due_at=due,
            created_at=now,
        )
    )
    log.warning("area incident %s closed: %s", incident.id, incident.close_reason)


def sweep_incidents(uow_factory: UowFactory, now: datetime) -> int:
    """Close incidents whose signals stopped and whose terminals are all back; prune signals."""
    closed = 0
    with uow_factory() as uow:
        rule = uow.storm_rule
        quiet_since = now - timedelta(seconds=rule.window_s)
        keep_since = now - timedelta(
            seconds=max(SIGNAL_KEEP_S, rule.window_s, 2 * max(rule.hold_s, rule.settle_s))
        )
        uow.session.execute(
            TechSignal.__table__.delete().where(col(TechSignal.at) < keep_since)  # type: ignore[attr-defined]
        )
        for incident in uow.session.exec(
            select(Incident).where(
                col(Incident.closed_at).is_(None), col(Incident.last_signal_at) < quiet_since
            )
        ).all():
            if still_down(uow.session, incident) == 0:
                close_incident(uow, incident, now=now, why=Msg("signals stopped, terminals back"))
                closed += 1
        uow.commit()
    return closed


def still_down(session: Session, incident: Incident) -> int:
    """The incident's terminals whose power is still off or that are still silent."""
    return int(
        session.exec(
            select(func.count())
            .select_from(IncidentTerminal)
            .join(Device, col(Device.device_id) == col(IncidentTerminal.device_id))
            .where(
                IncidentTerminal.incident_id == incident.id,
                or_(col(Device.power_lost).is_(True), col(Device.outage_since).is_not(None)),
            )
        ).one()
    )


def follow_up(uow: SqlUnitOfWork, incident_id: int, *, now: datetime, tz: tzinfo) -> int:
    """The `incident_followup` timer: each terminal still down gets its own device case."""
    # Imported here: device_cases asks this module before opening a case.
    from care_api.usecases.fleet.device_cases import raise_problem

    session = uow.session
    incident = session.get(Incident, incident_id)
    if incident is None:
        return 0
    devices = session.exec(
        select(Device)
        .join(IncidentTerminal, col(IncidentTerminal.device_id) == col(Device.device_id))
        .where(
            IncidentTerminal.incident_id == incident_id,
            or_(col(Device.power_lost).is_(True), col(Device.outage_since).is_not(None)),
        )
    ).all()
    opened = 0
    for device in devices:
        problem = Problem.POWER_LOST if device.power_lost else Problem.OFFLINE
        # The case and its family SMS read as a lone terminal's would: the incident is
        # the centre's business, said on the case's history.
        trigger = trouble_text(problem)
        case = raise_problem(
            uow, device, trigger=trigger, by=STORM_BY, now=now, tz=tz, problem=problem, storm=False
        )
        if case is not None:
            span = now - (incident.closed_at or now)
            why = Msg(
                "{trouble} still, {minutes} min after area incident {incident} closed",
                trouble=trigger,
                minutes=int(span.total_seconds() // 60),
                incident=incident_id,
            )
            add_note(uow, case, action="note", by=STORM_BY, why=why, now=now)
        opened += case is not None
    return opened


@dataclass(frozen=True, slots=True)
class Held:
    """A terminal whose `power lost` an open incident takes, recorded in a batch."""

    device_id: str
    elder_id: int
    incident: Incident


def open_incidents_by_key(session: Session) -> dict[str, Incident]:
    """The open incidents by their area key ("district:Huangpu")."""
    rows = session.exec(select(Incident).where(col(Incident.open_key).is_not(None))).all()
    return {row.open_key: row for row in rows if row.open_key is not None}


def incident_for(by_key: Mapping[str, Incident], district: str, hub: str) -> Incident | None:
    """The open incident covering a terminal of `district` behind `hub`, narrowest first."""
    return next((by_key[a.key] for a in areas_of(district, hub) if a.key in by_key), None)


# A storm batch's statements, one SQL text whatever the batch's size on PostgreSQL
# (`store.arrays`): which of the batch's terminals are already in one of its incidents,
# which of those coming back are still counted out of an open incident, and counting them
# back.
_JOINED = Pair(
    lambda pg: select(
        IncidentTerminal.incident_id, IncidentTerminal.device_id, IncidentTerminal.back_at
    ).where(
        one_of(col(IncidentTerminal.incident_id), "incidents", postgres=pg),
        one_of(col(IncidentTerminal.device_id), "devices", postgres=pg),
    )
)
_STILL_OUT = Pair(
    lambda pg: (
        select(IncidentTerminal.id, IncidentTerminal.device_id, IncidentTerminal.incident_id)
        .join(Incident, col(Incident.id) == col(IncidentTerminal.incident_id))
        .where(
            one_of(col(IncidentTerminal.device_id), "devices", postgres=pg),
            col(IncidentTerminal.back_at).is_(None),
            col(Incident.closed_at).is_(None),
        )
        .order_by(col(IncidentTerminal.id))
    )
)
_BACK = Pair(
    lambda pg: (
        update(IncidentTerminal)
        .where(one_of(col(IncidentTerminal.id), "rows", postgres=pg))
        .values(back_at=bindparam("now"))
    )
)


def join_many(conn: Connection, held: Sequence[Held], now: datetime) -> None:
    """`_join` for many terminals of a storm at once, in a few statements on `conn`.

    The same rows as one `hold_in_storm` each: a terminal joins (or, back and down
    again, rejoins) its incident, the incident's counters move in SQL (other workers
    join it too), and a line goes on each terminal's history.
    """
    if not held:
        return
    incident_ids = sorted({_id(h.incident) for h in held})
    device_ids = sorted({h.device_id for h in held})
    there = {
        (row.incident_id, row.device_id): row.back_at
        for row in conn.execute(
            _JOINED.on(conn), {"incidents": incident_ids, "devices": device_ids}
        )
    }
    trouble = Trouble.POWER_LOST
    new: list[dict[str, object]] = []
    rejoined: list[dict[str, object]] = []
    grown: Counter[int] = Counter()
    details: list[str] = []
    returned: Counter[int] = Counter()
    for h in held:
        key = (_id(h.incident), h.device_id)
        details.append(_during(trouble, key[0], h.incident))
        if key not in there:
            new.append(
                {
                    "incident_id": key[0],
                    "device_id": h.device_id,
                    "trouble": str(trouble),
                    "joined_at": now,
                }
            )
            grown[key[0]] += 1
        elif there[key] is not None:
            rejoined.append({"i": key[0], "d": h.device_id})
            returned[key[0]] += 1
    if new:
        conn.execute(insert(IncidentTerminal), new)
    if rejoined:
        conn.execute(
            update(IncidentTerminal)
            .where(
                col(IncidentTerminal.incident_id) == bindparam("i"),
                col(IncidentTerminal.device_id) == bindparam("d"),
            )
            .values(back_at=None),
            rejoined,
        )
    for incident_id in sorted(set(grown) | set(returned)):
        conn.execute(
            update(Incident)
            .where(col(Incident.id) == incident_id)
            .values(
                terminals=col(Incident.terminals) + grown[incident_id],
                back=col(Incident.back) - returned[incident_id],
                last_signal_at=now,
            )
        )
    conn.execute(
        insert(DeviceHistory),
        [
            {
                "device_id": h.device_id,
                "at": now,
                "by": STORM_BY,
                "action": "incident",
                "elder_id": h.elder_id,
                "detail": detail[:MAX_DETAIL_CHARS],
                "detail_msg": msg_json(detail),
            }
            for h, detail in zip(held, details, strict=True)
        ],
    )


def count_back(uow: SqlUnitOfWork, device_ids: Sequence[str], now: datetime) -> None:
    """`note_back` for many terminals whose power came back, in order, in a few statements.

    The caller has cleared their power flag. Each open incident holding one of them counts
    it back, until the one that makes the incident close: it closes there, as one report
    at a time would, and the rest of its terminals find it closed (not counted back).
    """
    if not device_ids:
        return
    conn = uow.session.connection()
    rows = conn.execute(_STILL_OUT.on(conn), {"devices": sorted(set(device_ids))}).all()
    first: dict[str, tuple[int, int]] = {}
    for row_id, device_id, incident_id in rows:
        first.setdefault(device_id, (row_id, incident_id))  # as `note_back` takes its first
    per_incident: dict[int, list[int]] = {}
    for device_id in device_ids:
        if device_id in first:
            row_id, incident_id = first[device_id]
            per_incident.setdefault(incident_id, []).append(row_id)
    share = uow.storm_rule.close_share
    for incident_id, row_ids in sorted(per_incident.items()):
        terminals, back = conn.execute(
            select(Incident.terminals, Incident.back).where(col(Incident.id) == incident_id)
        ).one()
        counted = 0
        for _ in row_ids:
            counted += 1
            if may_close(terminals, back + counted, share):
                break  # closed here: the rest find it closed
        conn.execute(_BACK.on(conn), {"rows": row_ids[:counted], "now": now})
        conn.execute(
            update(Incident)
            .where(col(Incident.id) == incident_id)
            .values(back=col(Incident.back) + counted)
        )
        incident = uow.session.get(Incident, incident_id)
        if incident is None:
            continue
        uow.session.refresh(incident)
        if may_close(incident.terminals, incident.back, share):
            close_incident(uow, incident, now=now, why=Msg("power back"))
