"""A terminal's presence flag from the broker: `online` on connect, `offline` by its last will."""

from __future__ import annotations

import logging
from datetime import datetime

from care_api.store.tables import Device
from care_api.store.uow import UowFactory

log = logging.getLogger(__name__)


def record_presence(
    uow_factory: UowFactory, device_id: str, online: bool, now: datetime, *, seen: bool = True
) -> bool:
    """Set the device's `online` flag; commits. Returns False for an unknown device.

    `last_seen_at` moves only when the message shows the device alive right now: an
    `online` that is not a broker's replay of a retained flag (`seen`). An `offline` is the
    broker speaking for a device it stopped hearing from, so it never moves it.
    """
    with uow_factory() as uow:
        device = uow.session.get(Device, device_id)
        if device is None:
            log.debug("presence of unknown device %s ignored", device_id)
            return False
        device.online = online
        if online and seen:
            device.last_seen_at = now
        uow.session.add(device)
        uow.commit()
    return True
