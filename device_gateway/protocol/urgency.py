"""Whether a person waits on a raw uplink, told at a glance on the transport's own thread.

Each transport asks its helper here before the message is queued: urgent messages (a
press, a fall, an SOS, and a cancel, which must stay behind its press in the same lane)
go before technical ones (power, battery, heartbeat, boot, command results). No checksum,
no full parse: a glance is cheap enough for a storm of thousands a second. Whatever the
glance cannot read is urgent, so a press is never put behind a storm by a misreading;
a technical message read as urgent only goes first.
"""

from __future__ import annotations

import re

from device_gateway.protocol.dc09_codec import Dc09Message, Signal, Token, signal_of

# What a person waits on, as PROTOCOL.md names the event types (and the SOS button).
URGENT_TYPES = frozenset({"press", "fall", "cancel", "sos"})
# The technical types of a hub's line: anything else there is urgent.
_TECHNICAL_TYPES = frozenset({"heartbeat", "battery", "power", "boot", "cmd_result"})
# The same words as they appear quoted in a JSON uplink. A technical event naming one of
# them by chance (in a `detail`) only goes first; nothing is lost.
_URGENT_MARKS = tuple(f'"{word}"'.encode() for word in sorted(URGENT_TYPES))
_NMEA_EVENT = b"$VNH,"
# The DC-09 message id and first data block, without checking length or CRC.
_DC09 = re.compile(rb'"(\*?)([A-Z0-9-]{1,16})"[^\[]*\[([^\[\]]*)\]')
_ROUTINE_SIGNALS = frozenset(
    {
        Signal.POWER_LOST,
        Signal.POWER_RESTORED,
        Signal.BATTERY_LOW,
        Signal.BATTERY_OK,
        Signal.ALIVE,
    }
)
# A watch's alarm frame (SOS, fall, left the fence, taken off) is urgent; its link,
# position and health frames are not.
WATCH_ALARM_KEYWORD = "AL"


def json_uplink_is_urgent(payload: bytes) -> bool:
    """An MQTT `up` payload: urgent when it names a press, fall, cancel or SOS."""
    return any(mark in payload for mark in _URGENT_MARKS)


def nmea_line_is_urgent(line: bytes) -> bool:
    """A serial hub's line: routine only for a `$VNH` sentence of a technical type."""
    if not line.startswith(_NMEA_EVENT):
        return True  # not an event sentence: not looked into
    parts = line.split(b",", 5)
    if len(parts) < 5:
        return True
    kind = parts[4].split(b"*", 1)[0].strip().decode("ascii", "replace")
    return kind not in _TECHNICAL_TYPES


def dc09_frame_is_urgent(frame: bytes) -> bool:
    """A DC-09 frame: routine only for AC, battery and link reports; alarms are urgent."""
    match = _DC09.search(frame)
    if match is None or match[1]:
        return True  # unreadable or encrypted: not looked into
    token = match[2].decode("ascii")
    if token == Token.NULL:
        return False  # link supervision
    data = match[3].decode("ascii", "replace")
    signal = signal_of(Dc09Message(token=token, seq="0000", account="0", data=data))
    # A code the service does not act on (None) is answered ACK and opens nothing.
    return signal is not None and signal not in _ROUTINE_SIGNALS


def watch_frame_is_urgent(keyword: str) -> bool:
    """A watch frame: urgent for an alarm (`AL`), routine for the rest."""
    return keyword == WATCH_ALARM_KEYWORD
