"""Hypothesis strategies for valid wire events and replies of PROTOCOL.md."""

from __future__ import annotations

from hypothesis import strategies as st

from device_gateway.protocol.model import (
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
)

COUNTER_MAX = 2**31 - 1

device_ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True) | st.from_regex(
    r"[A-Za-z0-9_-]{64}", fullmatch=True
)
counters = st.integers(0, COUNTER_MAX) | st.sampled_from([0, 1, COUNTER_MAX])
buttons = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
# The characters that need percent-encoding on a serial line, mixed into any printable text.
_chars = st.sampled_from(",*=$%") | st.characters(exclude_categories=("Cc", "Cs"))


def texts(*, min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    """Strings the protocol accepts for free-text fields."""
    return st.text(_chars, min_size=min_size, max_size=max_size)


def events(*, max_text: int = 256) -> st.SearchStrategy[WireEvent]:
    """Every wire event type with arbitrary valid field values."""
    text = texts(max_size=max_text)
    name = texts(min_size=1, max_size=max_text)
    key = {
        "device_id": device_ids,
        "boot": counters,
        "seq": counters,
        "ts": st.none() | text,
    }
    percent = st.integers(0, 100)
    return st.one_of(
        st.builds(Press, **key, pattern=st.sampled_from(Pattern), button=buttons),
        st.builds(Cancel, **key, ref_seq=counters),
        st.builds(
            Heartbeat,
            **key,
            battery=st.none() | percent,
            rssi=st.none() | st.integers(-255, 255),
            fw=st.none() | text,
        ),
        st.builds(Battery, **key, level=percent),
        st.builds(Power, **key, state=st.sampled_from(PowerState)),
        st.builds(Fall, **key, confidence=st.none() | st.floats(0, 1)),
        st.builds(Boot, **key, fw=st.none() | text),
        st.builds(CmdResult, **key, ref=name, ok=st.booleans(), detail=st.none() | text),
    )


def acks(*, max_text: int = 256) -> st.SearchStrategy[Ack]:
    """Acks of every status; rejections sometimes without boot / seq."""
    name = texts(min_size=1, max_size=max_text)
    settled = st.builds(
        Ack,
        device_id=device_ids,
        boot=counters,
        seq=counters,
        status=st.sampled_from([AckStatus.ACCEPTED, AckStatus.DUPLICATE]),
        case=st.none() | name,
        reason=st.none() | name,
    )
    rejected = st.builds(
        Ack,
        device_id=device_ids,
        boot=st.none() | counters,
        seq=st.none() | counters,
        status=st.just(AckStatus.REJECTED),
        case=st.none() | name,
        reason=name,
    )
    return settled | rejected


def naks(*, max_text: int = 256) -> st.SearchStrategy[Nak]:
    """Naks naming all, some or none of the event key.

    Device id "-" is left out: PROTOCOL.md allows it, but in a $NAK it reads as "unknown".
    """
    return st.builds(
        Nak,
        device_id=st.none() | device_ids.filter(lambda device_id: device_id != "-"),
        boot=st.none() | counters,
        seq=st.none() | counters,
        reason=texts(min_size=1, max_size=max_text),
    )


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts()
)
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts(), inner, max_size=4),
    max_leaves=10,
)

news = st.builds(
    CaseNews,
    case=texts(min_size=1),
    state=texts(min_size=1),
    say=st.none() | texts(),
)
commands = st.builds(
    Command,
    cmd=st.sampled_from(CommandName),
    id=texts(min_size=1),
    params=st.dictionaries(texts().filter(lambda k: k not in ("cmd", "id")), json_values),
)
