"""A terminal's lifecycle after provisioning: bind or move it, retire it, set its interval."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from care_api.domain.errors import Conflict
from care_api.domain.events import DeviceLoginRevoked
from care_api.domain.fleet import check_heartbeat_s
from care_api.domain.phones import DEFAULT_REGION, to_e164
from care_api.domain.texts import Msg
from care_api.store.tables import Device, DeviceCommand, DeviceModel
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.actions import resolve
from care_api.usecases.fleet.commands import WAITING, CommandStatus
from care_api.usecases.fleet.device_cases import active_device_case
from care_api.usecases.fleet.history import record_history
from care_api.usecases.people.registry import get_device, get_elder

log = logging.getLogger(__name__)

RETIRED = "retired"


def _clear_problems(device: Device) -> None:
    # What was wrong is judged afresh: a low battery or an outage that is still there is
    # raised again, for the terminal's new elder, by the next reading or watch run.
    device.outage_since = None
    device.battery_low = False
    device.power_lost = False


def _close_device_case(
    uow: SqlUnitOfWork, device: Device, why: str, by: str, now: datetime
) -> None:
    active = active_device_case(uow, device)
    if active is not None:
        resolve(uow, active.id, by=by, why=why, now=now)


def bind_device(
    uow: SqlUnitOfWork, device_id: str, elder_id: int, *, by: str, now: datetime
) -> Device:
    """Bind the terminal to `elder_id`, or move it there from its elder; recorded in history.

    The old elder's device case for it is resolved: the terminal's problems are the new
    elder's from now on.
    """
    session = uow.session
    device = get_device(session, device_id)
    if device.status == RETIRED:
        raise Conflict(Msg("device {device_id} is retired", device_id=device_id))
    get_elder(session, elder_id)
    if device.elder_id == elder_id:
        return device
    before = device.elder_id
    if before is not None:
        why = Msg("terminal moved to elder {elder}", elder=elder_id)
        _close_device_case(uow, device, why, by, now)
    _clear_problems(device)
    device.elder_id = elder_id
    session.add(device)
    action = "bound" if before is None else "moved"
    detail = (
        Msg("elder {elder}", elder=elder_id)
        if before is None
        else Msg("elder {before} → elder {elder}", before=before, elder=elder_id)
    )
    record_history(session, device, action, by=by, now=now, detail=detail)
    log.info("device %s %s: %s", device_id, action, detail)
    return device


def retire_device(
    uow: SqlUnitOfWork, device_id: str, *, by: str, now: datetime, reason: str = ""
) -> Device:
    """Take the terminal out of service: its events are rejected from now on.

    Its open device case is resolved and its waiting commands fail. Retiring a retired
    terminal changes nothing.
    """
    session = uow.session
    device = get_device(session, device_id)
    if device.status == RETIRED:
        return device
    _close_device_case(uow, device, Msg("terminal retired"), by, now)
    _clear_problems(device)
    device.status = RETIRED
    session.add(device)
    session.execute(
        update(DeviceCommand)
        .where(col(DeviceCommand.device_id) == device_id, col(DeviceCommand.status).in_(WAITING))
        .values(status=CommandStatus.FAILED.value, detail="device retired", answered_at=now)
        .execution_options(synchronize_session=False)
    )
    record_history(session, device, RETIRED, by=by, now=now, detail=reason)
    uow.emit(DeviceLoginRevoked(device_id))  # a retired terminal keeps no broker session
    log.info("device %s retired by %s", device_id, by)
    return device


def update_device(
    session: Session,
    device_id: str,
    *,
    by: str,
    now: datetime,
    heartbeat_s: int | None = None,
    model: str | None = None,
    sim_phone: str | None = None,
    region: str = DEFAULT_REGION,
) -> Device:
    """Set the interval the watch expects of the terminal, its model, and/or its SIM's number."""
    device = get_device(session, device_id)
    changes: list[str] = []
    if heartbeat_s is not None:
        device.heartbeat_s = check_heartbeat_s(heartbeat_s)
        changes.append(f"heartbeat_s={device.heartbeat_s}")
    if model is not None:
        device.model = model
        changes.append(f"model={model}")
    if sim_phone is not None:
        device.sim_phone = to_e164(sim_phone, region)
        changes.append(f"sim_phone={device.sim_phone}")
    if changes:
        session.add(device)
        record_history(session, device, "updated", by=by, now=now, detail=", ".join(changes))
    return device


def set_model_interval(
    session: Session, model: str, heartbeat_s: int, *, by: str, now: datetime
) -> int:
    """Every terminal of `model` (and those provisioned later) keeps `heartbeat_s`.

    Returns how many terminals in service it applied to.
    """
    seconds = check_heartbeat_s(heartbeat_s)
    row = session.get(DeviceModel, model) or DeviceModel(model=model, heartbeat_s=seconds)
    row.heartbeat_s, row.updated_by, row.updated_at = seconds, by, now
    session.add(row)
    devices = session.exec(
        select(Device).where(Device.model == model, col(Device.status) != RETIRED)
    ).all()
    for device in devices:
        device.heartbeat_s = seconds
        session.add(device)
    log.info("model %s: heartbeat %d s for %d terminals", model, seconds, len(devices))
    return len(devices)
