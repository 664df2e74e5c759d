"""Wire events and replies of PROTOCOL.md v1: frozen dataclasses that validate themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, NoReturn

from device_gateway.protocol.checks import (
    BUTTON_MAX_CHARS,
    BUTTON_RULE,
    COUNTER_RULE,
    DEVICE_ID_RULE,
    NAME_RULE,
    PERCENT_MAX,
    PERCENT_RULE,
    RSSI_MAX_DBM,
    RSSI_MIN_DBM,
    TEXT_RULE,
    check_key,
    choices,
    enum_member,
    is_counter,
    is_device_id,
    is_int_in,
    is_text,
    is_token,
    reason_for,
)
from device_gateway.protocol.errors import FrameError

DEFAULT_BUTTON = "main"


class Pattern(StrEnum):
    """How the button was pressed."""

    SINGLE = "single"
    DOUBLE = "double"
    TRIPLE = "triple"
    LONG = "long"


class PowerState(StrEnum):
    """Mains power of the terminal."""

    LOST = "lost"
    RESTORED = "restored"


class AckStatus(StrEnum):
    """The answer to one uplink event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class CommandName(StrEnum):
    """Downlink commands a terminal understands."""

    RING = "ring"
    PING = "ping"
    CONFIG = "config"


@dataclass(frozen=True, slots=True, kw_only=True)
class WireEvent:
    """One uplink event, named by `(device_id, boot, seq)`; `ts` is the device's own clock.

    Subclasses declare their `type` and body fields; construction raises FrameError
    (carrying the event key) when a field breaks PROTOCOL.md.
    """

    TYPE: ClassVar[str] = ""
    BODY_FIELDS: ClassVar[tuple[str, ...]] = ()
    # Body fields left out of an encoded frame when they hold this value.
    OMITTED_DEFAULTS: ClassVar[Mapping[str, object]] = {}

    device_id: str
    boot: int
    seq: int
    # Kept as text: the backend's receive time is authoritative, so ts is not parsed here.
    ts: str | None = None

    def __post_init__(self) -> None:
        if not self.TYPE:
            raise TypeError("WireEvent is abstract: build one of its subclasses")
        check_key(self.device_id, self.boot, self.seq)
        if self.ts is not None and not is_text(self.ts):
            self._fail(reason_for("ts", self.ts, TEXT_RULE))
        self._check_body()

    def _check_body(self) -> None:
        """Validate and normalise the fields of this type."""

    def _fail(self, reason: str) -> NoReturn:
        raise FrameError(reason, device_id=self.device_id, boot=self.boot, seq=self.seq)

    def _set(self, name: str, value: object) -> None:
        # Normalising (str → enum, int → float) inside a frozen dataclass.
        object.__setattr__(self, name, value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Press(WireEvent):
    """The elder pressed a button."""

    TYPE: ClassVar[str] = "press"
    BODY_FIELDS: ClassVar[tuple[str, ...]] = ("pattern", "button")
    OMITTED_DEFAULTS: ClassVar[Mapping[str, object]] = {"button": DEFAULT_BUTTON}

    pattern: Pattern
    button: str = DEFAULT_BUTTON

    def _check_body(self) -> None:
        pattern = enum_member(Pattern, self.pattern)
        if pattern is None:
            self._fail(reason_for("pattern", self.pattern, choices(Pattern)))
        self._set("pattern", pattern)
        button: object = self.button
        if button is None:
            self._set("button", DEFAULT_BUTTON)
        elif not is_token(button, BUTTON_MAX_CHARS):
            self._fail(f"button must be {BUTTON_RULE}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel(WireEvent):
    """The elder cancelled press `ref_seq` of this boot."""

    TYPE: ClassVar[str] = "cancel"
    BODY_FIELDS: ClassVar[tuple[str, ...]] = ("ref_seq",)

    ref_seq: int

    def _check_body(self) -> None:
        if not is_counter(self.ref_seq):
            self._fail(reason_for("ref_seq", self.ref_seq, COUNTER_RULE))


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(WireEvent):
    """Periodic check-in."""

    TYPE: ClassVar[str] = "heartbeat"
    BODY_FIELDS: ClassVar[tuple[str, ...]] = ("battery", "rssi", "fw")

    battery: int | None = None
    rssi: int | None = None
    fw: str | None = None

    def _check_body(self) -> None:
        if self.battery is not None and not is_int_in(self.battery, 0, PERCENT_MAX):
            self._fail(f"battery must be {PERCENT_RULE}")
        if self.rssi is not None and not is_int_in(self.rssi, RSSI_MIN_DBM, RSSI_MAX_DBM):
            self._fail(f"rssi must be an integer {RSSI_MIN_DBM}..{RSSI_MAX_DBM}")
        if self.fw is not None and not is_text(self.fw):
            self._fail(f"fw must be {TEXT_RULE}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Battery(WireEvent):
    """The battery level crossed the low threshold."""

    TYPE: ClassVar[str] = "battery"
    BODY_FIELDS: ClassVar[tuple[str, ...]] = ("level",)

    level: int

    def _check_body(self) -> None:
        if not is_int_in(self.level, 0, PERCENT_MAX):
            self._fail(reason_for("level", self.level, PERCENT_RULE))


@dataclass(frozen=True, slots=True, kw_only=True)
class Power(WireEvent):
    """Mains power of the terminal was lost or restored."""

    TYPE: ClassVar[str] = "power"
    BODY_FIELDS: ClassVar[tuple[str, ...]] = ("state",)

    state: PowerState

    def _check_body(self) -> None:
        state = enum_member(PowerState, self.state)
        if state is None:
            self._fail(reason_for("state", self.state, choices(PowerState)))
        self._set("state", state)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fall(WireEvent):
    """A fall sensor fired."""

    TYPE: ClassVar[str] = "fall"
    BODY_FIELDS: ClassVar[tuple[str, ...]] = ("confidence",)

    confidence: float | None = None

    def _check_body(self) -> None:
        value: object = self.confidence
        if value is None:
            return
        # NaN fails the range test, which is what we want.
        if not (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1):
            self._fail("confidence must be a number 0..1")
        self._set("confidence", float(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class Boot(WireEvent):
    """The terminal started."""

    TYPE: ClassVar[str] = "boot"
    BODY_FIELDS: ClassVar[tuple[str, ...]] = ("fw",)

    fw: str | None = None

    def _check_body(self) -> None:
        if self.fw is not None and not is_text(self.fw):
            self._fail(f"fw must be {TEXT_RULE}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CmdResult(WireEvent):
    """The terminal's answer to downlink command `ref`."""

    TYPE: ClassVar[str] = "cmd_result"
    BODY_FIELDS: ClassVar[tuple[str, ...]] = ("ref", "ok", "detail")

    ref: str
    ok: bool
    detail: str | None = None

    def _check_body(self) -> None:
        if not is_text(self.ref, allow_empty=False):
            self._fail(reason_for("ref", self.ref, NAME_RULE))
        if not isinstance(self.ok, bool):
            self._fail(reason_for("ok", self.ok, "a boolean"))
        if self.detail is not None and not is_text(self.detail):
            self._fail(f"detail must be {TEXT_RULE}")


EVENT_TYPES: Mapping[str, type[WireEvent]] = {
    cls.TYPE: cls for cls in (Press, Cancel, Heartbeat, Battery, Power, Fall, Boot, CmdResult)
}


def event_from_fields(device_id: str, fields: Mapping[str, Any]) -> WireEvent:
    """Build the event of `fields` (one decoded frame) sent by `device_id`.

    Fields other than those PROTOCOL.md defines for the type are ignored; a missing optional
    field and an explicit null mean the same.

    Raises:
        FrameError: a field is missing or invalid, or the type is unknown.
    """
    kind = fields.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    # Any: these are unchecked wire values until the model's own checks have run.
    boot: Any = fields.get("boot")
    seq: Any = fields.get("seq")
    if cls is None:
        check_key(device_id, boot, seq)
        if kind is None:
            reason = "type is required"
        elif isinstance(kind, str):
            # Cut before repr: the reason goes back to the terminal and must stay short.
            reason = f"unknown type {kind[:20]!r}"
        else:
            reason = "type must be a string"
        raise FrameError(reason, device_id=device_id, boot=boot, seq=seq)
    body = {name: fields.get(name) for name in cls.BODY_FIELDS}
    return cls(device_id=device_id, boot=boot, seq=seq, ts=fields.get("ts"), **body)


def event_to_fields(event: WireEvent) -> dict[str, Any]:
    """The fields of `event` in wire order (`boot`, `seq`, `type`, body, `ts`), nulls left out."""
    fields: dict[str, Any] = {"boot": event.boot, "seq": event.seq, "type": event.TYPE}
    defaults = event.OMITTED_DEFAULTS
    for name in event.BODY_FIELDS:
        value = getattr(event, name)
        if value is not None and value != defaults.get(name):
            fields[name] = value
    if event.ts is not None:
        fields["ts"] = event.ts
    return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """The application ack of one uplink event (boot / seq None when they could not be read)."""

    device_id: str
    boot: int | None
    seq: int | None
    status: AckStatus
    case: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if not is_device_id(self.device_id):
            raise FrameError(reason_for("device_id", self.device_id, DEVICE_ID_RULE))
        status = enum_member(AckStatus, self.status)
        if status is None:
            raise FrameError(reason_for("status", self.status, choices(AckStatus)))
        object.__setattr__(self, "status", status)
        for name, value in (("boot", self.boot), ("seq", self.seq)):
            if value is None and status is not AckStatus.REJECTED:
                raise FrameError(f"{name} is required unless the status is rejected")
            if value is not None and not is_counter(value):
                raise FrameError(f"{name} must be {COUNTER_RULE}")
        if self.case is not None and not is_text(self.case, allow_empty=False):
            raise FrameError(f"case must be {NAME_RULE}")
        if status is AckStatus.REJECTED and self.reason is None:
            raise FrameError("reason is required when the status is rejected")
        if self.reason is not None and not is_text(self.reason, allow_empty=False):
            raise FrameError(f"reason must be {NAME_RULE}")

    @classmethod
    def rejecting(cls, device_id: str, error: FrameError) -> Ack:
        """The `rejected` ack for a frame from `device_id` that failed with `error`."""
        return cls(
            device_id=device_id,
            boot=error.boot,
            seq=error.seq,
            status=AckStatus.REJECTED,
            reason=error.reason,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Nak:
    """The serial answer to a line that could not be taken (bad checksum, bad frame)."""

    device_id: str | None = None
    boot: int | None = None
    seq: int | None = None
    reason: str

    def __post_init__(self) -> None:
        if self.device_id is not None and not is_device_id(self.device_id):
            raise FrameError(f"device_id must be {DEVICE_ID_RULE} or absent")
        for name, value in (("boot", self.boot), ("seq", self.seq)):
            if value is not None and not is_counter(value):
                raise FrameError(f"{name} must be {COUNTER_RULE} or absent")
        if not is_text(self.reason, allow_empty=False):
            raise FrameError(reason_for("reason", self.reason, NAME_RULE))

    @classmethod
    def from_error(cls, error: FrameError) -> Nak:
        """The `$NAK` for a line that failed with `error`."""
        return cls(device_id=error.device_id, boot=error.boot, seq=error.seq, reason=error.reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseNews:
    """News of a case for the terminal's light or voice prompt."""

    case: str
    state: str
    say: str | None = None

    def __post_init__(self) -> None:
        for name, value in (("case", self.case), ("state", self.state)):
            if not is_text(value, allow_empty=False):
                raise FrameError(reason_for(name, value, NAME_RULE))
        if self.say is not None and not is_text(self.say):
            raise FrameError(f"say must be {TEXT_RULE}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A downlink command; `params` are sent as further top-level keys of the object."""

    RESERVED_KEYS: ClassVar[frozenset[str]] = frozenset({"cmd", "id"})

    cmd: CommandName
    id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cmd = enum_member(CommandName, self.cmd)
        if cmd is None:
            raise FrameError(reason_for("cmd", self.cmd, choices(CommandName)))
        object.__setattr__(self, "cmd", cmd)
        if not is_text(self.id, allow_empty=False):
            raise FrameError(reason_for("id", self.id, NAME_RULE))
        if not isinstance(self.params, Mapping) or not all(
            isinstance(key, str) and key not in self.RESERVED_KEYS for key in self.params
        ):
            raise FrameError("params must map strings other than 'cmd' and 'id' to values")
