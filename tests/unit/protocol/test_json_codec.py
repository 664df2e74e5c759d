import contextlib
import copy
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.json_codec import (
    MAX_PAYLOAD_BYTES,
    decode_downlink,
    decode_uplink,
    encode_ack,
    encode_command,
    encode_news,
    encode_uplink,
)
from device_gateway.protocol.model import (
    Ack,
    AckStatus,
    Battery,
    Cancel,
    CaseNews,
    CmdResult,
    Command,
    CommandName,
    Fall,
    Heartbeat,
    Pattern,
    Power,
    PowerState,
    Press,
    WireEvent,
)
from firmware_sim import wire
from tests.unit.protocol.wire_strategies import (
    acks,
    commands,
    device_ids,
    events,
    json_values,
    news,
)

COUNTER_RULE = "an integer 0..2147483647"


def unchecked(value: object) -> Any:
    """`value` typed Any, to hand a model a value its annotations forbid."""
    return value


UPLINK_KEYS = ["boot", "seq", "type", "ts", "pattern", "button", "ref_seq", "battery", "rssi"]
UPLINK_KEYS += ["fw", "level", "state", "confidence", "ref", "ok", "detail"]
TYPES = ["press", "cancel", "heartbeat", "battery", "power", "fall", "boot", "cmd_result"]


def payload(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def reject(device_id: str, data: bytes) -> FrameError:
    with pytest.raises(FrameError) as caught:
        decode_uplink(device_id, data)
    return caught.value


# --- decoding uplink events ---------------------------------------------------------------------


def test_json_codec_decodes_protocol_example() -> None:
    event = decode_uplink("T1001", b'{"boot": 7, "seq": 42, "type": "press", "pattern": "long"}')
    assert event == Press(device_id="T1001", boot=7, seq=42, pattern=Pattern.LONG)
    assert isinstance(event, Press)
    assert event.button == "main"
    assert event.pattern is Pattern.LONG


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"type": "cancel", "ref_seq": 41},
            Cancel(device_id="T1", boot=7, seq=42, ref_seq=41),
        ),
        (
            {"type": "heartbeat", "battery": 88, "rssi": -71, "fw": "1.2.3"},
            Heartbeat(device_id="T1", boot=7, seq=42, battery=88, rssi=-71, fw="1.2.3"),
        ),
        ({"type": "heartbeat"}, Heartbeat(device_id="T1", boot=7, seq=42)),
        ({"type": "battery", "level": 9}, Battery(device_id="T1", boot=7, seq=42, level=9)),
        (
            {"type": "power", "state": "lost"},
            Power(device_id="T1", boot=7, seq=42, state=PowerState.LOST),
        ),
        ({"type": "fall", "confidence": 1}, Fall(device_id="T1", boot=7, seq=42, confidence=1.0)),
        (
            {"type": "cmd_result", "ref": "c-1", "ok": False, "detail": "busy"},
            CmdResult(device_id="T1", boot=7, seq=42, ref="c-1", ok=False, detail="busy"),
        ),
        (
            {"type": "press", "pattern": "single", "button": "sos", "ts": "2026-11-22T08:00:00Z"},
            Press(
                device_id="T1",
                boot=7,
                seq=42,
                pattern=Pattern.SINGLE,
                button="sos",
                ts="2026-11-22T08:00:00Z",
            ),
        ),
    ],
)
def test_json_codec_decodes_each_type(fields: dict[str, Any], expected: WireEvent) -> None:
    assert decode_uplink("T1", payload(boot=7, seq=42, **fields)) == expected


def test_json_codec_ignores_unknown_fields_and_nulls_of_optional_ones() -> None:
    data = payload(boot=1, seq=2, type="press", pattern="double", button=None, colour="red")
    assert decode_uplink("T1", data) == Press(device_id="T1", boot=1, seq=2, pattern=Pattern.DOUBLE)


def test_json_codec_takes_the_device_id_from_the_topic_not_the_payload() -> None:
    data = payload(boot=1, seq=2, type="boot", device_id="OTHER")
    assert decode_uplink("T1", data).device_id == "T1"


def test_json_codec_accepts_counters_at_the_limits() -> None:
    event = decode_uplink("T1", payload(boot=0, seq=2**31 - 1, type="boot"))
    assert (event.boot, event.seq) == (0, 2**31 - 1)


# --- each error reason --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe{}", "payload is not UTF-8"),
        ('{"boot":1}'.encode("utf-16"), "payload is not UTF-8"),
        (b"", "payload is not JSON"),
        (b'{"boot": 1,', "payload is not JSON"),
        (b"[" * 3000 + b"]" * 3000, "payload too large"),
        (b"[" * 2000 + b"]" * 2000, "payload is not JSON"),
        (b"[1, 2]", "payload must be a JSON object"),
        (b'"press"', "payload must be a JSON object"),
        (b"null", "payload must be a JSON object"),
        (b" " * (MAX_PAYLOAD_BYTES - 1) + b"{}", "payload too large"),
    ],
)
def test_json_codec_rejects_bad_payloads(data: bytes, reason: str) -> None:
    error = reject("T1", data)
    assert error.reason == reason
    assert str(error) == reason
    assert (error.device_id, error.boot, error.seq) == ("T1", None, None)


def test_json_codec_accepts_a_payload_of_exactly_the_maximum_size() -> None:
    data = payload(boot=1, seq=2, type="boot")
    data = data[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(data)) + b"}"
    assert len(data) == MAX_PAYLOAD_BYTES
    assert decode_uplink("T1", data) == decode_uplink("T1", payload(boot=1, seq=2, type="boot"))


@pytest.mark.parametrize(
    ("fields", "reason", "key"),
    [
        ({"seq": 1, "type": "boot"}, "boot is required", (None, 1)),
        ({"boot": -1, "seq": 1, "type": "boot"}, f"boot must be {COUNTER_RULE}", (None, 1)),
        ({"boot": 2**31, "seq": 1, "type": "boot"}, f"boot must be {COUNTER_RULE}", (None, 1)),
        ({"boot": True, "seq": 1, "type": "boot"}, f"boot must be {COUNTER_RULE}", (None, 1)),
        ({"boot": 7, "type": "boot"}, "seq is required", (7, None)),
        ({"boot": 7, "seq": False, "type": "boot"}, f"seq must be {COUNTER_RULE}", (7, None)),
        ({"boot": 7, "seq": 1.0, "type": "boot"}, f"seq must be {COUNTER_RULE}", (7, None)),
        ({"boot": 7, "seq": "42", "type": "boot"}, f"seq must be {COUNTER_RULE}", (7, None)),
        ({"boot": 7, "seq": None, "type": "boot"}, "seq is required", (7, None)),
        ({"boot": 7, "seq": 42}, "type is required", (7, 42)),
        ({"boot": 7, "seq": 42, "type": 3}, "type must be a string", (7, 42)),
        ({"boot": 7, "seq": 42, "type": "reboot"}, "unknown type 'reboot'", (7, 42)),
        ({"boot": 7, "seq": 42, "type": "PRESS"}, "unknown type 'PRESS'", (7, 42)),
    ],
)
def test_json_codec_rejects_bad_keys_and_types(
    fields: dict[str, Any], reason: str, key: tuple[int | None, int | None]
) -> None:
    error = reject("T1", payload(**fields))
    assert error.reason == reason
    assert (error.device_id, error.boot, error.seq) == ("T1", *key)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"type": "press"}, "pattern is required"),
        (
            {"type": "press", "pattern": "quadruple"},
            "pattern must be one of single, double, triple, long",
        ),
        (
            {"type": "press", "pattern": "long", "button": "side button"},
            "button must be 1-32 characters of A-Z a-z 0-9 _ -",
        ),
        ({"type": "press", "pattern": "long", "button": ""}, "button must be 1-32 characters"),
        ({"type": "cancel"}, "ref_seq is required"),
        ({"type": "cancel", "ref_seq": -1}, f"ref_seq must be {COUNTER_RULE}"),
        ({"type": "heartbeat", "battery": 101}, "battery must be an integer 0..100"),
        ({"type": "heartbeat", "battery": 50.5}, "battery must be an integer 0..100"),
        ({"type": "heartbeat", "rssi": "-70"}, "rssi must be an integer -255..255"),
        ({"type": "heartbeat", "fw": 12}, "fw must be a string of at most 256 characters"),
        ({"type": "heartbeat", "fw": "a\nb"}, "fw must be a string of at most 256 characters"),
        ({"type": "heartbeat", "fw": "x" * 257}, "fw must be a string of at most 256 characters"),
        ({"type": "battery"}, "level is required"),
        ({"type": "battery", "level": True}, "level must be an integer 0..100"),
        ({"type": "power", "state": "on"}, "state must be one of lost, restored"),
        ({"type": "power"}, "state is required"),
        ({"type": "fall", "confidence": 1.5}, "confidence must be a number 0..1"),
        ({"type": "fall", "confidence": True}, "confidence must be a number 0..1"),
        ({"type": "boot", "fw": ["1"]}, "fw must be a string"),
        ({"type": "cmd_result", "ok": True}, "ref is required"),
        ({"type": "cmd_result", "ref": "", "ok": True}, "ref must be a non-empty string"),
        ({"type": "cmd_result", "ref": "c-1"}, "ok is required"),
        ({"type": "cmd_result", "ref": "c-1", "ok": 1}, "ok must be a boolean"),
        ({"type": "cmd_result", "ref": "c-1", "ok": True, "detail": {}}, "detail must be a"),
        ({"type": "boot", "ts": 1700000000}, "ts must be a string of at most 256 characters"),
        ({"type": "boot", "ts": "\x00"}, "ts must be a string"),
    ],
)
def test_json_codec_rejects_bad_fields_naming_the_event(
    fields: dict[str, Any], reason: str
) -> None:
    error = reject("T1", payload(boot=7, seq=42, **fields))
    assert error.reason.startswith(reason)
    assert (error.device_id, error.boot, error.seq) == ("T1", 7, 42)


def test_json_codec_rejects_nan_confidence() -> None:
    error = reject("T1", b'{"boot": 7, "seq": 42, "type": "fall", "confidence": NaN}')
    assert error.reason == "confidence must be a number 0..1"


def test_json_codec_rejects_an_invalid_topic_device_id_without_naming_it() -> None:
    error = reject("T/1", payload(boot=7, seq=42, type="boot"))
    assert error.reason == "device_id must be 1-64 characters of A-Z a-z 0-9 _ -"
    assert (error.device_id, error.boot, error.seq) == (None, 7, 42)


def test_json_codec_cuts_an_unknown_type_short_in_the_reason() -> None:
    error = reject("T1", payload(boot=7, seq=42, type="\U0001f4a5" * 200))
    assert len(error.reason) < 100


# --- encoding -----------------------------------------------------------------------------------


def test_json_codec_encodes_compact_json_in_protocol_order() -> None:
    event = Press(device_id="T1001", boot=7, seq=42, pattern=Pattern.LONG)
    assert encode_uplink(event) == b'{"boot":7,"seq":42,"type":"press","pattern":"long"}'


def test_json_codec_encodes_unicode_unescaped() -> None:
    event = CmdResult(device_id="T1", boot=1, seq=2, ref="r", ok=True, detail="已响铃 ✓")
    assert "已响铃 ✓".encode() in encode_uplink(event)


@pytest.mark.parametrize(
    ("ack", "expected"),
    [
        (
            Ack(device_id="T1", boot=7, seq=42, status=AckStatus.ACCEPTED, case="C-20261122-0001"),
            b'{"ack":42,"boot":7,"status":"accepted","case":"C-20261122-0001"}',
        ),
        (
            Ack(device_id="T1", boot=7, seq=43, status=AckStatus.ACCEPTED),
            b'{"ack":43,"boot":7,"status":"accepted","case":null}',
        ),
        (
            Ack(device_id="T1", boot=7, seq=42, status=AckStatus.DUPLICATE, case="C-20261122-0001"),
            b'{"ack":42,"boot":7,"status":"duplicate","case":"C-20261122-0001"}',
        ),
        (
            Ack(device_id="T1", boot=7, seq=42, status=AckStatus.REJECTED, reason="unknown device"),
            b'{"ack":42,"boot":7,"status":"rejected","reason":"unknown device"}',
        ),
        (
            Ack(device_id="T1", boot=None, seq=None, status=AckStatus.REJECTED, reason="bad"),
            b'{"status":"rejected","reason":"bad"}',
        ),
        (
            Ack(device_id="T1", boot=7, seq=None, status=AckStatus.REJECTED, reason="bad"),
            b'{"boot":7,"status":"rejected","reason":"bad"}',
        ),
    ],
)
def test_json_codec_encodes_acks_as_the_protocol_shows(ack: Ack, expected: bytes) -> None:
    assert encode_ack(ack) == expected


def test_json_codec_rejection_of_a_bad_frame_names_what_was_read() -> None:
    error = reject("T1", payload(boot=7, seq=42, type="reboot"))
    data = encode_ack(Ack.rejecting("T1", error))
    assert json.loads(data) == {
        "ack": 42,
        "boot": 7,
        "status": "rejected",
        "reason": "unknown type 'reboot'",
    }


def test_json_codec_encodes_news_and_commands() -> None:
    news_item = CaseNews(case="C-1", state="accepted", say="A volunteer is on the way")
    assert encode_news(news_item) == (
        b'{"case":"C-1","state":"accepted","say":"A volunteer is on the way"}'
    )
    command = Command(cmd=CommandName.RING, id="k1", params={"seconds": 10})
    assert encode_command(command) == b'{"cmd":"ring","id":"k1","seconds":10}'


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: Ack(device_id="T1", boot=7, seq=42, status=unchecked("ok")), "status must be"),
        (
            lambda: Ack(device_id="T1", boot=None, seq=1, status=AckStatus.ACCEPTED),
            "boot is required",
        ),
        (
            lambda: Ack(device_id="T1", boot=1, seq=1, status=AckStatus.REJECTED),
            "reason is required",
        ),
        (lambda: Ack(device_id="", boot=1, seq=1, status=AckStatus.ACCEPTED), "device_id must be"),
        (lambda: Command(cmd=unchecked("reboot"), id="1"), "cmd must be one of ring, ping, config"),
        (lambda: Command(cmd=CommandName.PING, id="1", params={"id": 2}), "params must map"),
        (lambda: CaseNews(case="", state="open"), "case must be a non-empty string"),
    ],
)
def test_json_codec_downlink_models_refuse_invalid_values(make: Any, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        make()


# --- the models themselves ---------------------------------------------------------------------


def test_json_codec_events_are_frozen_hashable_values() -> None:
    event = Press(device_id="T1", boot=7, seq=42, pattern=Pattern.LONG)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 43  # type: ignore[misc]
    assert {event, Press(device_id="T1", boot=7, seq=42, pattern=Pattern.LONG)} == {event}
    other: WireEvent = Cancel(device_id="T1", boot=7, seq=42, ref_seq=1)
    assert event != other


def test_json_codec_bare_wire_event_cannot_be_built() -> None:
    with pytest.raises(TypeError, match="abstract"):
        WireEvent(device_id="T1", boot=7, seq=42)


def test_json_codec_frame_error_survives_copying_with_its_key() -> None:
    error = reject("T1", payload(boot=7, seq=42, type="reboot"))
    copied = copy.deepcopy(error)
    assert (copied.reason, copied.device_id, copied.boot, copied.seq) == (error.reason, "T1", 7, 42)


# --- downlink decoding --------------------------------------------------------------------------


def test_json_codec_decodes_the_protocol_downlink_examples() -> None:
    ack = decode_downlink(
        "T1", b'{"ack": 42, "boot": 7, "status": "accepted", "case": "C-20261122-0001"}'
    )
    assert ack == Ack(
        device_id="T1", boot=7, seq=42, status=AckStatus.ACCEPTED, case="C-20261122-0001"
    )
    news_item = decode_downlink(
        "T1", b'{"case": "C-1", "state": "accepted", "say": "A volunteer is on the way"}'
    )
    assert news_item == CaseNews(case="C-1", state="accepted", say="A volunteer is on the way")
    command = decode_downlink("T1", b'{"cmd": "config", "id": "7", "interval_s": 60}')
    assert command == Command(cmd=CommandName.CONFIG, id="7", params={"interval_s": 60})


def test_json_codec_command_with_ack_like_params_stays_a_command() -> None:
    command = Command(cmd=CommandName.CONFIG, id="9", params={"status": "on", "state": 1})
    assert decode_downlink("T1", encode_command(command)) == command


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"hello": 1}', "unknown downlink message"),
        (b'{"status": "maybe"}', "status must be one of"),
        (b'{"cmd": "ring"}', "id is required"),
        (b"[]", "payload must be a JSON object"),
    ],
)
def test_json_codec_refuses_bad_downlinks(data: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode_downlink("T1", data)


# --- properties ---------------------------------------------------------------------------------


@given(events())
def test_json_codec_round_trips_every_event(event: WireEvent) -> None:
    data = encode_uplink(event)
    assert len(data) <= MAX_PAYLOAD_BYTES
    assert decode_uplink(event.device_id, data) == event


@given(acks())
def test_json_codec_round_trips_acks(ack: Ack) -> None:
    assert decode_downlink(ack.device_id, encode_ack(ack)) == ack


@given(news)
def test_json_codec_round_trips_case_news(news_item: CaseNews) -> None:
    assert decode_downlink("T1", encode_news(news_item)) == news_item


@given(commands)
def test_json_codec_round_trips_commands(command: Command) -> None:
    assert decode_downlink("T1", encode_command(command)) == command


@given(st.text(max_size=70), st.binary(max_size=MAX_PAYLOAD_BYTES + 10))
def test_json_codec_arbitrary_bytes_raise_only_frame_errors(device_id: str, data: bytes) -> None:
    for decode in (decode_uplink, decode_downlink):
        with contextlib.suppress(FrameError):
            decode(device_id, data)


fuzzed_objects = st.dictionaries(
    st.sampled_from(UPLINK_KEYS) | st.text(max_size=5),
    json_values | st.sampled_from(TYPES) | st.integers(-3, 2**31 + 3),
)


@given(device_ids, fuzzed_objects)
def test_json_codec_fuzzed_objects_decode_or_yield_a_sendable_rejection(
    device_id: str, obj: dict[str, Any]
) -> None:
    data = json.dumps(obj).encode()
    try:
        event: WireEvent | FrameError = decode_uplink(device_id, data)
    except FrameError as error:
        event = error
    if isinstance(event, FrameError):
        assert event.device_id == device_id
        reply = json.loads(encode_ack(Ack.rejecting(device_id, event)))
        assert reply["status"] == "rejected"
        assert reply["reason"] == event.reason
    else:
        assert decode_uplink(device_id, encode_uplink(event)) == event


# --- cross-checks with the independent encoder of firmware_sim ----------------------------------


@given(events(max_text=40))
def test_json_codec_decodes_what_firmware_sim_encodes(event: WireEvent) -> None:
    ours = json.loads(encode_uplink(event))
    fields = {key: value for key, value in ours.items() if key not in ("boot", "seq", "type")}
    data = wire.encode_event(event.boot, event.seq, event.TYPE, fields)
    assert decode_uplink(event.device_id, data) == event


@given(acks(max_text=40))
def test_json_codec_acks_read_the_same_in_firmware_sim(ack: Ack) -> None:
    theirs = wire.decode_downlink(encode_ack(ack))
    assert isinstance(theirs, wire.Ack)
    assert (theirs.seq, theirs.boot, theirs.status) == (ack.seq, ack.boot, ack.status.value)
    assert (theirs.case, theirs.reason) == (ack.case, ack.reason)
