"""Intake of device reports: dedup, keymap, and case opening in one transaction."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from typing import cast

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from care_api.domain.alarm_codes import CAUSE_FALL
from care_api.domain.cases import is_unowned
from care_api.domain.model import (
    CaseKind,
    CaseState,
    DeviceReport,
    IntakeOutcome,
    IntakeStatus,
    ReportType,
)
from care_api.domain.texts import Msg
from care_api.store.heartbeat_book import HeartbeatBook
from care_api.store.tables import Case, Device, DeviceEvent, Elder
from care_api.store.uow import SqlUnitOfWork, UowFactory
from care_api.usecases.cases.log import add_note, move_case, open_or_join, place_event
from care_api.usecases.fleet.commands import record_result
from care_api.usecases.fleet.device_cases import end_outage, note_battery, note_power
from care_api.usecases.fleet.history import record_history
from care_api.usecases.intake.fall_window import (
    FALL_CANCEL_WINDOW_S,
    FALL_TRIGGER,
    cancel_held_fall,
    hold_fall,
)
from care_api.usecases.intake.heartbeats import heartbeat_effects, record_heartbeat
from care_api.usecases.intake.plan import Running, Source, Step, plan_presses, running_cases
from care_api.usecases.intake.sources import int_or, refusal, touch_device
from care_api.usecases.schedules.checkins import all_windows_of, note_late_checkin, note_press
from care_api.usecases.schedules.drills import in_drill

log = logging.getLogger(__name__)


def record_device_report(
    uow_factory: UowFactory,
    report: DeviceReport,
    *,
    now: datetime,
    tz: tzinfo,
    heartbeats: HeartbeatBook | None = None,
    fall_window_s: int = FALL_CANCEL_WINDOW_S,
) -> IntakeOutcome:
    """Record one report and decide its ack; commits before returning.

    The `(device_id, boot, seq)` unique key is the truth for duplicates: two gateways racing
    on the same resend end with one case, and the loser answers `duplicate` with it.

    With `heartbeats` (the gateway's book), a heartbeat that changes nothing but the
    last-seen facts is kept in memory and written later in a batch, not as rows now.
    A fall opens its emergency only after `fall_window_s` without a cancel (0: at once).
    """
    if heartbeats is not None and report.type is ReportType.HEARTBEAT:
        return record_heartbeat(uow_factory, report, heartbeats, now, tz)
    outcome = _record_report(uow_factory, report, now, tz, fall_window_s)
    if heartbeats is not None and report.type is ReportType.BATTERY:
        # The row now holds the newer level; a beat waiting in the book must not undo it.
        heartbeats.discard(report.key.device_id)
    return outcome


def _record_report(
    uow_factory: UowFactory, report: DeviceReport, now: datetime, tz: tzinfo, fall_window_s: int
) -> IntakeOutcome:
    with uow_factory() as uow:
        checked = _check_source(uow.session, report)
        if isinstance(checked, IntakeOutcome):
            return checked
        previous = _find_event(uow.session, report)
        if previous is not None:
            return IntakeOutcome(IntakeStatus.DUPLICATE, case_id=previous.case_id)
        try:
            outcome = _record(uow, checked, report, now, tz, fall_window_s)
            uow.commit()
        except IntegrityError:
            uow.rollback()
        else:
            return outcome
    # Another process committed the same key between our read and our insert.
    with uow_factory() as uow:
        previous = _find_event(uow.session, report)
        if previous is None:
            raise RuntimeError(f"integrity error recording {report.key} but no earlier event")
        return IntakeOutcome(IntakeStatus.DUPLICATE, case_id=previous.case_id)


def source_refusal(uow_factory: UowFactory, device_id: str, source: str) -> str | None:
    """Why `device_id` may not report through `source` ("unknown device" …), None if it may.

    For messages that carry nothing to record (a panel's event the service does not act
    on), so they are answered like the device's other reports would be.
    """
    with uow_factory() as uow:
        device = uow.session.get(Device, device_id)
        if device is None:
            return "unknown device"
        return refusal(device.status, device.elder_id, device.hub_port, source)


def _check_source(session: Session, report: DeviceReport) -> Device | IntakeOutcome:
    device = session.get(Device, report.key.device_id)
    if device is None:
        return IntakeOutcome.rejected("unknown device")
    reason = refusal(device.status, device.elder_id, device.hub_port, report.source)
    return device if reason is None else IntakeOutcome.rejected(reason)


def _find_event(session: Session, report: DeviceReport) -> DeviceEvent | None:
    key = report.key
    params = {"device_id": key.device_id, "boot": key.boot, "seq": key.seq}
    return session.exec(_EVENT_BY_KEY, params=params).first()


# Built once: every report asks whether its key was recorded already.
_EVENT_BY_KEY = select(DeviceEvent).where(
    col(DeviceEvent.device_id) == bindparam("device_id"),
    col(DeviceEvent.boot) == bindparam("boot"),
    col(DeviceEvent.seq) == bindparam("seq"),
)


def _record(
    uow: SqlUnitOfWork,
    device: Device,
    report: DeviceReport,
    now: datetime,
    tz: tzinfo,
    fall_window_s: int,
) -> IntakeOutcome:
    session = uow.session
    event = DeviceEvent(
        device_id=device.device_id,
        boot=report.key.boot,
        seq=report.key.seq,
        type=report.type,
        fields=dict(report.fields),
        source=report.source,
        received_at=now,
    )
    session.add(event)
    session.flush()  # the unique key is checked here, before any case is opened
    touch_device(device, report, now)
    session.add(device)
    case = _apply(uow, device, event, report, now, tz, fall_window_s)
    if case is not None:
        event.case_id = case.id
        session.add(event)
    return IntakeOutcome(
        IntakeStatus.ACCEPTED,
        case_id=case.id if case else None,
        kind=case.kind if case else None,
    )


def _elder_of(device: Device) -> int:
    if device.elder_id is None:  # _check_source rejects these; this guards later edits
        raise RuntimeError(f"device {device.device_id} is not bound to an elder")
    return device.elder_id


def _apply(
    uow: SqlUnitOfWork,
    device: Device,
    event: DeviceEvent,
    report: DeviceReport,
    now: datetime,
    tz: tzinfo,
    fall_window_s: int,
) -> Case | None:
    elder_id = _elder_of(device)
    f = report.fields
    by = f"device:{device.device_id}"
    if report.type is ReportType.HEARTBEAT:
        heartbeat_effects(uow, device, report, now, tz)
        return None  # PROTOCOL.md: a heartbeat's ack names no case
    end_outage(uow, device, via=str(report.type), by=by, now=now)
    if report.type is ReportType.PRESS:
        elder = uow.session.get(Elder, elder_id)
        override = elder.keymap_override if elder else None
        button, pattern = str(f.get("button", "main")), str(f.get("pattern", "single"))
        # The elder's check-in windows, read once for both questions below; most elders
        # have none, and then neither can apply.
        windows = all_windows_of(uow.session, elder_id)
        # A check-in press after a missed window goes to that window's case...
        late = (
            note_late_checkin(
                uow,
                elder_id,
                device_id=device.device_id,
                button=button,
                pattern=pattern,
                now=now,
                tz=tz,
                windows=windows,
            )
            if windows
            else None
        )
        if windows and note_press(uow.session, elder_id, button, pattern, now, tz, windows=windows):
            return None  # the "I'm OK" of an open check-in window: no case
        if late is not None:
            return late  # ...rather than opening a service request
        return _place_press(uow, device, event, report, override, now, tz)
    if report.type is ReportType.FALL:
        if fall_window_s > 0:
            hold_fall(uow, event, now=now, window_s=fall_window_s)
            return None  # the ack names no case until the window closes
        return open_or_join(
            uow, device, event, CaseKind.EMERGENCY, FALL_TRIGGER, now, tz, cause=CAUSE_FALL
        )
    if report.type is ReportType.CANCEL:
        return _cancel(uow, device, report, now, tz)
    if report.type is ReportType.BATTERY:
        level = int_or(f.get("level"), None)
        if level is not None:
            return note_battery(uow, device, level, by=by, now=now, tz=tz, device_event_id=event.id)
    if report.type is ReportType.POWER:
        return note_power(
            uow, device, str(f.get("state")), by=by, now=now, tz=tz, device_event_id=event.id
        )
    if report.type is ReportType.BOOT:
        # The seq window restarts by itself: dedup is by (device, boot, seq).
        detail = Msg(
            "boot {boot}, firmware {fw}", boot=report.key.boot, fw=device.fw or Msg("unknown")
        )
        record_history(uow.session, device, "boot", by=by, now=now, detail=detail)
    if report.type is ReportType.CMD_RESULT:
        record_result(
            uow.session,
            device.device_id,
            ref=f.get("ref"),
            ok=f.get("ok") is True,
            detail=f.get("detail"),
            now=now,
        )
    return None


def _place_press(
    uow: SqlUnitOfWork,
    device: Device,
    event: DeviceEvent,
    report: DeviceReport,
    override: dict[str, str] | None,
    now: datetime,
    tz: tzinfo,
) -> Case:
    """Join or open the press's case as the planner decides, the same planner as a batch's."""
    session = uow.session
    elder_id = _elder_of(device)
    source = Source(
        device.status, elder_id, device.hub_port, override, in_drill(session, device.device_id)
    )
    session.flush()  # the running cases are read with Core, past the ORM's pending rows
    running = running_cases(session.connection(), {elder_id})
    # The source was checked and the key found new above: the plan is a join or an open.
    [decision] = plan_presses([report], {device.device_id: source}, {}, running)
    if decision.step is Step.JOIN and decision.case_id is not None:
        join: Running | None = Running(decision.case_id, cast(CaseState, decision.state))
    elif decision.step is Step.OPEN:
        join = None
    else:
        raise RuntimeError(f"press {report.key} planned {decision.step} after its checks")
    return place_event(
        uow,
        device,
        event,
        cast(CaseKind, decision.kind),
        decision.trigger,
        now,
        tz,
        drill=decision.drill,
        join=join,
        line=decision.line,
    )


def _cancel(
    uow: SqlUnitOfWork, device: Device, report: DeviceReport, now: datetime, tz: tzinfo
) -> Case | None:
    """Undo the event `ref_seq` names; the case only when that event opened it, unowned."""
    ref_seq = report.fields.get("ref_seq")
    ref = uow.session.exec(
        select(DeviceEvent).where(
            DeviceEvent.device_id == device.device_id,
            DeviceEvent.boot == report.key.boot,
            DeviceEvent.seq == ref_seq,
        )
    ).first()
    by = f"device:{device.device_id}"
    if ref is not None and ref.case_id is None and ref.type == ReportType.FALL:
        held = cancel_held_fall(uow, ref, by=by, now=now, tz=tz)
        if held is not None:
            return held
        uow.session.refresh(ref)  # the window closed meanwhile: cancel what it opened
    if ref is None or ref.case_id is None:
        log.warning("cancel of unknown press device=%s ref_seq=%s", device.device_id, ref_seq)
        return None
    case = uow.session.get(Case, ref.case_id)
    if case is None:
        return None
    if case.device_event_id != ref.id:
        # The event named only joined a case something else opened (a repeat press after a
        # fall): undo that event, never the alarm that is still running.
        why = Msg("elder cancelled {type} seq {seq}; the case goes on", type=ref.type, seq=ref.seq)
        add_note(uow, case, action="note", by=by, why=why, now=now)
        return case
    if is_unowned(case.state):
        move_case(
            uow, case, CaseState.CANCELLED, by=by, why=Msg("elder cancelled (false alarm)"), now=now
        )
    else:
        # Someone already took it: help keeps coming, the responder is told.
        add_note(uow, case, action="note", by=by, why=Msg("elder pressed cancel"), now=now)
    return case
