"""The last position a terminal reported (4G watches), kept on its device row."""

from __future__ import annotations

from care_api.domain.fleet import DevicePosition, is_newer_position
from care_api.store.tables import Device
from care_api.store.uow import UowFactory
from care_api.usecases.intake.sources import refusal


def record_position(
    uow_factory: UowFactory, device_id: str, source: str, position: DevicePosition | None
) -> str | None:
    """Keep `position` as the terminal's last one; why it may not report, None if it may.

    A terminal that may not report through `source` (unknown, retired, unbound) changes
    nothing. `position` None: only the check (a frame that says nowhere).
    """
    with uow_factory() as uow:
        device = uow.session.get(Device, device_id, with_for_update=position is not None)
        if device is None:
            return "unknown device"
        reason = refusal(device.status, device.elder_id, device.hub_port, source)
        if reason is not None or position is None:
            return reason
        if is_newer_position(device.position_at, position):
            device.position_at = position.at
            device.position_lat = position.lat
            device.position_lon = position.lon
            device.position_fix = position.fix
            device.position_source = str(position.source)
            uow.session.add(device)
            uow.commit()
        return None
