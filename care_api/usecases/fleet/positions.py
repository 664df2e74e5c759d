"""Positions terminals report (4G watches): last one, track, and the safe-zone check."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import delete
from sqlmodel import Session, col, select

from care_api.domain.fleet import DevicePosition, is_newer_position
from care_api.store.tables import Device
from care_api.store.uow import UowFactory
from care_api.store.watch_tables import PositionPoint
from care_api.usecases.fleet.safe_zones import check_departure
from care_api.usecases.fleet.worn import note_taken_off, watch_taken_off, worn_again
from care_api.usecases.intake.sources import refusal


def record_position(
    uow_factory: UowFactory,
    device_id: str,
    source: str,
    position: DevicePosition | None,
    *,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    watch_says_left: bool = False,
    taken_off_at: datetime | None = None,
    worn: bool = False,
    taken_off_case_s: int = 30 * 60,
    language: str = "zh-CN",
) -> str | None:
    """Keep `position` as the terminal's last one; why it may not report, None if it may.

    A terminal that may not report through `source` (unknown, retired, unbound) changes
    nothing. `position` None: only the check (a frame that says nowhere). With `now` and
    `tz` the position also joins the track and is checked against the elder's safe zone
    (`watch_says_left`: the watch's own fence bit), which may open a care case.
    `taken_off_at`: the time of a "taken off the wrist" alarm, noticed to the family and
    the centre (in `language` for the centre), and for a flagged elder a care case unless
    the watch is `worn` again within `taken_off_case_s`.
    """
    with uow_factory() as uow:
        device = uow.session.get(Device, device_id, with_for_update=position is not None)
        if device is None:
            return "unknown device"
        reason = refusal(device.status, device.elder_id, device.hub_port, source)
        if reason is not None:
            return reason
        if position is not None and is_newer_position(device.position_at, position):
            device.position_at = position.at
            device.position_lat = position.lat
            device.position_lon = position.lon
            device.position_fix = position.fix
            device.position_source = str(position.source)
            uow.session.add(device)
        if now is not None and tz is not None and device.elder_id is not None:
            if position is not None and not _on_track(uow.session, device_id, position):
                uow.session.add(_point(device_id, device.elder_id, position, now))
            check_departure(
                uow,
                device.elder_id,
                device_id,
                position,
                watch_says_left=watch_says_left,
                now=now,
                tz=tz,
            )
            if taken_off_at is not None:
                if note_taken_off(uow, device, taken_off_at, now=now, tz=tz, centre=language):
                    watch_taken_off(uow, device.elder_id, now=now, after_s=taken_off_case_s)
            elif worn:
                worn_again(uow, device.elder_id)
        uow.commit()
        return None


def _on_track(session: Session, device_id: str, position: DevicePosition) -> bool:
    # A resent alarm carries the position it was raised at: one point, not two.
    return (
        session.exec(
            select(PositionPoint.id).where(
                col(PositionPoint.device_id) == device_id,
                col(PositionPoint.at) == position.at,
                col(PositionPoint.lat) == position.lat,
                col(PositionPoint.lon) == position.lon,
            )
        ).first()
        is not None
    )


def _point(device_id: str, elder_id: int, position: DevicePosition, now: datetime) -> PositionPoint:
    return PositionPoint(
        device_id=device_id,
        elder_id=elder_id,
        at=position.at,
        lat=position.lat,
        lon=position.lon,
        fix=position.fix,
        source=str(position.source),
        received_at=now,
    )


def prune_positions(uow_factory: UowFactory, received_before: datetime) -> int:
    """Delete the track's points received before `received_before`; how many went."""
    with uow_factory() as uow:
        result = uow.session.execute(
            delete(PositionPoint).where(col(PositionPoint.received_at) < received_before)
        )
        uow.commit()
        return int(getattr(result, "rowcount", 0) or 0)
