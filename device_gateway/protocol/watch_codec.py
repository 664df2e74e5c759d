"""The 4G elder-watch protocol ("3G" / watch protocol): frames, positions, alarms, replies.

A frame is `[MM*ID*LLLL*CONTENT]` or, from makers that number frames,
`[MM*ID*IIII*LLLL*CONTENT]`: `MM` the maker code, `ID` the watch id, `LLLL` the byte length
of CONTENT as four hex digits. CONTENT is a keyword and comma-separated fields, or binary
(voice `TK`, images), which is why a frame is cut by its length, never by its `]`.
Decoding never raises anything but `WatchFrameError`, whatever the bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from care_api.domain.phones import DEFAULT_REGION
from care_api.domain.watch_commands import (
    Call,
    Find,
    Locate,
    Monitor,
    PowerOff,
    SosNumbers,
    Upload,
    WatchCommand,
    dialable,
)

OPEN, CLOSE, STAR = ord("["), ord("]"), ord("*")
MAX_CONTENT_BYTES = 0xFFFF  # what four hex digits can say
MAX_HEADER_BYTES = 64  # maker code, a 15-digit IMEI, index and length, with room to spare
WATCH_ID_RULE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAKER_RULE = re.compile(r"^[A-Za-z0-9]{1,8}$")
HEX4 = re.compile(r"^[0-9A-Fa-f]{4}$")

POSITION_KEYWORDS = frozenset({"UD", "UD2", "UD_LTE", "UD_WCDMA", "WT"})
ALARM_KEYWORD = "AL"
LINK_KEYWORD = "LK"
HEALTH_KEYWORDS = frozenset({"heart", "bphrt", "btemp2", "PULSE", "BLOOD"})
# Keywords the watch answers commands with (the command's own keyword).
COMMAND_KEYWORDS = frozenset({"CR", "SOS", "CALL", "MONITOR", "UPLOAD", "FIND", "POWEROFF"})
BINARY_KEYWORDS = frozenset({"TK", "img"})
# The API's command names each answer keyword settles (a watch answers with the keyword).
ANSWERED_COMMANDS: dict[str, frozenset[str]] = {
    "CR": frozenset({"locate"}),
    "FIND": frozenset({"ring"}),
    "POWEROFF": frozenset({"power_off"}),
    "SOS": frozenset({"sos_numbers"}),
    "CALL": frozenset({"call"}),
    "MONITOR": frozenset({"monitor"}),
    "UPLOAD": frozenset({"upload"}),
}
# Plausible bounds of a reading; a value outside is a sensor error, not an elder.
HEART_RATE = (20, 250)
SYSTOLIC = (50, 260)
DIASTOLIC = (30, 200)
TEMPERATURE_C = (30.0, 45.0)


class WatchFrameError(ValueError):
    """Bytes that are no frame of the watch protocol."""


class WatchAlarm(StrEnum):
    """What the status word of a position or alarm says."""

    SOS = "sos"
    LOW_BATTERY = "low_battery"
    LEFT_FENCE = "left_fence"
    ENTERED_FENCE = "entered_fence"
    TAKEN_OFF = "taken_off"
    FALL = "fall"


# Status word bits (bit 0 the lowest) of the makers' documents.
_ALARM_BITS: dict[int, WatchAlarm] = {
    16: WatchAlarm.SOS,
    17: WatchAlarm.LOW_BATTERY,
    18: WatchAlarm.LEFT_FENCE,
    19: WatchAlarm.ENTERED_FENCE,
    20: WatchAlarm.TAKEN_OFF,
    21: WatchAlarm.FALL,
    22: WatchAlarm.FALL,
}
# Some makers put low battery and fences in the lowest bits instead.
_LOW_ALARM_BITS: dict[int, WatchAlarm] = {
    0: WatchAlarm.LOW_BATTERY,
    1: WatchAlarm.LEFT_FENCE,
    2: WatchAlarm.ENTERED_FENCE,
}


@dataclass(frozen=True, slots=True)
class WatchFrame:
    """One frame as it came: who sent it, its keyword and its fields (or binary payload)."""

    maker: str
    watch_id: str
    index: int | None
    keyword: str
    fields: tuple[str, ...] = ()
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Position:
    """Where the watch was, as a `UD`/`WT`/`AL` frame says it."""

    at: datetime | None
    gps_fix: bool
    lat: float | None
    lon: float | None
    speed_kmh: float | None
    battery: int | None
    status: int
    cells: int
    wifi: int

    @property
    def source(self) -> str:
        """How it was found: GPS with a fix, else the cell towers or Wi-Fi it lists."""
        if self.gps_fix:
            return "gps"
        if self.wifi:
            return "wifi"
        return "cell" if self.cells else "none"

    @property
    def alarms(self) -> frozenset[WatchAlarm]:
        """The alarms the status word raises."""
        return alarm_bits(self.status)


@dataclass
class FrameReader:
    """Cuts frames out of a TCP byte stream; bytes between frames are skipped."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[WatchFrame | WatchFrameError]:
        """Frames complete with `data`, in order; a bad frame is reported and skipped."""
        self.buffer.extend(data)
        out: list[WatchFrame | WatchFrameError] = []
        while True:
            start = self.buffer.find(OPEN)
            if start < 0:
                self.buffer.clear()
                return out
            del self.buffer[:start]
            try:
                cut = _cut(bytes(self.buffer))
            except WatchFrameError as exc:
                out.append(exc)
                del self.buffer[:1]  # resynchronise at the next "["
                continue
            if cut is None:
                return out
            frame, used = cut
            out.append(frame)
            del self.buffer[:used]


def _cut(data: bytes) -> tuple[WatchFrame, int] | None:
    """The first frame of `data` (which starts with "[") and its length; None if incomplete."""
    header_end = -1
    stars: list[int] = []
    for i in range(1, min(len(data), MAX_HEADER_BYTES)):
        if data[i] == STAR:
            stars.append(i)
            # Three stars close a header without index, four one with it; which it is,
            # the length field decides below.
            if len(stars) == 4:
                header_end = i
                break
    if len(stars) < 3:
        if len(data) >= MAX_HEADER_BYTES:
            raise WatchFrameError("no frame header within 64 bytes")
        return None
    try:
        head = data[1 : stars[2]].decode("ascii")
    except UnicodeDecodeError:
        raise WatchFrameError("frame header is not ASCII") from None
    maker, watch_id, third = head.split("*")
    if not MAKER_RULE.match(maker) or not WATCH_ID_RULE.match(watch_id) or not HEX4.match(third):
        raise WatchFrameError(f"bad frame header {head[:40]!r}")
    # With an index the fourth field is a length too. It is tried first: a frame without
    # index whose content began "HHHH*" would have no valid keyword, while an indexed
    # frame whose index happens to equal the length of "LLLL*CONTENT" (index 7 on
    # "0002*LK") also reads as a complete frame without index, with a bogus keyword.
    if header_end > 0:
        fourth = data[stars[2] + 1 : header_end].decode("ascii", errors="replace")
        if HEX4.match(fourth):
            indexed = _complete(data, header_end + 1, int(fourth, 16))
            if indexed is not None and indexed is not False:
                content = data[header_end + 1 : indexed]
                return _frame(maker, watch_id, int(third, 16), content), indexed + 1
            if indexed is None:
                return None
    # Without an index: content starts after the third star and is `third` bytes long.
    plain = _complete(data, stars[2] + 1, int(third, 16))
    if plain is not None and plain is not False:
        return _frame(maker, watch_id, None, data[stars[2] + 1 : plain]), plain + 1
    if plain is None:
        return None
    raise WatchFrameError(f"frame of {watch_id} does not end where its length says")


def _complete(data: bytes, start: int, length: int) -> int | bool | None:
    """Where the closing "]" is; None if not yet received; False if the length is wrong."""
    end = start + length
    if len(data) <= end:
        return None
    return end if data[end] == CLOSE else False


def _frame(maker: str, watch_id: str, index: int | None, content: bytes) -> WatchFrame:
    keyword_bytes, comma, rest = content.partition(b",")
    try:
        keyword = keyword_bytes.decode("ascii")
    except UnicodeDecodeError:
        raise WatchFrameError("frame keyword is not ASCII") from None
    if not keyword or not keyword.replace("_", "").isalnum():
        raise WatchFrameError(f"bad keyword {keyword[:16]!r}")
    if keyword in BINARY_KEYWORDS:
        return WatchFrame(maker, watch_id, index, keyword, (), rest)
    text = rest.decode("utf-8", errors="replace")
    fields = tuple(text.split(",")) if comma else ()
    return WatchFrame(maker, watch_id, index, keyword, fields)


def encode_frame(
    maker: str, watch_id: str, content: bytes | str, index: int | None = None
) -> bytes:
    """One frame around `content`, with the index field when `index` is given."""
    body = content.encode("utf-8") if isinstance(content, str) else content
    if len(body) > MAX_CONTENT_BYTES:
        raise WatchFrameError("content too long for four hex digits")
    idx = f"{index:04X}*" if index is not None else ""
    return f"[{maker}*{watch_id}*{idx}{len(body):04X}*".encode() + body + b"]"


def reply_to(frame: WatchFrame) -> bytes | None:
    """The server's answer to a frame: `LK`, `AL` and health frames get their keyword."""
    if frame.keyword in (LINK_KEYWORD, ALARM_KEYWORD) or frame.keyword in HEALTH_KEYWORDS:
        return encode_frame(frame.maker, frame.watch_id, frame.keyword, frame.index)
    return None


@dataclass(frozen=True, slots=True)
class HealthValues:
    """What a health frame measured; None where it says nothing."""

    heart_rate: int | None = None
    systolic: int | None = None
    diastolic: int | None = None
    temperature_c: float | None = None


def decode_health(frame: WatchFrame) -> HealthValues:
    """The reading of a `heart`, `bphrt`, `btemp2`, `PULSE` or `BLOOD` frame.

    `heart,HR`; `bphrt,SYS,DIA,HR,…`; `btemp2,MODE,TEMP` (or `btemp2,TEMP`); `PULSE,HR`;
    `BLOOD,SYS,DIA`.

    Raises:
        WatchFrameError: not a health frame, or no plausible value in it.
    """
    f = frame.fields
    values: HealthValues
    match frame.keyword:
        case "heart" | "PULSE":
            values = HealthValues(heart_rate=_bounded(f, 0, HEART_RATE))
        case "bphrt":
            values = HealthValues(
                systolic=_bounded(f, 0, SYSTOLIC),
                diastolic=_bounded(f, 1, DIASTOLIC),
                heart_rate=_bounded(f, 2, HEART_RATE),
            )
        case "BLOOD":
            values = HealthValues(
                systolic=_bounded(f, 0, SYSTOLIC), diastolic=_bounded(f, 1, DIASTOLIC)
            )
        case "btemp2":
            temp = _float(f[-1]) if f else None
            low, high = TEMPERATURE_C
            ok = temp is not None and low <= temp <= high
            values = HealthValues(temperature_c=round(temp, 2) if ok and temp is not None else None)
        case _:
            raise WatchFrameError(f"{frame.keyword[:16]!r} is no health frame")
    if values == HealthValues():
        raise WatchFrameError(f"{frame.keyword} carries no plausible reading")
    return values


def _bounded(fields: tuple[str, ...], at: int, bounds: tuple[int, int]) -> int | None:
    value = _int(fields[at].strip()) if len(fields) > at else None
    return value if value is not None and bounds[0] <= value <= bounds[1] else None


def command_content(command: WatchCommand, region: str = DEFAULT_REGION) -> str:
    """The content of the frame that sends `command` to a watch."""
    match command:
        case Locate():
            return "CR"
        case Find():
            return "FIND"
        case PowerOff():
            return "POWEROFF"
        case SosNumbers():
            slots = [dialable(n, region) for n in command.numbers]
            return ",".join(["SOS", *slots, *[""] * (3 - len(slots))])
        case Call():
            return f"CALL,{dialable(command.number, region)}"
        case Monitor():
            return f"MONITOR,{dialable(command.number, region)}"
        case Upload():
            return f"UPLOAD,{command.seconds}"
    raise WatchFrameError(f"no watch keyword for {command!r}")


def alarm_bits(status: int) -> frozenset[WatchAlarm]:
    """The alarms of a status word (both bit layouts the makers use)."""
    found = {alarm for bit, alarm in _ALARM_BITS.items() if status >> bit & 1}
    found |= {alarm for bit, alarm in _LOW_ALARM_BITS.items() if status >> bit & 1}
    return frozenset(found)


def link_battery(frame: WatchFrame) -> int | None:
    """The battery level of an `LK,steps,rolls,battery` link frame, if it says one."""
    if len(frame.fields) >= 3:
        return _percent(frame.fields[2])
    return None


def decode_position(frame: WatchFrame) -> Position:
    """The position and status of a `UD`/`WT`/`AL` frame."""
    f = frame.fields
    if len(f) < 16:
        raise WatchFrameError(f"{frame.keyword} has {len(f)} fields, at least 16 expected")
    fix = f[2].upper()
    if fix not in ("A", "V"):
        raise WatchFrameError(f"fix must be A or V, not {f[2][:8]!r}")
    try:
        status = int(f[15], 16) if f[15] else 0
    except ValueError:
        raise WatchFrameError(f"status word {f[15][:12]!r} is not hex") from None
    # After the count of cell towers: timing advance, MCC, MNC, then three fields a tower;
    # then the count of Wi-Fi access points. Makers differ when there is no tower: tolerate.
    cells = _int(f[16]) if len(f) > 16 else None
    wifi_at = 20 + 3 * cells if cells else 17
    wifi = _int(f[wifi_at]) if len(f) > wifi_at else None
    return Position(
        at=_moment(f[0], f[1]),
        gps_fix=fix == "A",
        lat=_coordinate(f[3], f[4], "NS", 90.0),
        lon=_coordinate(f[5], f[6], "EW", 180.0),
        speed_kmh=_float(f[7]),
        battery=_percent(f[12]),
        status=status & 0xFFFFFFFF,
        cells=cells or 0,
        wifi=wifi or 0,
    )


def _moment(day: str, time: str) -> datetime | None:
    try:
        return datetime.strptime(day + time, "%d%m%y%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None  # the backend keeps its own receive time as the authoritative one


def _coordinate(value: str, hemisphere: str, sides: str, limit: float) -> float | None:
    number = _float(value)
    if number is None or not 0 <= abs(number) <= limit:
        return None
    return -abs(number) if hemisphere.upper() == sides[1] else number


def _float(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _int(value: str) -> int | None:
    # isascii: str.isdigit() also takes "¹" and other digits int() refuses.
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _percent(value: str) -> int | None:
    number = _int(value)
    return number if number is not None and number <= 100 else None
