"""The DC-09 codec: framing, CRC, answers, and what the alarm codes mean to the service."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pysiaalarm import SIAAccount
from pysiaalarm.event import SIAEvent

from device_gateway.protocol.dc09_codec import (
    Dc09Error,
    Dc09Message,
    FrameSplitter,
    Signal,
    Token,
    crc16,
    decode_frame,
    encode_answer,
    encode_message,
    encode_nak,
    parse_contact_id,
    signal_of,
)
from device_gateway.protocol.model import Battery, Heartbeat, Power, PowerState, Press
from device_gateway.transports.dc09 import device_id_for, event_of
from tests import dc09_sender

HEX = "0123456789ABCDEF"
NOW = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)

messages = st.builds(
    Dc09Message,
    token=st.sampled_from(["ADM-CID", "SIA-DCS", "NULL"]),
    seq=st.text(HEX, min_size=4, max_size=4),
    account=st.text(HEX, min_size=3, max_size=16),
    data=st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="[]"), max_size=60
    ),
    receiver=st.none() | st.text(HEX, min_size=1, max_size=6),
    line=st.none() | st.text(HEX, min_size=1, max_size=6),
    timestamp=st.none() | st.just("08:30:00,11-24-2026"),
)


def test_crc_is_crc16_arc() -> None:
    # The standard check value of CRC-16/ARC.
    assert crc16(b"123456789") == 0xBB3D


@given(messages)
def test_round_trip(message: Dc09Message) -> None:
    assert decode_frame(encode_message(message)) == message


@given(messages, st.data())
def test_any_corrupted_byte_is_a_nak_never_another_exception(
    message: Dc09Message, data: st.DataObject
) -> None:
    frame = bytearray(encode_message(message))
    at = data.draw(st.integers(1, len(frame) - 2))  # inside LF … CR
    # The CRC and length fields are hex, read in either case: "E" for "e" is no corruption.
    same = {frame[at], ord(chr(frame[at]).swapcase())} if at <= 8 else {frame[at]}
    new = data.draw(st.integers(0, 255).filter(lambda b: b not in same))
    frame[at] = new
    with pytest.raises(Dc09Error) as caught:
        decode_frame(bytes(frame))
    assert caught.value.answer in (Token.NAK, Token.DUH)


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_dc09_error(data: bytes) -> None:
    with contextlib.suppress(Dc09Error):
        decode_frame(data)


@given(st.lists(st.binary(max_size=80), max_size=10))
def test_splitter_never_raises_and_keeps_frames_whole(chunks: list[bytes]) -> None:
    splitter = FrameSplitter(max_bytes=64)
    for chunk in chunks:
        for piece in splitter.feed(chunk):
            assert isinstance(piece, Dc09Error) or (piece[:1] == b"\n" and piece[-1:] == b"\r")


def test_splitter_cuts_frames_split_across_reads() -> None:
    frame = dc09_sender.contact_id(1, "1234", "1101")
    splitter = FrameSplitter()
    assert splitter.feed(b"noise" + frame[:10]) == []
    assert splitter.feed(frame[10:] + frame) == [frame, frame]


def test_spec_encoder_frames_decode() -> None:
    frame = dc09_sender.block("ADM-CID", 17, "1234", "#1234|1101 01 015", receiver="1A", line="2")
    message = decode_frame(frame)
    assert (message.token, message.seq, message.account) == ("ADM-CID", "0017", "1234")
    assert (message.receiver, message.line, message.data) == ("1A", "2", "#1234|1101 01 015")


def test_encrypted_and_unknown_ids_are_duh_echoing_the_message() -> None:
    for token in ("*ADM-CID", "FOO"):
        frame = dc09_sender.block(token, 5, "1234", "x")
        with pytest.raises(Dc09Error) as caught:
            decode_frame(frame)
        assert caught.value.answer is Token.DUH
        assert caught.value.message is not None and caught.value.message.seq == "0005"


def test_answers_match_what_pysiaalarm_would_send() -> None:
    # pysiaalarm is an independent receiver: it parses the frame and builds its own ACK.
    frame = dc09_sender.contact_id(42, "1234", "1101")
    theirs = SIAEvent.from_line(frame.decode().strip("\n\r"), {"1234": SIAAccount("1234")})
    assert theirs.valid_message
    assert (theirs.code, theirs.sia_code is not None) == ("QA", True)  # 101 → SIA QA
    assert encode_answer(Token.ACK, decode_frame(frame)) == theirs.create_response()


def test_nak_names_no_account_and_carries_the_receiver_time() -> None:
    nak = encode_nak(NOW)
    assert nak.endswith(b'"NAK"0000R0L0A0[]_08:30:00,11-24-2026\r')
    assert dc09_sender.answer_id(nak) == "NAK"


def test_contact_id_parsing() -> None:
    assert parse_contact_id("#1234|1101 01 015") == parse_contact_id("1101 01 015")
    assert parse_contact_id("#1234|3301 00 000") is not None
    assert parse_contact_id("#1234|1101 1 15") is None


@pytest.mark.parametrize(
    ("token", "data", "signal"),
    [
        ("ADM-CID", "#1234|1101 01 015", Signal.EMERGENCY),
        ("ADM-CID", "#1234|1100 01 015", Signal.EMERGENCY),
        ("ADM-CID", "#1234|1302 00 000", Signal.BATTERY_LOW),
        ("ADM-CID", "#1234|3302 00 000", Signal.BATTERY_OK),
        ("ADM-CID", "#1234|1301 00 000", Signal.POWER_LOST),
        ("ADM-CID", "#1234|3301 00 000", Signal.POWER_RESTORED),
        ("ADM-CID", "#1234|1602 00 000", Signal.ALIVE),
        ("ADM-CID", "#1234|1130 01 003", None),  # burglary: not the service's business
        ("SIA-DCS", "#1234|Nri1/MA501", Signal.EMERGENCY),
        ("SIA-DCS", "#1234|NRP", Signal.ALIVE),
        ("SIA-DCS", "#1234|Nri0/AT", Signal.POWER_LOST),
        ("NULL", "", Signal.ALIVE),
    ],
)
def test_signals(token: str, data: str, signal: Signal | None) -> None:
    assert signal_of(Dc09Message(token=token, seq="0001", account="1234", data=data)) == signal


def test_events_are_keyed_by_account_day_and_sequence() -> None:
    base = Dc09Message(token="ADM-CID", seq="0042", account="12ab", data="#12AB|1101 01 015")
    press = event_of(base, NOW)
    assert isinstance(press, Press) and press.button == "sos"
    assert (press.device_id, press.boot, press.seq) == ("dc09-12AB", 20261124, 0x42)
    assert device_id_for("12ab") == "dc09-12AB"
    low = event_of(replace(base, data="#12AB|1302 00 000"), NOW)
    assert isinstance(low, Battery) and low.level < 20
    lost = event_of(replace(base, data="#12AB|1301 00 000"), NOW)
    assert isinstance(lost, Power) and lost.state is PowerState.LOST
    assert isinstance(event_of(replace(base, data="#12AB|1602 00 000"), NOW), Heartbeat)
    assert event_of(replace(base, data="#12AB|1130 00 000"), NOW) is None
