"""Intake of heartbeats through the HeartbeatBook: one light read, no write, most of the time.

A heartbeat is checked against the terminal's row (a core SELECT of six columns, no ORM
object) and kept in the book; only one that changes something (a terminal back from an
outage, not yet online, or a battery crossing 20 %) is written at once, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Row, bindparam, select

from care_api.domain.fleet import battery_change
from care_api.domain.model import DeviceReport, IntakeOutcome, IntakeStatus
from care_api.store.arrays import Pair, one_of
from care_api.store.heartbeat_book import Beat, HeartbeatBook
from care_api.store.tables import Device
from care_api.store.uow import SqlUnitOfWork, UowFactory
from care_api.usecases.fleet.device_cases import end_outage, note_battery
from care_api.usecases.intake.sources import int_or, refusal, touch_device

_DEVICE = Device.metadata.tables["device"]
_GATE_COLUMNS = select(
    _DEVICE.c.device_id,
    _DEVICE.c.status,
    _DEVICE.c.elder_id,
    _DEVICE.c.hub_port,
    _DEVICE.c.online,
    _DEVICE.c.outage_since,
    _DEVICE.c.battery_low,
)
_GATE = _GATE_COLUMNS.where(_DEVICE.c.device_id == bindparam("device_id"))
# A run's terminals: one SQL text on PostgreSQL whatever the run's size (`store.arrays`).
_GATES = Pair(
    lambda pg: _GATE_COLUMNS.where(one_of(_DEVICE.c.device_id, "device_ids", postgres=pg))
)


def beat_of(report: DeviceReport, now: datetime) -> Beat:
    """What a heartbeat report says, as the book keeps it."""
    f = report.fields
    fw = f.get("fw")
    return Beat(
        seen_at=now,
        battery=int_or(f.get("battery"), None),
        rssi=int_or(f.get("rssi"), None),
        fw=fw if isinstance(fw, str) else None,
    )


def record_heartbeat(
    uow_factory: UowFactory, report: DeviceReport, book: HeartbeatBook, now: datetime, tz: tzinfo
) -> IntakeOutcome:
    """Check the terminal, keep its beat in `book`; write at once only if something changed.

    No device_event row is kept for a heartbeat, so a resent one is not recognised as a
    duplicate: it is accepted again, which is harmless (it only says "alive" once more).
    """
    device_id = report.key.device_id
    beat = beat_of(report, now)
    with uow_factory() as uow:
        gate = uow.session.execute(_GATE, {"device_id": device_id}).first()
        if gate is None:
            return IntakeOutcome.rejected("unknown device")
        reason = refusal(gate.status, gate.elder_id, gate.hub_port, report.source)
        if reason is not None:
            return IntakeOutcome.rejected(reason)
        if not _is_routine(gate, beat):
            device = uow.session.get(Device, device_id, with_for_update=True)
            if device is not None:
                touch_device(device, report, now)
                heartbeat_effects(uow, device, report, now, tz)
                uow.session.add(device)
                uow.commit()
    book.record(device_id, beat)
    return IntakeOutcome(IntakeStatus.ACCEPTED)


def record_heartbeats(
    uow_factory: UowFactory,
    reports: Sequence[DeviceReport],
    book: HeartbeatBook,
    *,
    now: datetime,
    tz: tzinfo,
) -> list[IntakeOutcome]:
    """Several heartbeats with one read of their terminals' rows; one outcome each, in order.

    For a pipeline that hands heartbeats over in runs (as it does presses): what is routine
    goes to the book, anything else takes `record_heartbeat`'s path one by one.
    """
    ids = sorted({r.key.device_id for r in reports})
    with uow_factory() as uow:
        session = uow.session
        gates = {
            row.device_id: row for row in session.execute(_GATES.on(session), {"device_ids": ids})
        }
    outcomes: list[IntakeOutcome] = []
    for report in reports:
        gate = gates.get(report.key.device_id)
        beat = beat_of(report, now)
        if (
            gate is not None
            and refusal(gate.status, gate.elder_id, gate.hub_port, report.source) is None
            and _is_routine(gate, beat)
        ):
            book.record(report.key.device_id, beat)
            outcomes.append(IntakeOutcome(IntakeStatus.ACCEPTED))
        else:
            outcomes.append(record_heartbeat(uow_factory, report, book, now, tz))
    return outcomes


def _is_routine(gate: Row[Any], beat: Beat) -> bool:
    """True for a terminal online, without an outage, whose battery did not cross 20 %."""
    if gate.online is not True or gate.outage_since is not None:
        return False
    return beat.battery is None or battery_change(gate.battery_low, beat.battery) is None


def heartbeat_effects(
    uow: SqlUnitOfWork, device: Device, report: DeviceReport, now: datetime, tz: tzinfo
) -> None:
    """A heartbeat ends an open outage, and its battery level may cross 20 % either way."""
    by = f"device:{device.device_id}"
    end_outage(uow, device, via="heartbeat", by=by, now=now)
    battery = int_or(report.fields.get("battery"), None)
    if battery is not None:
        note_battery(uow, device, battery, by=by, now=now, tz=tz)
