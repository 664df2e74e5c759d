import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.model import (
    Ack,
    AckStatus,
    Boot,
    CmdResult,
    Fall,
    Heartbeat,
    Nak,
    Pattern,
    Press,
    WireEvent,
)
from device_gateway.protocol.nmea_codec import (
    MAX_LINE_BYTES,
    LineSplitter,
    checksum,
    decode_line,
    decode_reply,
    encode_ack,
    encode_event,
    encode_nak,
)
from firmware_sim import wire
from tests.unit.protocol.wire_strategies import acks, device_ids, events, naks

PROTOCOL_EXAMPLES = [
    b"$VNH,T1001,7,42,press,pattern=long*21",
    b"$VNH,T1001,7,43,heartbeat,battery=88,rssi=-71*11",
    b"$ACK,T1001,7,42,accepted,case=C-20261122-0001*6C",
]


def line(body: str) -> bytes:
    """A well-formed line around `body`, with the right checksum."""
    raw = body.encode()
    return b"$" + raw + b"*" + checksum(raw).encode() + b"\r\n"


def reject(data: bytes) -> FrameError:
    with pytest.raises(FrameError) as caught:
        decode_line(data)
    return caught.value


def fitting(event: WireEvent) -> bytes | None:
    """The encoded line, or None when the event is too big for one line."""
    try:
        return encode_event(event)
    except FrameError as error:
        failure = error
    assert failure.reason == "line too long"
    assert (failure.device_id, failure.boot, failure.seq) == (
        event.device_id,
        event.boot,
        event.seq,
    )
    return None


# --- checksums and the protocol's examples ------------------------------------------------------


@pytest.mark.parametrize("example", PROTOCOL_EXAMPLES)
def test_nmea_codec_protocol_example_checksums_hold(example: bytes) -> None:
    body, _, given_checksum = example[1:].partition(b"*")
    assert checksum(body) == given_checksum.decode()


def test_nmea_codec_checksum_is_the_xor_of_the_body() -> None:
    assert checksum(b"") == "00"
    assert checksum(b"A") == "41"
    assert checksum(b"AB") == f"{0x41 ^ 0x42:02X}"


@given(st.binary(max_size=300))
def test_nmea_codec_checksum_matches_a_plain_xor(body: bytes) -> None:
    expected = 0
    for byte in body:
        expected ^= byte
    assert checksum(body) == f"{expected:02X}"


def test_nmea_codec_decodes_and_reencodes_the_protocol_examples() -> None:
    press = decode_line(PROTOCOL_EXAMPLES[0] + b"\r\n")
    assert press == Press(device_id="T1001", boot=7, seq=42, pattern=Pattern.LONG)
    heartbeat = decode_line(PROTOCOL_EXAMPLES[1])
    assert heartbeat == Heartbeat(device_id="T1001", boot=7, seq=43, battery=88, rssi=-71)
    assert encode_event(press) == PROTOCOL_EXAMPLES[0] + b"\r\n"
    assert encode_event(heartbeat) == PROTOCOL_EXAMPLES[1] + b"\r\n"
    ack = decode_reply(PROTOCOL_EXAMPLES[2])
    assert ack == Ack(
        device_id="T1001", boot=7, seq=42, status=AckStatus.ACCEPTED, case="C-20261122-0001"
    )
    assert encode_ack(ack) == PROTOCOL_EXAMPLES[2] + b"\r\n"


# --- decoding -----------------------------------------------------------------------------------


def test_nmea_codec_accepts_lines_with_or_without_line_end_and_lowercase_checksum() -> None:
    example = PROTOCOL_EXAMPLES[0]
    expected = decode_line(example)
    assert decode_line(example + b"\r\n") == expected
    assert decode_line(example + b"\n") == expected
    assert decode_line(
        b"$VNH,T1,1,2,heartbeat,fw=a*" + checksum(b"VNH,T1,1,2,heartbeat,fw=a").lower().encode()
    ) == Heartbeat(device_id="T1", boot=1, seq=2, fw="a")


def test_nmea_codec_percent_decodes_values() -> None:
    event = decode_line(line("VNH,T1,1,2,cmd_result,ref=a%2Cb,ok=1,detail=%E2%9C%93 50%25%3D"))
    assert event == CmdResult(device_id="T1", boot=1, seq=2, ref="a,b", ok=True, detail="✓ 50%=")


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("false", False), ("1", True), ("0", False)]
)
def test_nmea_codec_reads_booleans(text: str, value: bool) -> None:
    event = decode_line(line(f"VNH,T1,1,2,cmd_result,ref=r,ok={text}"))
    assert isinstance(event, CmdResult)
    assert event.ok is value


def test_nmea_codec_reads_numbers_per_field() -> None:
    assert decode_line(line("VNH,T1,1,2,fall,confidence=0.75")) == Fall(
        device_id="T1", boot=1, seq=2, confidence=0.75
    )
    assert decode_line(line("VNH,T1,1,2,fall,confidence=1")) == Fall(
        device_id="T1", boot=1, seq=2, confidence=1.0
    )
    # Numbers in text fields stay text.
    assert decode_line(line("VNH,T1,1,2,boot,fw=2")) == Boot(device_id="T1", boot=1, seq=2, fw="2")


def test_nmea_codec_ignores_unknown_fields_even_malformed_ones() -> None:
    event = decode_line(line("VNH,T1,1,2,press,pattern=triple,colour=%ZZ,seq=99"))
    assert event == Press(device_id="T1", boot=1, seq=2, pattern=Pattern.TRIPLE)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"$" + b"A" * 251 + b"*00\r\n", "line too long"),
        (b"VNH,T1,1,2,boot*00", "line must start with $"),
        (b"$VNH,T1,1,2,boot", "missing checksum"),
        (b"$VNH,T1,1,2,boot*4", "missing checksum"),
        (b"$VNH,T1,1,2,boot*00", "bad checksum"),
        (b"$VNH,T1,1,2,boot*ZZ", "bad checksum"),
        (line("VNH,T1,1,2,boot,fw=é"), "line must be ASCII"),
        (line("GPGGA,1,2"), "unknown sentence 'GPGGA'"),
        (line("ACK,T1,1,2,accepted"), "unknown sentence 'ACK'"),
    ],
)
def test_nmea_codec_rejects_bad_lines_without_naming_an_event(data: bytes, reason: str) -> None:
    error = reject(data)
    assert error.reason == reason
    assert (error.device_id, error.boot, error.seq) == (None, None, None)


def test_nmea_codec_line_of_exactly_256_bytes_is_accepted() -> None:
    body = "VNH,T1,1,2,boot,fw="
    data = line(body + "x" * (MAX_LINE_BYTES - len(line(body))))
    assert len(data) == MAX_LINE_BYTES
    assert isinstance(decode_line(data), Boot)
    assert reject(line(body + "x" * (MAX_LINE_BYTES - len(line(body)) + 1))).reason == (
        "line too long"
    )


@pytest.mark.parametrize(
    ("body", "reason", "key"),
    [
        ("VNH,T1,7,42", "missing fields", ("T1", 7, 42)),
        ("VNH,T1,7", "missing fields", ("T1", 7, None)),
        ("VNH,T1,7,42,reboot", "unknown type 'reboot'", ("T1", 7, 42)),
        ("VNH,T1,7,42,", "unknown type ''", ("T1", 7, 42)),
        ("VNH,T1,7,x42,boot", "seq must be an integer 0..2147483647", ("T1", 7, None)),
        ("VNH,T1,7,2147483648,boot", "seq must be an integer 0..2147483647", ("T1", 7, None)),
        ("VNH,T1,-1,42,boot", "boot must be an integer 0..2147483647", ("T1", None, 42)),
        ("VNH,T 1,7,42,boot", "device_id must be 1-64 characters", (None, 7, 42)),
        ("VNH,,7,42,boot", "device_id must be 1-64 characters", (None, 7, 42)),
        ("VNH,T1,7,42,boot,fw", "field 'fw' must be key=value", ("T1", 7, 42)),
        ("VNH,T1,7,42,boot,fw=%G0", "bad percent-encoding in fw", ("T1", 7, 42)),
        ("VNH,T1,7,42,boot,fw=%FF", "bad percent-encoding in fw", ("T1", 7, 42)),
        ("VNH,T1,7,42,press", "pattern is required", ("T1", 7, 42)),
        ("VNH,T1,7,42,press,pattern=LONG", "pattern must be one of", ("T1", 7, 42)),
        ("VNH,T1,7,42,heartbeat,battery=abc", "battery must be an integer 0..100", ("T1", 7, 42)),
        ("VNH,T1,7,42,heartbeat,battery=1_0", "battery must be an integer 0..100", ("T1", 7, 42)),
        ("VNH,T1,7,42,battery,level=", "level must be an integer 0..100", ("T1", 7, 42)),
        ("VNH,T1,7,42,fall,confidence=nan", "confidence must be a number 0..1", ("T1", 7, 42)),
        ("VNH,T1,7,42,fall,confidence=2", "confidence must be a number 0..1", ("T1", 7, 42)),
        ("VNH,T1,7,42,cmd_result,ref=r,ok=yes", "ok must be a boolean", ("T1", 7, 42)),
        ("VNH,T1,7,42,cmd_result,ok=true", "ref is required", ("T1", 7, 42)),
        ("VNH,T1,7,42,power,state=off", "state must be one of lost, restored", ("T1", 7, 42)),
        ("VNH,T1,7,42,boot,fw=%0A", "fw must be a string", ("T1", 7, 42)),
    ],
)
def test_nmea_codec_rejects_bad_fields_naming_what_was_read(
    body: str, reason: str, key: tuple[str | None, int | None, int | None]
) -> None:
    error = reject(line(body))
    assert error.reason.startswith(reason)
    assert (error.device_id, error.boot, error.seq) == key


# --- encoding and replies -----------------------------------------------------------------------


def test_nmea_codec_percent_encodes_reserved_and_non_ascii_characters() -> None:
    event = Boot(device_id="T1", boot=1, seq=2, fw="v1,*=$%é")
    assert encode_event(event).startswith(b"$VNH,T1,1,2,boot,fw=v1%2C%2A%3D%24%25%C3%A9*")


def test_nmea_codec_encodes_booleans_and_floats_readably() -> None:
    event = CmdResult(device_id="T1", boot=1, seq=2, ref="r", ok=False)
    assert encode_event(event).startswith(b"$VNH,T1,1,2,cmd_result,ref=r,ok=false*")
    fall = Fall(device_id="T1", boot=1, seq=2, confidence=0.5)
    assert encode_event(fall).startswith(b"$VNH,T1,1,2,fall,confidence=0.5*")


def test_nmea_codec_refuses_to_encode_a_line_that_is_too_long() -> None:
    event = Boot(device_id="T" * 64, boot=1, seq=2, fw="%" * 100)
    with pytest.raises(FrameError, match="line too long"):
        encode_event(event)


def test_nmea_codec_encodes_acks_with_case_and_reason() -> None:
    ack = Ack(device_id="T1", boot=7, seq=42, status=AckStatus.REJECTED, reason="device retired")
    assert encode_ack(ack) == line("ACK,T1,7,42,rejected,reason=device retired")
    heartbeat_ack = Ack(device_id="T1", boot=7, seq=43, status=AckStatus.ACCEPTED)
    assert encode_ack(heartbeat_ack) == line("ACK,T1,7,43,accepted")


def test_nmea_codec_serial_ack_needs_boot_and_seq() -> None:
    ack = Ack(device_id="T1", boot=None, seq=None, status=AckStatus.REJECTED, reason="bad")
    with pytest.raises(ValueError, match=r"\$NAK"):
        encode_ack(ack)


def test_nmea_codec_encodes_naks_with_dashes_for_unknown_parts() -> None:
    assert encode_nak(Nak(reason="bad checksum")) == line("NAK,-,-,-,bad checksum")
    error = reject(line("VNH,T1,7,42,reboot"))
    assert encode_nak(Nak.from_error(error)) == line("NAK,T1,7,42,unknown type 'reboot'")
    assert encode_nak(Nak(device_id="T1", reason="a,b")) == line("NAK,T1,-,-,a%2Cb")


def test_nmea_codec_nak_for_device_named_dash_reads_as_unknown() -> None:
    # PROTOCOL.md allows the device id "-", which a $NAK also uses for "unknown".
    reply = decode_reply(encode_nak(Nak(device_id="-", boot=1, seq=2, reason="x")))
    assert reply == Nak(device_id=None, boot=1, seq=2, reason="x")


def test_nmea_codec_cuts_long_reasons_to_fit_the_line() -> None:
    nak = Nak(device_id="T" * 64, boot=2**31 - 1, seq=2**31 - 1, reason="é,x" * 80)
    data = encode_nak(nak)
    assert len(data) <= MAX_LINE_BYTES
    reply = decode_reply(data)
    assert isinstance(reply, Nak)
    assert nak.reason.startswith(reply.reason)
    assert len(reply.reason) > 20


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (line("VNH,T1,1,2,boot"), "not an $ACK or $NAK line"),
        (line("NAK,-,-,-"), "not an $ACK or $NAK line"),
        (line("ACK,T1,1,2,fine"), "status must be one of accepted, duplicate, rejected"),
        (line("ACK,T1,-,-,rejected,reason=x"), "boot must be an integer"),
        (line("NAK,-,-,-,%ZZ"), "bad percent-encoding in reason"),
        (b"$ACK,T1,1,2,accepted*00", "bad checksum"),
    ],
)
def test_nmea_codec_refuses_bad_replies(data: bytes, reason: str) -> None:
    with pytest.raises(FrameError) as caught:
        decode_reply(data)
    assert caught.value.reason.startswith(reason)


# --- line splitting -----------------------------------------------------------------------------


def test_nmea_codec_splitter_skips_noise_and_accepts_crlf_and_lf() -> None:
    splitter = LineSplitter()
    out = splitter.feed(b"\x00garbage\r\n$A*41\r\nnoise$B*42\n\r\n$C")
    assert out == [b"$A*41", b"$B*42"]
    assert splitter.feed(b"*43\r") == []
    assert splitter.feed(b"\n") == [b"$C*43"]


def test_nmea_codec_splitter_reports_a_long_line_once_and_recovers() -> None:
    splitter = LineSplitter()
    out = splitter.feed(b"$" + b"x" * 300)
    assert [type(item) for item in out] == [FrameError]
    assert out[0].reason == "line too long"  # type: ignore[union-attr]
    assert splitter.feed(b"y" * 10_000_000) == []
    assert splitter.feed(b"zz\r\n$OK*00\r\n") == [b"$OK*00"]


def test_nmea_codec_splitter_long_line_ends_at_the_next_dollar() -> None:
    out = LineSplitter().feed(b"$" + b"x" * 300 + b"$OK*00\r\n")
    assert len(out) == 2
    assert isinstance(out[0], FrameError)
    assert out[1] == b"$OK*00"


def test_nmea_codec_splitter_line_limit_counts_the_crlf() -> None:
    longest = b"$" + b"x" * (MAX_LINE_BYTES - 3)
    splitter = LineSplitter()
    assert splitter.feed(longest + b"\r\n") == [longest]
    out = splitter.feed(longest + b"x\r\n")
    assert len(out) == 1
    assert isinstance(out[0], FrameError)
    assert out[0].reason == "line too long"


def test_nmea_codec_splitter_reports_a_line_cut_short_by_a_new_dollar() -> None:
    out = LineSplitter().feed(b"$VNH,T1,1,2,pre$A*41\r\n")
    assert len(out) == 2
    assert isinstance(out[0], FrameError)
    assert out[0].reason == "unterminated line"
    assert out[1] == b"$A*41"


def test_nmea_codec_splitter_skips_unbounded_noise_without_dollar() -> None:
    splitter = LineSplitter()
    for _ in range(10):
        assert splitter.feed(b"noise " * 200_000) == []
    assert splitter.feed(b"$A*41\n") == [b"$A*41"]


noise = st.binary(max_size=20).map(lambda data: data.replace(b"$", b"").replace(b"\n", b""))


@given(
    st.lists(st.tuples(events(max_text=12), noise, st.sampled_from([b"\r\n", b"\n"])), max_size=5),
    st.data(),
)
def test_nmea_codec_splitter_gives_the_same_lines_for_any_chunking(
    items: list[tuple[WireEvent, bytes, bytes]], data: st.DataObject
) -> None:
    expected: list[bytes] = []
    stream = b""
    for event, garbage, ending in items:
        encoded = fitting(event)
        if encoded is None:
            continue
        expected.append(encoded[:-2])
        stream += garbage + encoded[:-2] + ending
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    splitter = LineSplitter()
    out: list[bytes | FrameError] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += splitter.feed(stream[start:end])
    assert out == expected
    assert [decode_line(item) for item in expected] == [
        event for event, _, _ in items if fitting(event) is not None
    ]


@given(st.lists(st.binary(max_size=400), max_size=6))
def test_nmea_codec_splitter_output_is_bounded_lines_or_errors(chunks: list[bytes]) -> None:
    splitter = LineSplitter()
    for chunk in chunks:
        for item in splitter.feed(chunk):
            if isinstance(item, bytes):
                assert item.startswith(b"$")
                assert len(item) <= MAX_LINE_BYTES - 2
                assert b"\n" not in item
                assert b"$" not in item[1:]
            else:
                assert item.reason in ("line too long", "unterminated line")


# --- properties ---------------------------------------------------------------------------------


@given(events(max_text=16))
def test_nmea_codec_round_trips_every_event(event: WireEvent) -> None:
    encoded = fitting(event)
    if encoded is not None:
        assert len(encoded) <= MAX_LINE_BYTES
        assert encoded.endswith(b"\r\n")
        assert encoded[:-2].isascii()
        assert decode_line(encoded) == event


@given(device_ids, st.integers(0, 2**31 - 1), st.text(max_size=120))
def test_nmea_codec_round_trips_fw_text_at_the_device_id_limit(
    device_id: str, seq: int, fw: str
) -> None:
    fw = "".join(char for char in fw if char.isprintable())
    event = Boot(device_id=device_id, boot=2**31 - 1, seq=seq, fw=fw)
    encoded = fitting(event)
    if encoded is not None:
        assert decode_line(encoded) == event


@given(events(max_text=12), st.data())
def test_nmea_codec_never_accepts_a_flipped_checksum(event: WireEvent, data: st.DataObject) -> None:
    encoded = fitting(event)
    if encoded is None:
        return
    body = encoded[1:-5]
    wrong = data.draw(st.integers(0, 255).filter(lambda value: f"{value:02X}" != checksum(body)))
    with pytest.raises(FrameError, match="bad checksum"):
        decode_line(b"$" + body + b"*" + f"{wrong:02X}".encode() + b"\r\n")
    position = data.draw(st.integers(0, len(body) - 1))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(body)
    flipped[position] ^= 1 << bit
    with pytest.raises(FrameError, match="bad checksum"):
        decode_line(b"$" + bytes(flipped) + encoded[-5:])


@given(acks(max_text=20))
def test_nmea_codec_round_trips_acks(ack: Ack) -> None:
    if ack.boot is None or ack.seq is None:
        return
    try:
        encoded = encode_ack(ack)
    except ValueError:
        # Only a case id too long to leave room on the line is refused.
        assert ack.case is not None
        assert len(wire.percent_encode(ack.case)) > 100
        return
    assert len(encoded) <= MAX_LINE_BYTES
    reply = decode_reply(encoded)
    assert isinstance(reply, Ack)
    if reply.reason != ack.reason:
        # Cut to fit: within one percent-encoded character (at most 12 bytes) of the limit.
        assert ack.reason is not None
        assert reply.reason is not None
        assert ack.reason.startswith(reply.reason)
        assert len(encoded) > MAX_LINE_BYTES - 12
    assert replace(reply, reason=ack.reason) == ack


@given(naks(max_text=40))
def test_nmea_codec_round_trips_naks(nak: Nak) -> None:
    encoded = encode_nak(nak)
    assert len(encoded) <= MAX_LINE_BYTES
    reply = decode_reply(encoded)
    assert isinstance(reply, Nak)
    assert (reply.device_id, reply.boot, reply.seq) == (nak.device_id, nak.boot, nak.seq)
    if reply.reason != nak.reason:
        # Cut to fit: within one percent-encoded character (at most 12 bytes) of the limit.
        assert nak.reason.startswith(reply.reason)
        assert len(encoded) > MAX_LINE_BYTES - 12


@given(st.binary(max_size=300))
def test_nmea_codec_arbitrary_bytes_raise_only_frame_errors(data: bytes) -> None:
    for decode in (decode_line, decode_reply):
        with contextlib.suppress(FrameError):
            decode(data)


_fragments = st.sampled_from(
    [
        "VNH",
        "ACK",
        "NAK",
        "T1",
        "-",
        "7",
        "42",
        "2147483648",
        "press",
        "heartbeat",
        "cmd_result",
        "fall",
        "pattern=long",
        "ok=1",
        "ok=maybe",
        "ref=",
        "battery=101",
        "confidence=1e-3",
        "level=%30",
        "%E2%9C",
        "=",
        "fw=%",
        "",
        "state=lost",
        "ts=2026-11-22T08:00:00Z",
    ]
) | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6)


@given(st.lists(_fragments, max_size=9))
def test_nmea_codec_checksummed_fuzz_decodes_or_yields_a_sendable_nak(parts: list[str]) -> None:
    data = line(",".join(parts))
    try:
        event = decode_line(data)
    except FrameError as error:
        nak = encode_nak(Nak.from_error(error))
        assert len(nak) <= MAX_LINE_BYTES
        if error.device_id is not None and error.boot is not None and error.seq is not None:
            rejection = Ack.rejecting(error.device_id, error)
            assert decode_reply(encode_ack(rejection)) == rejection
    else:
        assert decode_line(encode_event(event)) == event
    with contextlib.suppress(FrameError):
        decode_reply(data)


# --- cross-checks with the independent encoder of firmware_sim ----------------------------------


@given(events(max_text=12))
def test_nmea_codec_agrees_with_firmware_sim_both_ways(event: WireEvent) -> None:
    encoded = fitting(event)
    if encoded is None:
        return
    theirs = wire.decode_line(encoded)
    assert (theirs.device_id, theirs.boot, theirs.seq, theirs.type) == (
        event.device_id,
        event.boot,
        event.seq,
        event.TYPE,
    )
    again = wire.encode_line(theirs.device_id, theirs.boot, theirs.seq, theirs.type, theirs.fields)
    assert again == encoded


@given(naks(max_text=30))
def test_nmea_codec_naks_read_the_same_in_firmware_sim(nak: Nak) -> None:
    line = encode_nak(nak)
    ours = decode_reply(line)
    theirs = wire.parse_reply(line)
    assert isinstance(ours, Nak)
    assert not theirs.is_ack
    # A long reason is cut to keep the line within 256 bytes; both readers see the same cut.
    assert nak.reason.startswith(ours.reason)
    assert (theirs.device_id, theirs.boot, theirs.seq, theirs.reason) == (
        nak.device_id,
        nak.boot,
        nak.seq,
        ours.reason,
    )
