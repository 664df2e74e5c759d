"""Field rules of PROTOCOL.md shared by the wire models: limits, predicates, reason texts."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, TypeVar

from device_gateway.protocol.errors import FrameError

COUNTER_MAX = 2**31 - 1
DEVICE_ID_MAX_CHARS = 64
BUTTON_MAX_CHARS = 32
MAX_TEXT_CHARS = 256
PERCENT_MAX = 100
# Wide on purpose: a heartbeat rejected over an odd modem reading would look like a dead device.
RSSI_MIN_DBM = -255
RSSI_MAX_DBM = 255

COUNTER_RULE = f"an integer 0..{COUNTER_MAX}"
PERCENT_RULE = f"an integer 0..{PERCENT_MAX}"
TEXT_RULE = f"a string of at most {MAX_TEXT_CHARS} characters without control characters"
NAME_RULE = f"a non-empty string of at most {MAX_TEXT_CHARS} characters without control characters"
DEVICE_ID_RULE = f"1-{DEVICE_ID_MAX_CHARS} characters of A-Z a-z 0-9 _ -"
BUTTON_RULE = f"1-{BUTTON_MAX_CHARS} characters of A-Z a-z 0-9 _ -"

_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")
# Control characters could break serial framing, PostgreSQL refuses NUL, and lone
# surrogates cannot be written as UTF-8.
_BAD_TEXT_RE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")

_E = TypeVar("_E", bound=StrEnum)


def is_token(value: object, max_chars: int) -> bool:
    """True when `value` is 1 to `max_chars` characters of A-Z a-z 0-9 _ -."""
    if not isinstance(value, str) or len(value) > max_chars:
        return False
    return _TOKEN_RE.fullmatch(value) is not None


def is_device_id(value: object) -> bool:
    """True when `value` is a device id: 1–64 characters of A-Z a-z 0-9 _ -."""
    return is_token(value, DEVICE_ID_MAX_CHARS)


def is_counter(value: object) -> bool:
    """True when `value` is a `boot` / `seq` number: an int (never a bool) in 0 … 2^31-1."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= COUNTER_MAX


def is_int_in(value: object, low: int, high: int) -> bool:
    """True when `value` is an int (never a bool) in `low` … `high`."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_text(value: object, *, allow_empty: bool = True) -> bool:
    """True when `value` is a string of at most MAX_TEXT_CHARS without control characters."""
    return (
        isinstance(value, str)
        and (allow_empty or value != "")
        and len(value) <= MAX_TEXT_CHARS
        and _BAD_TEXT_RE.search(value) is None
    )


def enum_member(enum: type[_E], value: object) -> _E | None:
    """The member of `enum` whose value is the string `value`, else None."""
    if not isinstance(value, str):
        return None
    try:
        return enum(value)
    except ValueError:
        return None


def reason_for(name: str, value: object, rule: str) -> str:
    """The reason text for field `name` holding a bad `value` ("… is required" when None)."""
    return f"{name} is required" if value is None else f"{name} must be {rule}"


def choices(enum: type[StrEnum]) -> str:
    """'one of a, b, c' for the values of `enum`."""
    return "one of " + ", ".join(member.value for member in enum)


def check_key(device_id: object, boot: object, seq: object) -> None:
    """Raise FrameError unless `(device_id, boot, seq)` is a valid event key.

    The error carries each of the three that is valid on its own.
    """
    if is_device_id(device_id) and is_counter(boot) and is_counter(seq):
        return
    if not is_device_id(device_id):
        reason = reason_for("device_id", device_id, DEVICE_ID_RULE)
    elif not is_counter(boot):
        reason = reason_for("boot", boot, COUNTER_RULE)
    else:
        reason = reason_for("seq", seq, COUNTER_RULE)
    readable: dict[str, Any] = {
        "device_id": device_id if is_device_id(device_id) else None,
        "boot": boot if is_counter(boot) else None,
        "seq": seq if is_counter(seq) else None,
    }
    raise FrameError(reason, **readable)
