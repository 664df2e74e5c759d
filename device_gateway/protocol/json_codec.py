"""MQTT payloads of PROTOCOL.md: UTF-8 JSON objects ⇄ wire events, acks, case news, commands."""

from __future__ import annotations

import json
from typing import Any

from device_gateway.protocol.checks import is_device_id
from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.model import (
    Ack,
    AckStatus,
    CaseNews,
    Command,
    WireEvent,
    event_from_fields,
    event_to_fields,
)

MAX_PAYLOAD_BYTES = 4096

# Built once: json.dumps with options builds a new encoder per call, and this is the hot path.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _load_object(payload: bytes, device_id: str | None) -> dict[str, Any]:
    readable = device_id if is_device_id(device_id) else None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise FrameError("payload too large", device_id=readable)
    try:
        # Decoded here rather than by json.loads, which would also guess UTF-16 and UTF-32.
        obj = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise FrameError("payload is not UTF-8", device_id=readable) from None
    except (ValueError, RecursionError):
        # RecursionError: a few thousand nested brackets fit in MAX_PAYLOAD_BYTES.
        raise FrameError("payload is not JSON", device_id=readable) from None
    if not isinstance(obj, dict):
        raise FrameError("payload must be a JSON object", device_id=readable)
    return obj


def _dump(obj: dict[str, Any]) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


def decode_uplink(device_id: str, payload: bytes) -> WireEvent:
    """Decode one uplink payload published on `device_id`'s `up` topic.

    Raises:
        FrameError: the payload breaks PROTOCOL.md; it carries the readable event key.
    """
    return event_from_fields(device_id, _load_object(payload, device_id))


def encode_uplink(event: WireEvent) -> bytes:
    """Encode `event` as the payload a terminal publishes (the device id is in the topic).

    Raises:
        FrameError: the payload would exceed MAX_PAYLOAD_BYTES.
    """
    payload = _dump(event_to_fields(event))
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise FrameError(
            "payload too large", device_id=event.device_id, boot=event.boot, seq=event.seq
        )
    return payload


def encode_ack(ack: Ack) -> bytes:
    """`{"ack": seq, "boot": boot, "status": …, "case": …}`, plus `reason` when present.

    `ack` / `boot` are left out when unknown (rejected frames), and so is a null `case`
    of a rejection.
    """
    obj: dict[str, Any] = {}
    if ack.seq is not None:
        obj["ack"] = ack.seq
    if ack.boot is not None:
        obj["boot"] = ack.boot
    obj["status"] = ack.status.value
    if ack.case is not None or ack.status is not AckStatus.REJECTED:
        obj["case"] = ack.case
    if ack.reason is not None:
        obj["reason"] = ack.reason
    return _dump(obj)


def encode_news(news: CaseNews) -> bytes:
    """`{"case": …, "state": …, "say": …}` for the terminal's light or voice prompt."""
    obj: dict[str, Any] = {"case": news.case, "state": news.state}
    if news.say is not None:
        obj["say"] = news.say
    return _dump(obj)


def encode_command(command: Command) -> bytes:
    """`{"cmd": …, "id": …, **params}`.

    Raises:
        TypeError: a parameter is not JSON-serialisable.
        ValueError: a parameter is NaN or infinite, or holds a lone surrogate.
    """
    return _dump({"cmd": command.cmd.value, "id": command.id, **command.params})


def decode_downlink(device_id: str, payload: bytes) -> Ack | CaseNews | Command:
    """Decode a payload of `device_id`'s `down` topic (for simulators, tools and tests).

    Raises:
        FrameError: the payload is none of the three downlink kinds, or breaks their rules.
    """
    obj = _load_object(payload, device_id)
    # Commands first: their parameters may be named like ack or news fields.
    if "cmd" in obj:
        params = {key: value for key, value in obj.items() if key not in Command.RESERVED_KEYS}
        command_id: Any = obj.get("id")
        return Command(cmd=obj["cmd"], id=command_id, params=params)
    if "status" in obj:
        return Ack(
            device_id=device_id,
            boot=obj.get("boot"),
            seq=obj.get("ack"),
            status=obj["status"],
            case=obj.get("case"),
            reason=obj.get("reason"),
        )
    if "state" in obj:
        case: Any = obj.get("case")
        return CaseNews(case=case, state=obj["state"], say=obj.get("say"))
    raise FrameError(
        "unknown downlink message", device_id=device_id if is_device_id(device_id) else None
    )
