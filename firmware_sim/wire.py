"""PROTOCOL.md from the terminal's side: MQTT topics and JSON, NMEA-style serial lines."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

TOPIC_ROOT = "vnh/v1/dev"
MAX_COUNTER = 2**31 - 1
MAX_LINE_BYTES = 256  # the whole line, CR LF included
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
EVENT_TYPES = frozenset(
    {"press", "cancel", "heartbeat", "battery", "power", "fall", "boot", "cmd_result"}
)
PATTERNS = ("single", "double", "triple", "long")
ACK_STATUSES = frozenset({"accepted", "duplicate", "rejected"})

_KEY_RE = re.compile(r"[A-Za-z0-9_]+\Z")
_RESERVED = frozenset(",*=$%")
_FRAME_RE = re.compile(rb"\$([^$*\r\n]*)\*([0-9A-Fa-f]{2})\r?\n?\Z")
_ENVELOPE = ("boot", "seq", "type")


class WireError(ValueError):
    """A payload or line that does not follow PROTOCOL.md."""


def up_topic(device_id: str) -> str:
    """Topic the terminal publishes its events to."""
    return f"{TOPIC_ROOT}/{device_id}/up"


def down_topic(device_id: str) -> str:
    """Topic the terminal receives acks, case news and commands on."""
    return f"{TOPIC_ROOT}/{device_id}/down"


def status_topic(device_id: str) -> str:
    """Topic of the retained `online` / `offline` presence flag."""
    return f"{TOPIC_ROOT}/{device_id}/status"


def device_id_from_topic(topic: str) -> str | None:
    """The device id named by a `vnh/v1/dev/{id}/...` topic, or None."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != TOPIC_ROOT:
        return None
    return parts[3] if is_device_id(parts[3]) else None


def is_device_id(text: str) -> bool:
    """True when `text` is a valid device id (1-64 chars of A-Z a-z 0-9 _ -)."""
    return DEVICE_ID_RE.match(text) is not None


def _check_counter(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNTER:
        raise WireError(f"{name} must be an integer 0..{MAX_COUNTER}, got {value!r}")


# --- MQTT / JSON ------------------------------------------------------------------------------


def encode_event(boot: int, seq: int, event_type: str, fields: Mapping[str, Any]) -> bytes:
    """One uplink event as compact UTF-8 JSON; fields set to None are left out."""
    _check_counter("boot", boot)
    _check_counter("seq", seq)
    if not event_type:
        raise WireError("event type must not be empty")
    clash = set(fields) & set(_ENVELOPE)
    if clash:
        raise WireError(f"fields may not override {sorted(clash)}")
    body: dict[str, Any] = {"boot": boot, "seq": seq, "type": event_type}
    body.update((k, v) for k, v in fields.items() if v is not None)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Ack:
    """Application ack of one uplink event (`seq`/`boot` are None when unreadable)."""

    seq: int | None
    boot: int | None
    status: str
    case: str | None
    reason: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CaseNews:
    """News of a case, for the terminal's light or voice prompt."""

    case: str
    state: str | None
    say: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Command:
    """A downlink command; `params` holds every field but `cmd` and `id`."""

    cmd: str
    id: str | None
    params: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)


Downlink = Ack | CaseNews | Command


def _optional_int(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"{key} must be an integer, got {value!r}")
    return value


def _optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(f"{key} must be a string, got {value!r}")
    return value


def decode_downlink(payload: bytes | str) -> Downlink:
    """Parse one message received on `.../down` into an Ack, CaseNews or Command."""
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"downlink is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise WireError("downlink is not a JSON object")
    if "cmd" in obj:
        cmd = _optional_str(obj, "cmd")
        if not cmd:
            raise WireError("command without a name")
        ref = obj.get("id")
        params = {k: v for k, v in obj.items() if k not in ("cmd", "id")}
        return Command(cmd=cmd, id=None if ref is None else str(ref), params=params, raw=obj)
    if "ack" in obj or "status" in obj:
        status = _optional_str(obj, "status")
        if status is None:
            raise WireError("ack without a status")
        return Ack(
            seq=_optional_int(obj, "ack"),
            boot=_optional_int(obj, "boot"),
            status=status,
            case=_optional_str(obj, "case"),
            reason=_optional_str(obj, "reason"),
            raw=obj,
        )
    case = _optional_str(obj, "case")
    if case:
        return CaseNews(
            case=case, state=_optional_str(obj, "state"), say=_optional_str(obj, "say"), raw=obj
        )
    raise WireError("downlink is neither an ack, case news nor a command")


# --- serial / NMEA ----------------------------------------------------------------------------


def nmea_checksum(body: str | bytes) -> str:
    """Two upper-case hex digits: the XOR of every byte between `$` and `*`."""
    data = body.encode("ascii") if isinstance(body, str) else body
    return f"{reduce(lambda acc, byte: acc ^ byte, data, 0):02X}"


def percent_encode(value: str) -> str:
    """Escape `, * = $ %`, control and non-ASCII characters as %XX of their UTF-8 bytes."""
    out: list[str] = []
    for char in value:
        if char in _RESERVED or not " " <= char <= "~":
            out.extend(f"%{byte:02X}" for byte in char.encode())
        else:
            out.append(char)
    return "".join(out)


def percent_decode(text: str) -> str:
    """Undo `percent_encode`; raises WireError on a malformed escape."""
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] != "%":
            out += text[i].encode()
            i += 1
            continue
        pair = text[i + 1 : i + 3]
        if len(pair) != 2 or not all(c in string.hexdigits for c in pair):
            raise WireError(f"malformed percent escape in {text!r}")
        out.append(int(pair, 16))
        i += 3
    try:
        return out.decode()
    except UnicodeDecodeError as exc:
        raise WireError(f"percent escapes in {text!r} are not UTF-8") from exc


def format_value(value: object) -> str:
    """A field value as the text a serial line carries (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _frame(body: str) -> bytes:
    line = f"${body}*{nmea_checksum(body)}\r\n".encode("ascii")
    if len(line) > MAX_LINE_BYTES:
        raise WireError(f"line of {len(line)} bytes exceeds {MAX_LINE_BYTES}")
    return line


def _pairs(fields: Mapping[str, object]) -> list[str]:
    out = []
    for key, value in fields.items():
        if value is None:
            continue
        if not _KEY_RE.match(key):
            raise WireError(f"bad field name {key!r}")
        out.append(f"{key}={percent_encode(format_value(value))}")
    return out


def encode_line(
    device_id: str,
    boot: int,
    seq: int,
    event_type: str,
    fields: Mapping[str, object] | None = None,
) -> bytes:
    """One event as the line `$VNH,<device_id>,<boot>,<seq>,<type>[,k=v]...*CS` + CR LF."""
    if not is_device_id(device_id):
        raise WireError(f"bad device id {device_id!r}")
    _check_counter("boot", boot)
    _check_counter("seq", seq)
    if not _KEY_RE.match(event_type):
        raise WireError(f"bad event type {event_type!r}")
    parts = ["VNH", device_id, str(boot), str(seq), event_type, *_pairs(fields or {})]
    return _frame(",".join(parts))


def encode_reply(
    kind: str,
    device_id: str | None,
    boot: int | None,
    seq: int | None,
    text: str,
    fields: Mapping[str, object] | None = None,
) -> bytes:
    """A gateway reply line: kind `ACK` (text = status) or `NAK` (text = reason); None → `-`."""
    if kind not in ("ACK", "NAK"):
        raise WireError(f"reply kind must be ACK or NAK, got {kind!r}")
    ids = ["-" if v is None else str(v) for v in (device_id, boot, seq)]
    return _frame(",".join([kind, *ids, percent_encode(text), *_pairs(fields or {})]))


def _split_frame(line: bytes | str) -> list[str]:
    data = line.encode("latin-1") if isinstance(line, str) else line
    start = data.find(b"$")  # bytes before a `$` are line noise
    if start < 0:
        raise WireError("no `$` in line")
    data = data[start:]
    if len(data) > MAX_LINE_BYTES:
        raise WireError(f"line of {len(data)} bytes exceeds {MAX_LINE_BYTES}")
    match = _FRAME_RE.match(data)
    if match is None:
        raise WireError("line is not `$...*CS`")
    body, checksum = match.group(1), match.group(2).decode().upper()
    if nmea_checksum(body) != checksum:
        raise WireError(f"bad checksum {checksum}, expected {nmea_checksum(body)}")
    try:
        return body.decode("ascii").split(",")
    except UnicodeDecodeError as exc:
        raise WireError("line is not ASCII") from exc


def _parse_counter(name: str, text: str) -> int:
    if not text.isdigit():
        raise WireError(f"{name} is not a number: {text!r}")
    value = int(text)
    _check_counter(name, value)
    return value


def _parse_pairs(parts: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not _KEY_RE.match(key):
            raise WireError(f"bad field {part!r}")
        out[key] = percent_decode(value)
    return out


@dataclass(frozen=True)
class SerialEvent:
    """One `$VNH` line, field values still as text."""

    device_id: str
    boot: int
    seq: int
    type: str
    fields: dict[str, str]


def decode_line(line: bytes | str) -> SerialEvent:
    """Parse one `$VNH,...` event line (checksum checked)."""
    parts = _split_frame(line)
    if parts[0] != "VNH" or len(parts) < 5:
        raise WireError("not a $VNH event line")
    _, device_id, boot, seq, event_type = parts[:5]
    if not is_device_id(device_id):
        raise WireError(f"bad device id {device_id!r}")
    if not _KEY_RE.match(event_type):
        raise WireError(f"bad event type {event_type!r}")
    return SerialEvent(
        device_id=device_id,
        boot=_parse_counter("boot", boot),
        seq=_parse_counter("seq", seq),
        type=event_type,
        fields=_parse_pairs(parts[5:]),
    )


@dataclass(frozen=True)
class SerialReply:
    """A gateway's `$ACK` (status, case) or `$NAK` (reason); `-` identities read as None."""

    kind: str
    device_id: str | None
    boot: int | None
    seq: int | None
    status: str | None = None
    case: str | None = None
    reason: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_ack(self) -> bool:
        """True for `$ACK`, False for `$NAK`."""
        return self.kind == "ACK"


def parse_reply(line: bytes | str) -> SerialReply:
    """Parse a `$ACK` or `$NAK` line sent back by the gateway."""
    parts = _split_frame(line)
    if parts[0] not in ("ACK", "NAK") or len(parts) < 5:
        raise WireError("not a $ACK or $NAK line")
    kind, device_id, boot, seq, text = parts[:5]
    ids = (
        None if device_id == "-" else device_id,
        None if boot == "-" else _parse_counter("boot", boot),
        None if seq == "-" else _parse_counter("seq", seq),
    )
    extra = _parse_pairs(parts[5:])
    text = percent_decode(text)
    if kind == "NAK":
        return SerialReply("NAK", *ids, reason=text, extra=extra)
    case = extra.pop("case", None)
    return SerialReply("ACK", *ids, status=text, case=case, extra=extra)
