"""A terminal's presence flag from the broker: `online` on connect, `offline` by its last will."""

from __future__ import annotations

import logging
from datetime import datetime

from care_api.store.tables import Device
from care_api.store.uow import UowFactory
from care_api.usecases.fleet.device_cases import end_outage

log = logging.getLogger(__name__)


def record_presence(
    uow_factory: UowFactory, device_id: str, online: bool, now: datetime, *, seen: bool = True
) -> bool:
    """Set the device's `online` flag; commits. Returns False for an unknown device.

    `last_seen_at` moves only when the message shows the device alive right now: an
    `online` that is not a broker's replay of a retained flag (`seen`). An `offline` is the
    broker speaking for a device it stopped hearing from, so it never moves it.

    `offline` only marks the time (`offline_at`): the fleet watch opens the outage's case,
    so a connection that drops and returns before it looks raises no alarm. A live
    `online` ends an open outage at once.
    """
    with uow_factory() as uow:
        device = uow.session.get(Device, device_id)
        if device is None:
            log.debug("presence of unknown device %s ignored", device_id)
            return False
        if not online and device.online is not False:
            device.offline_at = now
        device.online = online
        if online:
            device.offline_at = None
        if online and seen:
            device.last_seen_at = now
            end_outage(uow, device, via="connected", by=f"device:{device_id}", now=now)
        uow.session.add(device)
        uow.commit()
    return True
