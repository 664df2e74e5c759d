"""Intake of a storm's technical reports in one transaction: a few statements a batch.

During a district blackout thousands of terminals say `power lost` within seconds, and
once the area incident is open each of them only joins it: its event is recorded, its
device row says power is off, the incident counts it and its history says so. When power
returns they all say `power restored`: the event, the device row, and the incident
counting it back (closing it once enough are). Written one transaction per event that is
about 90 a second; here a batch of them takes one.

Only what the batch path knows how to write is taken, from terminals that may report,
have no outage to end and appear once in the batch: `power lost` whose area has an open
incident, and `power restored` with no device case open (whose settling is the single
path's). The rest is left to `record_device_report`, one by one, by the caller: the
storm's first terminals, which may open the incident, take that path as before.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from care_api.domain.cases import ACTIVE
from care_api.domain.model import CaseKind, DeviceReport, IntakeOutcome, IntakeStatus, ReportType
from care_api.store.arrays import Pair, one_of
from care_api.store.tables import Case, Device, DeviceEvent, Elder
from care_api.store.uow import SqlUnitOfWork, UowFactory
from care_api.usecases.fleet.device_cases import POWER_LOST, POWER_RESTORED
from care_api.usecases.fleet.storms import (
    Held,
    count_back,
    incident_for,
    join_many,
    open_incidents_by_key,
)
from care_api.usecases.intake.batch import core_table, recorded_keys
from care_api.usecases.intake.sources import refusal

log = logging.getLogger(__name__)


_DEVICE = core_table(Device)
_ELDER = core_table(Elder)
_EVENT = core_table(DeviceEvent)
_CASE = core_table(Case)

# Built once: building a statement costs more than running it on a small batch. The
# terminals go as one array on PostgreSQL: one SQL text whatever the batch's size.
_SOURCES = Pair(
    lambda pg: (
        select(
            _DEVICE.c.device_id,
            _DEVICE.c.elder_id,
            _DEVICE.c.status,
            _DEVICE.c.hub_port,
            _DEVICE.c.outage_since,
            _ELDER.c.district,
            _DEVICE.c.power_lost,
        )
        .select_from(_DEVICE.outerjoin(_ELDER, _ELDER.c.id == _DEVICE.c.elder_id))
        .where(one_of(_DEVICE.c.device_id, "ids", postgres=pg))
    )
)
_INSERT_EVENTS = insert(_EVENT)
_POWER_OFF = (
    update(_DEVICE)
    .where(_DEVICE.c.device_id == bindparam("d"))
    .values(last_seen_at=bindparam("now"), online=True, power_lost=True)
)
_POWER_ON = (
    update(_DEVICE)
    .where(_DEVICE.c.device_id == bindparam("d"))
    .values(last_seen_at=bindparam("now"), online=True, power_lost=False)
)
# Terminals with a device case open: their restore settles it, which is the single path's.
_WITH_CASE = Pair(
    lambda pg: select(_CASE.c.device_id).where(
        _CASE.c.kind == CaseKind.DEVICE.value,
        _CASE.c.state.in_([state.value for state in ACTIVE]),
        one_of(_CASE.c.device_id, "ids", postgres=pg),
    )
)


@dataclass(frozen=True, slots=True)
class _Source:
    elder_id: int | None
    status: str
    hub_port: str | None
    silent: bool  # an outage is open: the report ends it, which this path does not write
    district: str | None
    power_lost: bool


def is_technical_batchable(report: DeviceReport) -> bool:
    """True for the reports `record_held_reports` may take: `power lost` and `restored`."""
    return report.type is ReportType.POWER and report.fields.get("state") in (
        POWER_LOST,
        POWER_RESTORED,
    )


def _restores(report: DeviceReport) -> bool:
    return report.fields.get("state") == POWER_RESTORED


def record_held_reports(
    uow_factory: UowFactory, reports: Sequence[DeviceReport], *, now: datetime
) -> list[IntakeOutcome | None]:
    """Record in one transaction the reports an open incident holds; commits.

    One entry per report, in order: its outcome when it was recorded (or is a duplicate)
    here, None when the caller must record it alone. A key another process committed
    meanwhile rolls the batch back: every report is then left to the caller (None).
    """
    if not reports:
        return []
    with uow_factory() as uow:
        try:
            outcomes = _record(uow, reports, now)
            uow.commit()
        except IntegrityError:
            uow.rollback()
            log.info("storm batch of %d met a key committed meanwhile; one by one", len(reports))
            return [None] * len(reports)
    return outcomes


def _record(
    uow: SqlUnitOfWork, reports: Sequence[DeviceReport], now: datetime
) -> list[IntakeOutcome | None]:
    session = uow.session
    outcomes: list[IntakeOutcome | None] = [None] * len(reports)
    per_device = Counter(r.key.device_id for r in reports)
    # A terminal with two reports in the batch goes one by one: its order is intake's.
    candidates = [
        i
        for i, r in enumerate(reports)
        if is_technical_batchable(r) and per_device[r.key.device_id] == 1
    ]
    by_key = open_incidents_by_key(session)
    if not by_key:
        # No storm (yet): the storm rule decides each `power lost`, one by one.
        candidates = [i for i in candidates if _restores(reports[i])]
    if not candidates:
        return outcomes
    conn = session.connection()  # Core statements: the ORM has nothing to track here
    ids = {reports[i].key.device_id for i in candidates}
    sources = _sources(conn, ids)
    existing = recorded_keys(conn, [reports[i] for i in candidates])
    restoring = [i for i in candidates if _restores(reports[i])]
    with_case = (
        set(
            conn.scalars(
                _WITH_CASE.on(conn), {"ids": sorted({reports[i].key.device_id for i in restoring})}
            )
        )
        if restoring
        else set()
    )
    held: list[Held] = []
    taken: list[int] = []
    back: list[str] = []  # terminals whose power came back, in order
    for i in candidates:
        report = reports[i]
        source = sources.get(report.key.device_id)
        if source is None or source.silent or source.elder_id is None:
            continue  # unknown, unbound, or back from an outage: intake's own rules
        if refusal(source.status, source.elder_id, source.hub_port, report.source) is not None:
            continue
        if report.key in existing:
            outcomes[i] = IntakeOutcome(IntakeStatus.DUPLICATE, case_id=existing[report.key])
            continue
        if _restores(report):
            if report.key.device_id in with_case:
                continue
            if source.power_lost:
                back.append(report.key.device_id)
            taken.append(i)
            continue
        incident = incident_for(by_key, source.district or "", source.hub_port or "")
        if incident is None:
            continue
        held.append(Held(report.key.device_id, source.elder_id, incident))
        taken.append(i)
    if not taken:
        return outcomes
    conn.execute(
        _INSERT_EVENTS,
        [
            {
                "device_id": reports[i].key.device_id,
                "boot": reports[i].key.boot,
                "seq": reports[i].key.seq,
                "type": reports[i].type.value,
                "fields": dict(reports[i].fields),
                "source": reports[i].source,
                "case_id": None,
                "received_at": now,
            }
            for i in taken
        ],
    )
    if held:
        conn.execute(_POWER_OFF, [{"d": h.device_id, "now": now} for h in held])
        join_many(conn, held, now)
    on = [reports[i].key.device_id for i in taken if _restores(reports[i])]
    if on:
        conn.execute(_POWER_ON, [{"d": device_id, "now": now} for device_id in on])
    # After the joins, as the single path's order would have it when restores come last.
    count_back(uow, back, now)
    for i in taken:
        outcomes[i] = IntakeOutcome(IntakeStatus.ACCEPTED)
    return outcomes


def _sources(conn: Connection, device_ids: set[str]) -> dict[str, _Source]:
    rows = conn.execute(_SOURCES.on(conn), {"ids": sorted(device_ids)}).all()
    return {
        row[0]: _Source(row[1], row[2], row[3], row[4] is not None, row[5], bool(row[6]))
        for row in rows
    }
