"""Serial lines of PROTOCOL.md: "$VNH,…*CS" ⇄ wire events, "$ACK" / "$NAK" replies, splitting."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from device_gateway.protocol.checks import is_counter, is_device_id
from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.model import (
    EVENT_TYPES,
    Ack,
    Nak,
    WireEvent,
    event_from_fields,
    event_to_fields,
)

MAX_LINE_BYTES = 256  # including the CR LF
EVENT_SENTENCE = "VNH"
ACK_SENTENCE = "ACK"
NAK_SENTENCE = "NAK"
UNKNOWN = "-"  # stands for a device id, boot or seq a $NAK cannot name

_MAX_CONTENT_BYTES = MAX_LINE_BYTES - 2
_FRAME_OVERHEAD_BYTES = 4  # "$" before the body, "*CS" after it
_HEADER_KEYS = frozenset({"boot", "seq", "type"})
_INT_RE = re.compile(r"[-+]?[0-9]+")
_FLOAT_RE = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NEEDS_QUOTE_RE = re.compile(r"[^\x20-\x7e]|[,*=$%]")
_SAFE_BYTES = frozenset(range(0x20, 0x7F)) - frozenset(b",*=$%")
_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_DOLLAR = 0x24


def _to_int(text: str) -> int | str:
    # Stricter than int(), which also takes "1_000", " 7" and non-ASCII digits.
    return int(text) if _INT_RE.fullmatch(text) else text


def _to_float(text: str) -> float | str:
    return float(text) if _FLOAT_RE.fullmatch(text) else text


def _to_bool(text: str) -> bool | str:
    return _BOOLS.get(text.lower(), text)


# A value that does not convert stays text, so the model reports the field's rule.
_CONVERTERS: dict[str, Callable[[str], object]] = {
    "ref_seq": _to_int,
    "battery": _to_int,
    "level": _to_int,
    "rssi": _to_int,
    "confidence": _to_float,
    "ok": _to_bool,
}
_KNOWN_KEYS = frozenset(
    {"ts"}.union(*(cls.BODY_FIELDS for cls in EVENT_TYPES.values())) - _HEADER_KEYS
)


def checksum(body: bytes) -> str:
    """Two upper-case hex digits: the XOR of every byte of `body` (the bytes between $ and *)."""
    # Folding one big int in halves keeps the XOR order-free and beats a byte loop on long lines.
    width = len(body)
    folded = int.from_bytes(body, "little")
    while width > 1:
        half = (width + 1) // 2
        shift = 8 * half
        folded = (folded & ((1 << shift) - 1)) ^ (folded >> shift)
        width = half
    return f"{folded:02X}"


def _quote(text: str) -> str:
    if _NEEDS_QUOTE_RE.search(text) is None:
        return text
    return "".join(
        chr(byte) if byte in _SAFE_BYTES else f"%{byte:02X}" for byte in text.encode("utf-8")
    )


def _quote_within(text: str, budget: int) -> str:
    """`text` percent-encoded, cut at a character boundary to at most `budget` bytes."""
    quoted = _quote(text)
    if len(quoted) <= budget:
        return quoted
    pieces: list[str] = []
    used = 0
    for char in text:
        piece = _quote(char)
        used += len(piece)
        if used > budget:
            break
        pieces.append(piece)
    return "".join(pieces)


def _unquote(text: str) -> str | None:
    """`text` percent-decoded as UTF-8; None when the encoding is broken."""
    if "%" not in text:
        return text
    if _BAD_PERCENT_RE.search(text):
        return None
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    return str(value)


def _close_frame(body: str) -> bytes:
    raw = body.encode("ascii")
    return b"$" + raw + b"*" + checksum(raw).encode("ascii") + b"\r\n"


def _open_frame(line: bytes) -> list[str]:
    """The comma-separated fields between `$` and `*` of a line whose checksum holds."""
    line = line.rstrip(b"\r\n")
    if len(line) > _MAX_CONTENT_BYTES:
        raise FrameError("line too long")
    if not line.startswith(b"$"):
        raise FrameError("line must start with $")
    star = line.rfind(b"*")
    if star < 0 or len(line) - star != 3:
        raise FrameError("missing checksum")
    body = line[1:star]
    # A corrupted line names nothing reliably, so this error carries no event key.
    if line[star + 1 :].upper() != checksum(body).encode("ascii"):
        raise FrameError("bad checksum")
    try:
        return body.decode("ascii").split(",")
    except UnicodeDecodeError:
        raise FrameError("line must be ASCII") from None


def _readable(parts: list[str]) -> dict[str, Any]:
    """Whatever of device_id, boot and seq the fields after the sentence name validly."""
    device_id = parts[1] if len(parts) > 1 else None
    boot = _to_int(parts[2]) if len(parts) > 2 else None
    seq = _to_int(parts[3]) if len(parts) > 3 else None
    return {
        "device_id": device_id if is_device_id(device_id) else None,
        "boot": boot if is_counter(boot) else None,
        "seq": seq if is_counter(seq) else None,
    }


def _key_values(parts: list[str], keys: frozenset[str]) -> dict[str, str]:
    """The percent-decoded `key=value` items of `parts` whose key is in `keys`."""
    values: dict[str, str] = {}
    for item in parts:
        key, sep, raw = item.partition("=")
        if not sep:
            raise FrameError(f"field {key[:32]!r} must be key=value")
        if key in keys:
            value = _unquote(raw)
            if value is None:
                raise FrameError(f"bad percent-encoding in {key}")
            values[key] = value
    return values


def decode_line(line: bytes) -> WireEvent:
    """Decode one `$VNH,…*CS` line, with or without its line end.

    Raises:
        FrameError: the line breaks PROTOCOL.md; it carries the readable event key.
    """
    parts = _open_frame(line)
    if parts[0] != EVENT_SENTENCE:
        raise FrameError(f"unknown sentence {parts[0][:8]!r}")
    if len(parts) < 5:
        raise FrameError("missing fields", **_readable(parts))
    try:
        values = _key_values(parts[5:], _KNOWN_KEYS)
    except FrameError as exc:
        raise FrameError(exc.reason, **_readable(parts)) from None
    fields: dict[str, Any] = {
        key: _CONVERTERS[key](value) if key in _CONVERTERS else value
        for key, value in values.items()
    }
    fields.update(boot=_to_int(parts[2]), seq=_to_int(parts[3]), type=parts[4])
    return event_from_fields(parts[1], fields)


def encode_event(event: WireEvent) -> bytes:
    """Encode `event` as one `$VNH,…*CS` line ending in CR LF.

    Raises:
        FrameError: the line would exceed MAX_LINE_BYTES.
    """
    parts = [EVENT_SENTENCE, event.device_id, str(event.boot), str(event.seq), event.TYPE]
    parts.extend(
        f"{key}={_format(value)}"
        for key, value in event_to_fields(event).items()
        if key not in _HEADER_KEYS
    )
    line = _close_frame(",".join(parts))
    if len(line) > MAX_LINE_BYTES:
        raise FrameError("line too long", device_id=event.device_id, boot=event.boot, seq=event.seq)
    return line


def _close_with_reason(head: str, separator: str, reason: str | None) -> bytes:
    """Close `head` + `separator` + reason, cutting the reason so the line stays in bounds."""
    body = head
    if reason is not None:
        budget = _MAX_CONTENT_BYTES - _FRAME_OVERHEAD_BYTES - len(head) - len(separator)
        quoted = _quote_within(reason, budget)
        if reason and not quoted:
            raise ValueError(f"no room for a reason in {MAX_LINE_BYTES} bytes: {head[:40]!r}…")
        body = f"{head}{separator}{quoted}"
    if len(body) + _FRAME_OVERHEAD_BYTES > _MAX_CONTENT_BYTES:
        raise ValueError(f"reply does not fit in {MAX_LINE_BYTES} bytes: {body[:40]!r}…")
    return _close_frame(body)


def encode_ack(ack: Ack) -> bytes:
    """`$ACK,<device_id>,<boot>,<seq>,<status>[,case=<id>][,reason=<r>]*CS` and CR LF.

    A reason too long for the line is cut short.

    Raises:
        ValueError: boot or seq is unknown (answer with `$NAK`), or the case id is too long.
    """
    if ack.boot is None or ack.seq is None:
        raise ValueError("a serial ack names boot and seq; answer $NAK instead")
    head = f"{ACK_SENTENCE},{ack.device_id},{ack.boot},{ack.seq},{ack.status.value}"
    if ack.case is not None:
        head = f"{head},case={_quote(ack.case)}"
    return _close_with_reason(head, ",reason=", ack.reason)


def encode_nak(nak: Nak) -> bytes:
    """`$NAK,<device_id or ->,<boot or ->,<seq or ->,<reason>*CS` + CR LF; cuts long reasons."""
    boot = UNKNOWN if nak.boot is None else str(nak.boot)
    seq = UNKNOWN if nak.seq is None else str(nak.seq)
    head = f"{NAK_SENTENCE},{nak.device_id or UNKNOWN},{boot},{seq}"
    return _close_with_reason(head, ",", nak.reason)


def decode_reply(line: bytes) -> Ack | Nak:
    """Decode a `$ACK` or `$NAK` line (for simulators, hubs and tests).

    Raises:
        FrameError: the line is neither, or breaks PROTOCOL.md.
    """
    parts = _open_frame(line)
    if parts[0] == ACK_SENTENCE and len(parts) >= 5:
        extra = _key_values(parts[5:], frozenset({"case", "reason"}))
        # Any: unchecked wire values; the model turns them into its types or refuses them.
        boot: Any = _to_int(parts[2])
        seq: Any = _to_int(parts[3])
        status: Any = parts[4]
        return Ack(
            device_id=parts[1],
            boot=boot,
            seq=seq,
            status=status,
            case=extra.get("case"),
            reason=extra.get("reason"),
        )
    if parts[0] == NAK_SENTENCE and len(parts) == 5:
        reason = _unquote(parts[4])
        if reason is None:
            raise FrameError("bad percent-encoding in reason")
        nak_boot: Any = None if parts[2] == UNKNOWN else _to_int(parts[2])
        nak_seq: Any = None if parts[3] == UNKNOWN else _to_int(parts[3])
        return Nak(
            device_id=None if parts[1] == UNKNOWN else parts[1],
            boot=nak_boot,
            seq=nak_seq,
            reason=reason,
        )
    raise FrameError(f"not an $ACK or $NAK line: {parts[0][:8]!r}")


_SEEK, _LINE, _DISCARD = range(3)


class LineSplitter:
    """Cuts a serial byte stream into lines that start at `$`, without their line end.

    Pure and bounded: bytes before a `$` are skipped, lines end at LF (CR LF or bare LF),
    and a line over MAX_LINE_BYTES yields FrameError("line too long") once and is dropped
    up to its end or the next `$`. A `$` inside a line (values never hold a raw `$`) means
    the line was cut short: it yields FrameError("unterminated line") and starts a new line.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._state = _SEEK

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        """Take the next bytes read from the port; return the lines and errors they complete."""
        out: list[bytes | FrameError] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._state == _SEEK:
                start = data.find(b"$", pos)
                if start < 0:
                    break
                self._start_line()
                pos = start + 1
                continue
            stop = _next_stop(data, pos)
            if self._state == _DISCARD:
                if stop < 0:
                    break
                self._state = _SEEK
                if data[stop] == _DOLLAR:
                    self._start_line()
                pos = stop + 1
                continue
            piece_end = end if stop < 0 else stop
            # One byte of slack: the CR of a CR LF may arrive before its LF.
            if len(self._buffer) + piece_end - pos > _MAX_CONTENT_BYTES + 1:
                out.append(FrameError("line too long"))
                self._state = _DISCARD
                continue
            self._buffer += data[pos:piece_end]
            if stop < 0:
                break
            pos = stop + 1
            if data[stop] == _DOLLAR:
                out.append(FrameError("unterminated line"))
                self._start_line()
                continue
            self._state = _SEEK
            line = bytes(self._buffer)
            if line.endswith(b"\r"):
                line = line[:-1]
            out.append(FrameError("line too long") if len(line) > _MAX_CONTENT_BYTES else line)
        return out

    def _start_line(self) -> None:
        self._buffer = bytearray(b"$")
        self._state = _LINE


def _next_stop(data: bytes, pos: int) -> int:
    """Index of the first LF or `$` at or after `pos`, or -1."""
    newline = data.find(b"\n", pos)
    dollar = data.find(b"$", pos, None if newline < 0 else newline)
    return dollar if dollar >= 0 else newline
