"""SIA DC-09 framing (unencrypted) and the Contact ID / SIA codes the service acts on.

A frame is `<LF><crc><0LLL>"<id>"<seq>[R<rcvr>]L<pref>#<acct>[<data>]...[_<time>]<CR>`:
`crc` is CRC-16/ARC (poly 0xA001 reflected, init 0) as 4 hex digits over everything from
the first quote to the end of the timestamp, `0LLL` that same part's length in hex.
Decoding never raises anything but `Dc09Error`, whatever the bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from care_api.domain.alarm_codes import kind_for_contact_id
from care_api.domain.model import CaseKind

LF, CR = 0x0A, 0x0D
MAX_FRAME_BYTES = 1024  # far above any real panel's message; longer is garbage
NO_TIMESTAMP = None


class Token(StrEnum):
    """Message ids: what the data block holds, or the receiver's answer."""

    ADM_CID = "ADM-CID"  # Ademco Contact ID
    SIA_DCS = "SIA-DCS"  # SIA DC-03 codes
    NULL = "NULL"  # link supervision: nothing to report
    ACK = "ACK"
    NAK = "NAK"  # CRC, length or format wrong: the sender resends
    DUH = "DUH"  # understood but not taken: unknown account, encrypted, unsupported id


SENDER_TOKENS = (Token.ADM_CID, Token.SIA_DCS, Token.NULL)

_BODY = re.compile(
    r'^"(?P<star>\*?)(?P<id>[A-Z0-9-]{1,16})"'
    r"(?P<seq>[0-9A-Fa-f]{4})"
    r"(?:R(?P<rcvr>[0-9A-Fa-f]{1,6}))?"
    r"(?:L(?P<pref>[0-9A-Fa-f]{1,6}))?"
    r"#(?P<acct>[0-9A-Fa-f]{3,16})"
    r"\[(?P<data>[^\[\]]*)\]"
    r"(?P<extra>(?:\[[^\[\]]*\])*)"
    r"(?:_(?P<ts>\d\d:\d\d:\d\d,\d\d-\d\d-\d{4}))?$"
)
_CID = re.compile(
    r"^(?:#[0-9A-Fa-f]{3,16}\|)?(?P<q>[136])(?P<code>\d{3}) (?P<group>\d{2}) (?P<zone>\d{3})$"
)
_SIA_CODE = re.compile(r"(?<![A-Za-z])([A-Z]{2})(?=[0-9/^]|$)")


class Dc09Error(ValueError):
    """A frame the receiver cannot take; `answer` says whether it is NAKed or DUHed.

    `message` is set when the header could be read (a DUH echoes it).
    """

    def __init__(
        self, reason: str, *, answer: Token = Token.NAK, message: Dc09Message | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.answer = answer
        self.message = message


@dataclass(frozen=True, slots=True)
class Dc09Message:
    """One DC-09 message; `seq`, `receiver`, `line` and `account` are kept as sent (echoed)."""

    token: str
    seq: str
    account: str
    data: str = ""
    receiver: str | None = None
    line: str | None = None
    extra: str = ""  # the extended data blocks ([X…][Y…]) as sent
    timestamp: str | None = NO_TIMESTAMP  # "HH:MM:SS,MM-DD-YYYY", UTC
    encrypted: bool = False


def crc16(data: bytes) -> int:
    """CRC-16/ARC (IBM): reflected polynomial 0xA001, initial value 0."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _frame(body: str) -> bytes:
    raw = body.encode("ascii")
    return b"\n" + f"{crc16(raw):04X}0{len(raw):03X}".encode("ascii") + raw + b"\r"


def _header(message: Dc09Message, token: str) -> str:
    receiver = f"R{message.receiver}" if message.receiver is not None else ""
    line = f"L{message.line}" if message.line is not None else ""
    return f'"{token}"{message.seq}{receiver}{line}#{message.account}'


def encode_message(message: Dc09Message) -> bytes:
    """The frame of `message`, as a sender would send it."""
    star = "*" if message.encrypted else ""
    body = _header(message, star + message.token) + f"[{message.data}]{message.extra}"
    if message.timestamp is not None:
        body += f"_{message.timestamp}"
    return _frame(body)


def encode_answer(answer: Token, message: Dc09Message) -> bytes:
    """The receiver's ACK or DUH to `message`: its seq, receiver, line and account echoed."""
    return _frame(_header(message, answer) + "[]")


def encode_nak(now: datetime, message: Dc09Message | None = None) -> bytes:
    """A NAK: seq 0000, account 0, and the receiver's UTC time so the sender can resync."""
    receiver = f"R{message.receiver}" if message and message.receiver is not None else "R0"
    line = f"L{message.line}" if message and message.line is not None else "L0"
    return _frame(f'"{Token.NAK}"0000{receiver}{line}A0[]_{format_timestamp(now)}')


def format_timestamp(at: datetime) -> str:
    """DC-09's `HH:MM:SS,MM-DD-YYYY` of an aware (UTC) time."""
    return at.strftime("%H:%M:%S,%m-%d-%Y")


def decode_frame(frame: bytes) -> Dc09Message:
    """The message of one frame (LF … CR, either end optional).

    Raises:
        Dc09Error: NAK for a bad CRC, length or format; DUH for an id it does not take
            (encrypted, unknown).
    """
    try:
        return _decode(frame)
    except Dc09Error:
        raise
    except Exception as exc:  # never let a device's bytes raise anything else
        raise Dc09Error(f"malformed frame ({type(exc).__name__})") from None


def _decode(frame: bytes) -> Dc09Message:
    if frame[:1] == b"\n":
        frame = frame[1:]
    if frame[-1:] == b"\r":
        frame = frame[:-1]
    if len(frame) < 9:
        raise Dc09Error("frame too short")
    try:
        text = frame.decode("ascii")
    except UnicodeDecodeError:
        raise Dc09Error("frame is not ASCII") from None
    crc_text, length_text, body = text[:4], text[4:8], text[8:]
    if not re.fullmatch(r"[0-9A-Fa-f]{4}", crc_text) or not re.fullmatch(
        r"0[0-9A-Fa-f]{3}", length_text
    ):
        raise Dc09Error("CRC or length field is not hex")
    if int(length_text, 16) != len(body):
        raise Dc09Error(f"length field says {int(length_text, 16)}, body has {len(body)}")
    if int(crc_text, 16) != crc16(body.encode("ascii")):
        raise Dc09Error("CRC mismatch")
    match = _BODY.match(body)
    if match is None:
        raise Dc09Error("body does not read as DC-09")
    message = Dc09Message(
        token=match["id"],
        seq=match["seq"],
        account=match["acct"],
        data=match["data"],
        receiver=match["rcvr"],
        line=match["pref"],
        extra=match["extra"],
        timestamp=match["ts"],
        encrypted=bool(match["star"]),
    )
    if message.encrypted:
        raise Dc09Error("encrypted messages are not taken here", answer=Token.DUH, message=message)
    if message.token not in SENDER_TOKENS:
        raise Dc09Error(
            f"message id {message.token!r} not supported", answer=Token.DUH, message=message
        )
    return message


class FrameSplitter:
    """Cuts a TCP byte stream into frames: from an LF to the next CR; noise between is dropped."""

    def __init__(self, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self._max = max_bytes
        self._buffer = bytearray()
        self._inside = False

    def feed(self, data: bytes) -> list[bytes | Dc09Error]:
        """The frames (and over-long pieces, as errors) completed by `data`."""
        out: list[bytes | Dc09Error] = []
        for byte in data:
            if byte == LF:  # a new frame starts; an unfinished one before it was noise
                self._buffer = bytearray(b"\n")
                self._inside = True
            elif not self._inside:
                continue
            elif byte == CR:
                self._buffer.append(byte)
                out.append(bytes(self._buffer))
                self._buffer, self._inside = bytearray(), False
            elif len(self._buffer) >= self._max:
                out.append(Dc09Error(f"frame longer than {self._max} bytes"))
                self._buffer, self._inside = bytearray(), False
            else:
                self._buffer.append(byte)
        return out


# -- what the codes mean to the service --------------------------------------------------------


class Signal(StrEnum):
    """What a panel's event asks of the service."""

    EMERGENCY = "emergency"
    BATTERY_LOW = "battery_low"
    BATTERY_OK = "battery_ok"
    POWER_LOST = "power_lost"
    POWER_RESTORED = "power_restored"
    ALIVE = "alive"  # periodic test, link poll


# Contact ID event codes (SIA DC-05) that become terminal events; `q` 1 is new, 3 restore.
# Which codes are emergencies is the care domain's table (`kind_for_contact_id`), not this.
_CID_NEW: dict[int, Signal] = {
    301: Signal.POWER_LOST,  # AC loss
    302: Signal.BATTERY_LOW,  # low system battery
    384: Signal.BATTERY_LOW,  # RF transmitter (pendant) low battery
    602: Signal.ALIVE,  # periodic test report
}
_CID_RESTORE: dict[int, Signal] = {
    301: Signal.POWER_RESTORED,
    302: Signal.BATTERY_OK,
    384: Signal.BATTERY_OK,
    602: Signal.ALIVE,
}
_SIA: dict[str, Signal] = {
    "MA": Signal.EMERGENCY,  # medical alarm
    "QA": Signal.EMERGENCY,  # emergency alarm
    "PA": Signal.EMERGENCY,  # panic alarm
    "HA": Signal.EMERGENCY,  # holdup (duress)
    "AT": Signal.POWER_LOST,  # AC trouble
    "AR": Signal.POWER_RESTORED,
    "YT": Signal.BATTERY_LOW,  # system battery trouble
    "XT": Signal.BATTERY_LOW,  # transmitter battery trouble
    "YR": Signal.BATTERY_OK,
    "XR": Signal.BATTERY_OK,
    "RP": Signal.ALIVE,  # automatic test
}


@dataclass(frozen=True, slots=True)
class ContactId:
    """A Contact ID event: qualifier (1 new, 3 restore, 6 still present), code, group, zone."""

    qualifier: int
    code: int
    group: int
    zone: int


def parse_contact_id(data: str) -> ContactId | None:
    """The Contact ID event of an ADM-CID data block (`#1234|1101 01 015`), or None."""
    match = _CID.match(data.strip())
    if match is None:
        return None
    return ContactId(int(match["q"]), int(match["code"]), int(match["group"]), int(match["zone"]))


def signal_of(message: Dc09Message) -> Signal | None:
    """What `message` asks of the service; None for an event it does not act on."""
    if message.token == Token.NULL:
        return Signal.ALIVE
    if message.token == Token.ADM_CID:
        event = parse_contact_id(message.data)
        if event is None:
            return None
        if event.qualifier == 1 and kind_for_contact_id(event.code) == CaseKind.EMERGENCY:
            return Signal.EMERGENCY
        table = {1: _CID_NEW, 3: _CID_RESTORE}.get(event.qualifier, {})
        return table.get(event.code)
    _, _, sia = message.data.partition("|")
    sia = sia.removeprefix("N")  # "N": a new event; the codes follow
    for code in _SIA_CODE.findall(sia):
        if code in _SIA:
            return _SIA[code]
    return None
