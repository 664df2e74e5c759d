"""Whether a terminal may log in to the broker: its id and secret against the store."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from care_api.store.tables import Device
from care_api.store.uow import UowFactory
from care_api.usecases.people.credentials import hash_secret, secret_matches

log = logging.getLogger(__name__)

RETIRED = "retired"
# Compared against when the device is unknown, so that an unknown id costs the same time
# as a wrong secret and the answer's timing does not tell which devices exist.
_NO_SUCH_HASH = hash_secret("no device has this secret")


def verify_device(uow_factory: UowFactory, device_id: str, secret: str) -> bool:
    """True when `device_id` is a provisioned, not retired terminal whose secret is `secret`.

    A database that cannot be reached refuses the login (logged): the terminal retries,
    and letting it in unchecked would defeat the point.
    """
    try:
        with uow_factory() as uow:
            device = uow.session.get(Device, device_id)
            stored = device.secret_hash if device is not None else _NO_SUCH_HASH
            status = device.status if device is not None else None
    except SQLAlchemyError as exc:
        log.warning("broker login of %s refused: the store is unreachable: %s", device_id, exc)
        return False
    matches = secret_matches(secret, stored)
    if device is None or not matches:
        log.info("broker login refused: unknown device or wrong secret for %s", device_id)
        return False
    if status == RETIRED:
        log.info("broker login refused: device %s is retired", device_id)
        return False
    return True
