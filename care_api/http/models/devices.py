"""API models of terminals: provisioning, state and position, the fleet, commands, history."""

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field

from care_api.domain.alarm_codes import contact_id_for_event
from care_api.http.models.common import DEVICE_ID_PATTERN, ContactIdPublic, Timestamp
from care_api.http.reader_language import in_reader_language
from care_api.store.tables import Device, DeviceCommand, DeviceEvent, DeviceHistory
from care_api.usecases.fleet.commands import MAX_PARAMS, CommandName, CommandStatus
from care_api.usecases.reports.console import FleetRow, FleetSummary

HeartbeatSeconds = Annotated[int, Field(ge=1, le=86_400, examples=[300])]

ModelName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class DeviceProvision(BaseModel):
    """A terminal to register for an elder."""

    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN, examples=["T1001"])]
    elder_id: Annotated[int, Field(ge=1)]
    hub_port: Annotated[str | None, Field(max_length=200)] = None
    model: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    # Unset: the model's interval, else PROTOCOL.md's 300 s.
    heartbeat_s: Annotated[int | None, Field(ge=1, le=86_400)] = None


class DeviceSecret(BaseModel):
    """A terminal's new secret, shown this once and never again."""

    device_id: str
    secret: str


class DeviceProvisioned(DeviceSecret):
    """A registered terminal and its secret, shown this once and never again."""

    elder_id: int


class PositionPublic(BaseModel):
    """Where a terminal last said it was: its time, GPS fix or not, found by gps/wifi/cell."""

    at: Timestamp
    lat: float
    lon: float
    fix: bool
    source: str

    @classmethod
    def of(cls, device: Device) -> Self | None:
        """The device row's last position, None when it never reported one."""
        if device.position_at is None or device.position_lat is None:
            return None
        if device.position_lon is None:
            return None
        return cls(
            at=device.position_at,
            lat=device.position_lat,
            lon=device.position_lon,
            fix=bool(device.position_fix),
            source=device.position_source or "none",
        )


class DevicePublic(BaseModel):
    """A terminal's binding and last known state; never its secret."""

    model_config = ConfigDict(from_attributes=True)

    device_id: str
    elder_id: int | None
    status: str
    online: bool | None
    last_seen_at: Timestamp | None
    battery: int | None
    rssi: int | None
    fw: str | None
    model: str | None = None
    heartbeat_s: int = 300
    last_boot: int | None = None
    outage_since: Timestamp | None = None  # last heard, while an outage is open
    battery_low: bool = False
    power_lost: bool = False
    position: PositionPublic | None = None  # watches: the last position reported
    sim_phone: str | None = None  # the SIM's number: its calls to the centre are the elder's

    @classmethod
    def of(cls, device: Device) -> Self:
        """The public view of a device row."""
        view = cls.model_validate(device)
        view.position = PositionPublic.of(device)
        return view


class FleetDevice(BaseModel):
    """A terminal as the fleet view shows it; never its secret."""

    device_id: str
    elder_id: int | None
    elder_name: str | None
    status: str
    online: bool | None
    battery: int | None
    rssi: int | None
    fw: str | None
    last_seen_at: Timestamp | None
    model: str | None = None
    heartbeat_s: int = 300
    last_boot: int | None = None
    outage_since: Timestamp | None = None  # last heard, while an outage is open
    battery_low: bool = False
    power_lost: bool = False


class FleetSummaryPublic(BaseModel):
    """Counts over every terminal in service."""

    total: int
    online: int
    offline: int
    unknown: int
    low_battery: int


class FleetPublic(BaseModel):
    """The fleet: a summary of all terminals and the page of them asked for."""

    summary: FleetSummaryPublic
    devices: list[FleetDevice]

    @classmethod
    def build(cls, summary: FleetSummary, rows: list[FleetRow]) -> Self:
        """Assemble the answer from the query results."""
        return cls(
            summary=FleetSummaryPublic(
                total=summary.total,
                online=summary.online,
                offline=summary.offline,
                unknown=summary.unknown,
                low_battery=summary.low_battery,
            ),
            devices=[
                FleetDevice(
                    device_id=r.device.device_id,
                    elder_id=r.device.elder_id,
                    elder_name=r.elder_name,
                    status=r.device.status,
                    online=r.device.online,
                    battery=r.device.battery,
                    rssi=r.device.rssi,
                    fw=r.device.fw,
                    last_seen_at=r.device.last_seen_at,
                    model=r.device.model,
                    heartbeat_s=r.device.heartbeat_s,
                    last_boot=r.device.last_boot,
                    outage_since=r.device.outage_since,
                    battery_low=r.device.battery_low,
                    power_lost=r.device.power_lost,
                )
                for r in rows
            ],
        )


class CommandCreate(BaseModel):
    """A command for the terminal: `ring` to find it, `ping` for a round trip, `config`.

    4G watches also take `locate`, `call` / `monitor` (`{"number": …}`), `sos_numbers`
    (`{"numbers": [up to 3]}`; none given: the elder's first contacts), `upload`
    (`{"seconds": …}`) and `power_off`; `ring` makes a watch ring (FIND).
    """

    cmd: CommandName
    params: Annotated[
        dict[str, Any],
        Field(
            max_length=MAX_PARAMS,
            examples=[{}, {"heartbeat_s": 600}, {"number": "+8613800138000"}, {"seconds": 60}],
        ),
    ] = {}


class CommandPublic(BaseModel):
    """A command and what became of it; `round_trip_ms` once the terminal answered."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: str
    cmd: CommandName
    params: dict[str, Any]
    status: CommandStatus
    requested_by: str
    created_at: Timestamp
    sent_at: Timestamp | None
    answered_at: Timestamp | None
    detail: str | None
    round_trip_ms: int | None

    @classmethod
    def of(cls, row: DeviceCommand) -> Self:
        """The public view of a command row."""
        return cls.model_validate(row)


class DeviceBind(BaseModel):
    """The elder the terminal now belongs to (bind a free one, or move it)."""

    elder_id: Annotated[int, Field(ge=1)]


class DeviceRetire(BaseModel):
    """Why the terminal leaves service."""

    reason: Annotated[str, Field(max_length=500)] = ""


class DeviceUpdate(BaseModel):
    """What the watch expects of the terminal: its interval, and its model."""

    heartbeat_s: HeartbeatSeconds | None = None
    model: ModelName | None = None
    # The terminal SIM's number: a call from it reaches the hotline as its elder's call.
    sim_phone: Annotated[str | None, Field(max_length=32, examples=["+8614700000001"])] = None


class ModelInterval(BaseModel):
    """The heartbeat interval of every terminal of a model."""

    heartbeat_s: HeartbeatSeconds


class ModelIntervalSet(ModelInterval):
    """A model's interval, and how many terminals in service it applied to."""

    model: str
    devices: int


class DeviceHistoryPublic(BaseModel):
    """One line of a terminal's life."""

    model_config = ConfigDict(from_attributes=True)

    at: Timestamp
    by: str
    action: str
    elder_id: int | None
    detail: str

    @classmethod
    def of(cls, row: DeviceHistory) -> Self:
        """The public view of a history row, its detail in the reader's language."""
        view = cls.model_validate(row)
        view.detail = in_reader_language(row.detail, row.detail_msg)
        return view


class DeviceEventPublic(BaseModel):
    """One event the terminal sent, with its Contact ID equivalent (null where none)."""

    id: int
    boot: int
    seq: int
    type: str
    fields: dict[str, Any]
    source: str
    case_id: str | None
    received_at: Timestamp
    contact_id: ContactIdPublic | None

    @classmethod
    def of(cls, row: DeviceEvent, case_kind: str | None) -> Self:
        """The public view of an event row; a press takes its code from its case's kind."""
        code = contact_id_for_event(row.type, row.fields, case_kind=case_kind)
        return cls(
            id=row.id or 0,
            boot=row.boot,
            seq=row.seq,
            type=row.type,
            fields=row.fields,
            source=row.source,
            case_id=row.case_id,
            received_at=row.received_at,
            contact_id=ContactIdPublic.of(code),
        )
