"""The wire protocol of PROTOCOL.md: models, JSON and NMEA-style codecs, MQTT topics.

`encode_ack` exists per transport: use `json_codec.encode_ack` or `nmea_codec.encode_ack`.
"""

from __future__ import annotations

from device_gateway.protocol import json_codec, nmea_codec, topics
from device_gateway.protocol.checks import COUNTER_MAX, is_counter, is_device_id
from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.json_codec import (
    MAX_PAYLOAD_BYTES,
    decode_downlink,
    decode_uplink,
    encode_command,
    encode_news,
    encode_uplink,
)
from device_gateway.protocol.model import (
    DEFAULT_BUTTON,
    EVENT_TYPES,
    Ack,
    AckStatus,
    Battery,
    Boot,
    Cancel,
    CaseNews,
    CmdResult,
    Command,
    CommandName,
    Fall,
    Heartbeat,
    Nak,
    Pattern,
    Power,
    PowerState,
    Press,
    WireEvent,
    event_from_fields,
    event_to_fields,
)
from device_gateway.protocol.nmea_codec import (
    MAX_LINE_BYTES,
    LineSplitter,
    checksum,
    decode_line,
    decode_reply,
    encode_event,
    encode_nak,
)

__all__ = [
    "COUNTER_MAX",
    "DEFAULT_BUTTON",
    "EVENT_TYPES",
    "MAX_LINE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "Ack",
    "AckStatus",
    "Battery",
    "Boot",
    "Cancel",
    "CaseNews",
    "CmdResult",
    "Command",
    "CommandName",
    "Fall",
    "FrameError",
    "Heartbeat",
    "LineSplitter",
    "Nak",
    "Pattern",
    "Power",
    "PowerState",
    "Press",
    "WireEvent",
    "checksum",
    "decode_downlink",
    "decode_line",
    "decode_reply",
    "decode_uplink",
    "encode_command",
    "encode_event",
    "encode_nak",
    "encode_news",
    "encode_uplink",
    "event_from_fields",
    "event_to_fields",
    "is_counter",
    "is_device_id",
    "json_codec",
    "nmea_codec",
    "topics",
]
