"""Terminals: provisioning (the secret is shown once), lifecycle, commands, status."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from care_api.domain.access import Principal, is_staff, may_read_elder
from care_api.domain.errors import NotFound
from care_api.domain.events import DeviceLoginRevoked
from care_api.domain.model import Role
from care_api.domain.texts import Msg
from care_api.http.deps import ServicesDep, StaffDep, UowDep, require_roles
from care_api.http.models.common import DEVICE_ID_PATTERN
from care_api.http.models.devices import (
    CommandCreate,
    CommandPublic,
    DeviceBind,
    DeviceEventPublic,
    DeviceHistoryPublic,
    DeviceProvision,
    DeviceProvisioned,
    DevicePublic,
    DeviceRetire,
    DeviceSecret,
    DeviceUpdate,
    FleetPublic,
    ModelInterval,
    ModelIntervalSet,
    ModelName,
)
from care_api.store.tables import Device
from care_api.usecases.cases.queries import MAX_PAGE
from care_api.usecases.fleet.commands import (
    get_command,
    list_commands,
    request_command,
)
from care_api.usecases.fleet.history import events_of, history_of
from care_api.usecases.fleet.lifecycle import (
    bind_device,
    retire_device,
    set_model_interval,
    update_device,
)
from care_api.usecases.people.registry import get_device, provision_device, rotate_device_secret
from care_api.usecases.reports.console import FLEET_MAX_ROWS, FleetFilter, fleet, fleet_summary

router = APIRouter(prefix="/devices", tags=["devices"])

DeviceId = Annotated[str, Path(pattern=DEVICE_ID_PATTERN)]
CommandId = Annotated[int, Path(ge=1)]
ReaderDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR, Role.CAREGIVER)]


def _visible(uow: UowDep, device_id: str, principal: Principal) -> Device:
    device = get_device(uow.session, device_id)
    visible = is_staff(principal) or (
        device.elder_id is not None and may_read_elder(principal, device.elder_id)
    )
    if not visible:
        raise NotFound(Msg("device {device_id} not found", device_id=device_id))
    return device


@router.post("", status_code=status.HTTP_201_CREATED)
def post_device(
    body: DeviceProvision, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> DeviceProvisioned:
    """Register a terminal for an elder; 409 if the id is taken. The secret is shown once.

    422 for an id the broker would misread or that is reserved for the service's own
    logins (`vnh-…`, the gateway's username).
    """
    device, secret = provision_device(
        uow.session,
        body.device_id,
        body.elder_id,
        services.clock.now(),
        hub_port=body.hub_port,
        model=body.model,
        heartbeat_s=body.heartbeat_s,
        by=principal.actor,
        service_accounts=(services.settings.mqtt_username,),
    )
    uow.commit()
    return DeviceProvisioned(device_id=device.device_id, elder_id=body.elder_id, secret=secret)


@router.get("")
def read_fleet(
    uow: UowDep,
    _staff: StaffDep,
    problems: bool = False,
    online: bool | None = None,
    battery_below: Annotated[int | None, Query(ge=0, le=101)] = None,
    seen_before: datetime | None = None,
    fw: Annotated[str | None, Query(max_length=64)] = None,
    elder_id: Annotated[int | None, Query(ge=1)] = None,
    model: Annotated[str | None, Query(max_length=64)] = None,
    retired: bool = False,
    limit: Annotated[int, Query(ge=1, le=FLEET_MAX_ROWS)] = FLEET_MAX_ROWS,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FleetPublic:
    """The fleet: offline or low-battery terminals first, with a summary of all in service.

    Filters combine: `online`, `battery_below` (percent), `seen_before` (a time with a UTC
    offset; never-seen terminals match), `fw`, `elder_id`, `model`; `retired=true` lists
    retired terminals instead of those in service.
    """
    if seen_before is not None and seen_before.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "times need a UTC offset")
    where = FleetFilter(
        online=online,
        battery_below=battery_below,
        seen_before=seen_before,
        fw=fw,
        elder_id=elder_id,
        model=model,
        retired=retired,
    )
    rows = fleet(uow.session, problems_only=problems, limit=limit, offset=offset, where=where)
    return FleetPublic.build(fleet_summary(uow.session), rows)


@router.put("/models/{model}")
def put_model_interval(
    model: Annotated[ModelName, Path()],
    body: ModelInterval,
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
) -> ModelIntervalSet:
    """Every terminal of `model`, and those provisioned later, is expected at this interval."""
    count = set_model_interval(
        uow.session, model, body.heartbeat_s, by=principal.actor, now=services.clock.now()
    )
    uow.commit()
    return ModelIntervalSet(model=model, heartbeat_s=body.heartbeat_s, devices=count)


@router.post("/{device_id}/rotate-secret")
def post_rotate_secret(
    device_id: DeviceId, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> DeviceSecret:
    """Give the terminal a new secret; the old one stops working, its sessions end. Shown once."""
    secret = rotate_device_secret(
        uow.session, device_id, by=principal.actor, now=services.clock.now()
    )
    # A session opened with the old secret would otherwise outlive it.
    uow.emit(DeviceLoginRevoked(device_id))
    uow.commit()
    return DeviceSecret(device_id=device_id, secret=secret)


@router.get("/{device_id}")
def read_device(device_id: DeviceId, uow: UowDep, principal: ReaderDep) -> DevicePublic:
    """A terminal's binding and last known state: staff, or a caregiver of its elder."""
    return DevicePublic.of(_visible(uow, device_id, principal))


@router.patch("/{device_id}")
def patch_device(
    device_id: DeviceId,
    body: DeviceUpdate,
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
) -> DevicePublic:
    """Set the heartbeat interval the watch expects of it (the terminal's own: `config`)."""
    device = update_device(
        uow.session,
        device_id,
        by=principal.actor,
        now=services.clock.now(),
        heartbeat_s=body.heartbeat_s,
        model=body.model,
        sim_phone=body.sim_phone,
        region=services.settings.phone_region,
    )
    uow.commit()
    return DevicePublic.of(device)


@router.post("/{device_id}/bind")
def post_bind(
    device_id: DeviceId, body: DeviceBind, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> DevicePublic:
    """Bind the terminal to an elder, or move it to another; 409 if it is retired."""
    device = bind_device(
        uow, device_id, body.elder_id, by=principal.actor, now=services.clock.now()
    )
    uow.commit()
    return DevicePublic.of(device)


@router.post("/{device_id}/retire")
def post_retire(
    device_id: DeviceId,
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
    body: DeviceRetire | None = None,
) -> DevicePublic:
    """Take the terminal out of service; its events are rejected "device retired" after."""
    reason = body.reason if body is not None else ""
    device = retire_device(
        uow, device_id, by=principal.actor, now=services.clock.now(), reason=reason
    )
    uow.commit()
    return DevicePublic.of(device)


@router.get("/{device_id}/history")
def read_history(
    device_id: DeviceId, uow: UowDep, principal: ReaderDep
) -> list[DeviceHistoryPublic]:
    """Provisioned, bound, moved, retired, rotated, booted: oldest first."""
    _visible(uow, device_id, principal)
    return [DeviceHistoryPublic.of(row) for row in history_of(uow.session, device_id)]


@router.get("/{device_id}/events")
def read_events(
    device_id: DeviceId,
    uow: UowDep,
    principal: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DeviceEventPublic]:
    """What the terminal sent (presses, falls, power, battery…), newest first, with Contact ID."""
    _visible(uow, device_id, principal)
    rows = events_of(uow.session, device_id, limit=limit, offset=offset)
    return [DeviceEventPublic.of(row, kind) for row, kind in rows]


@router.post("/{device_id}/commands", status_code=status.HTTP_201_CREATED)
def post_command(
    device_id: DeviceId,
    body: CommandCreate,
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
) -> CommandPublic:
    """Send a command to the terminal (watches: also locate, call, monitor, sos_numbers…).

    Follow it with GET …/commands/{id}: a watch that is not connected fails it at once.
    """
    settings = services.settings
    row = request_command(
        uow,
        device_id,
        body.cmd,
        body.params,
        by=principal.actor,
        now=services.clock.now(),
        hotline=settings.hotline_number or settings.twilio_from,
    )
    uow.commit()
    return CommandPublic.of(row)


@router.get("/{device_id}/commands")
def read_commands(device_id: DeviceId, uow: UowDep, _staff: StaffDep) -> list[CommandPublic]:
    """The terminal's commands, newest first."""
    get_device(uow.session, device_id)
    return [CommandPublic.of(row) for row in list_commands(uow.session, device_id)]


@router.get("/{device_id}/commands/{command_id}")
def read_command(
    device_id: DeviceId, command_id: CommandId, uow: UowDep, _staff: StaffDep
) -> CommandPublic:
    """One command: pending, sent, ok, failed or timeout, with the terminal's answer."""
    return CommandPublic.of(get_command(uow.session, device_id, command_id))
