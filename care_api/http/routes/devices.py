"""Terminals: provisioning (the secret is shown once), secret rotation, status."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from care_api.domain.access import Principal, is_staff, may_read_elder
from care_api.domain.errors import NotFound
from care_api.domain.model import Role
from care_api.http.deps import ServicesDep, StaffDep, UowDep, require_roles
from care_api.http.schemas import (
    DEVICE_ID_PATTERN,
    DeviceProvision,
    DeviceProvisioned,
    DevicePublic,
    DeviceSecret,
)
from care_api.usecases.registry import get_device, provision_device, rotate_device_secret

router = APIRouter(prefix="/devices", tags=["devices"])

DeviceId = Annotated[str, Path(pattern=DEVICE_ID_PATTERN)]
ReaderDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.CAREGIVER)]


@router.post("", status_code=status.HTTP_201_CREATED)
def post_device(
    body: DeviceProvision, services: ServicesDep, uow: UowDep, _principal: StaffDep
) -> DeviceProvisioned:
    """Register a terminal for an elder; 409 if the id is taken. The secret is shown once."""
    device, secret = provision_device(
        uow.session, body.device_id, body.elder_id, services.clock.now(), hub_port=body.hub_port
    )
    uow.commit()
    return DeviceProvisioned(device_id=device.device_id, elder_id=body.elder_id, secret=secret)


@router.post("/{device_id}/rotate-secret")
def post_rotate_secret(device_id: DeviceId, uow: UowDep, _principal: StaffDep) -> DeviceSecret:
    """Give the terminal a new secret; the old one stops working. Shown once."""
    secret = rotate_device_secret(uow.session, device_id)
    uow.commit()
    return DeviceSecret(device_id=device_id, secret=secret)


@router.get("/{device_id}")
def read_device(device_id: DeviceId, uow: UowDep, principal: ReaderDep) -> DevicePublic:
    """A terminal's binding and last known state: staff, or a caregiver of its elder."""
    device = get_device(uow.session, device_id)
    visible = is_staff(principal) or (
        device.elder_id is not None and may_read_elder(principal, device.elder_id)
    )
    if not visible:
        raise NotFound(f"device {device_id} not found")
    return DevicePublic.of(device)
