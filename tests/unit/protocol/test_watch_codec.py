"""The 4G watch protocol: frames as the makers' documents write them, and whatever bytes."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.protocol.watch_codec import (
    FrameReader,
    WatchAlarm,
    WatchFrame,
    WatchFrameError,
    alarm_bits,
    decode_position,
    encode_frame,
    link_battery,
    reply_to,
)

UD = (
    "UD,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,00000000,"
    "4,1,460,0,9360,4082,131,9360,4092,148,9360,4091,143,9360,4153,141,0"
)


def frames(data: bytes) -> list[WatchFrame]:
    out = FrameReader().feed(data)
    assert all(isinstance(f, WatchFrame) for f in out), out
    return [f for f in out if isinstance(f, WatchFrame)]


def test_watch_link_frames_with_and_without_the_index_field() -> None:
    plain, indexed = frames(b"[3G*1234567890*0002*LK][SG*861234567890123*0001*0009*LK,0,0,88]")
    assert (plain.maker, plain.watch_id, plain.index, plain.keyword) == (
        "3G",
        "1234567890",
        None,
        "LK",
    )
    assert (indexed.watch_id, indexed.index, link_battery(indexed)) == ("861234567890123", 1, 88)
    assert reply_to(plain) == b"[3G*1234567890*0002*LK]"
    assert reply_to(indexed) == b"[SG*861234567890123*0001*0002*LK]"


def test_watch_position_with_a_gps_fix() -> None:
    (frame,) = frames(encode_frame("3G", "1234567890", UD))
    pos = decode_position(frame)
    assert pos.at == datetime(2014, 4, 22, 13, 46, 52, tzinfo=UTC)  # ddmmyy
    assert (pos.gps_fix, pos.lat, pos.lon, pos.battery, pos.source) == (
        True,
        22.571707,
        113.8613968,
        90,
        "gps",
    )
    assert pos.alarms == frozenset()


def test_watch_position_without_a_fix_and_an_empty_cell_list() -> None:
    text = "UD,220414,134652,V,0.000000,N,0.000000,E,0,0,0,0,40,77,0,0,00000000,0,0"
    pos = decode_position(frames(encode_frame("CS", "8800000015", text))[0])
    assert (pos.gps_fix, pos.source, pos.battery) == (False, "none", 77)


def test_watch_southern_western_hemispheres_are_negative() -> None:
    text = UD.replace(",N,", ",S,").replace(",E,", ",W,")
    pos = decode_position(frames(encode_frame("3G", "1", text))[0])
    assert pos.lat is not None and pos.lat < 0
    assert pos.lon is not None and pos.lon < 0


@pytest.mark.parametrize(
    ("status", "alarms"),
    [
        ("00010000", {WatchAlarm.SOS}),
        ("00200000", {WatchAlarm.FALL}),
        ("00400000", {WatchAlarm.FALL}),
        ("00100000", {WatchAlarm.TAKEN_OFF}),
        ("00020001", {WatchAlarm.LOW_BATTERY}),
        ("00000002", {WatchAlarm.LEFT_FENCE}),
    ],
)
def test_watch_alarm_bits_of_the_status_word(status: str, alarms: set[WatchAlarm]) -> None:
    (frame,) = frames(encode_frame("3G", "1", "AL" + UD[2:].replace("00000000", status)))
    assert frame.keyword == "AL"
    assert decode_position(frame).alarms == alarms
    assert reply_to(frame) == b"[3G*1*0002*AL]"


def test_watch_binary_voice_frame_in_between_does_not_break_the_reader() -> None:
    voice = bytes(range(256)) + b"]*[*]"
    data = encode_frame("3G", "1", b"TK," + voice) + encode_frame("3G", "1", "LK")
    tk, lk = frames(data)
    assert (tk.keyword, tk.payload, lk.keyword) == ("TK", voice, "LK")


def test_watch_frames_split_anywhere_arrive_whole() -> None:
    data = b"noise" + encode_frame("3G", "1234567890", UD) + encode_frame("3G", "1234567890", "LK")
    reader = FrameReader()
    got = [f for i in range(len(data)) for f in reader.feed(data[i : i + 1])]
    assert [f.keyword for f in got if isinstance(f, WatchFrame)] == ["UD", "LK"]


@pytest.mark.parametrize(
    "data",
    [
        b"[3G*1234567890*0003*LK]",  # length says 3, content is 2
        b"[3G*12 34*0002*LK]",  # a space in the id
        b"[3G*1234567890*00ZZ*LK]",  # not hex
        b"[" + b"A" * 80,  # no header at all
    ],
)
def test_watch_bad_frames_are_reported_not_raised(data: bytes) -> None:
    out = FrameReader().feed(data + encode_frame("3G", "1", "LK"))
    assert any(isinstance(f, WatchFrameError) for f in out)
    assert [f.keyword for f in out if isinstance(f, WatchFrame)] == ["LK"]


def test_watch_position_with_too_few_fields_is_a_frame_error() -> None:
    with pytest.raises(WatchFrameError):
        decode_position(frames(encode_frame("3G", "1", "UD,220414,134652,A"))[0])


@given(st.binary(max_size=600))
def test_watch_reader_never_raises_on_any_bytes(data: bytes) -> None:
    reader = FrameReader()
    for frame in reader.feed(data):
        if isinstance(frame, WatchFrame) and frame.keyword in ("UD", "AL", "WT"):
            with contextlib.suppress(WatchFrameError):
                decode_position(frame)


@given(
    st.sampled_from(["3G", "SG", "CS", "ZJ"]),
    st.from_regex(r"[0-9]{10}|[0-9]{15}", fullmatch=True),
    st.one_of(st.none(), st.integers(0, 0xFFFF)),
    # Text frames only: a binary keyword's payload is bytes, not fields (its own test above).
    st.from_regex(r"[A-Z]{2}(,[0-9A-Za-z.]{0,8}){0,6}", fullmatch=True).filter(
        lambda c: not c.startswith("TK")
    ),
)
def test_watch_encode_then_read_round_trips(
    maker: str, watch_id: str, index: int | None, content: str
) -> None:
    (frame,) = frames(encode_frame(maker, watch_id, content, index))
    assert (frame.maker, frame.watch_id, frame.index) == (maker, watch_id, index)
    assert ",".join((frame.keyword, *frame.fields)) == content


def test_watch_alarm_bits_ignore_unrelated_bits() -> None:
    assert alarm_bits(0x00000100) == frozenset()


def test_watch_index_equal_to_the_rest_of_the_header_is_still_an_index() -> None:
    # Index 7 and "0002*LK" (7 bytes) also read as a whole frame without index.
    (frame,) = frames(b"[3G*1234567890*0007*0002*LK]")
    assert (frame.index, frame.keyword) == (7, "LK")
    assert reply_to(frame) == b"[3G*1234567890*0007*0002*LK]"
