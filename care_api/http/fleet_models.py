"""API models of the terminal fleet: commands, bind / retire, intervals, history."""

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field

from care_api.domain.alarm_codes import contact_id_for_event
from care_api.http.schemas import ContactIdPublic, Timestamp
from care_api.store.tables import DeviceCommand, DeviceEvent, DeviceHistory
from care_api.usecases.fleet.commands import MAX_PARAMS, CommandName, CommandStatus

HeartbeatSeconds = Annotated[int, Field(ge=1, le=86_400, examples=[300])]
ModelName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


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
        """The public view of a history row."""
        return cls.model_validate(row)


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
