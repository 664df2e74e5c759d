"""Rules of the terminal fleet, pure: when a terminal is silent, when its battery crossed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from care_api.domain.errors import InvalidInput
from care_api.domain.texts import Msg

DEFAULT_HEARTBEAT_S = 300  # PROTOCOL.md
HEARTBEAT_MISSES = 3  # silent for this many of its own intervals: offline
LOW_BATTERY_PERCENT = 20  # below it is low; back above it resets the crossing
MIN_HEARTBEAT_S = 1
MAX_HEARTBEAT_S = 86_400


class Problem(StrEnum):
    """What can be wrong with a terminal; all of them share one device case."""

    OFFLINE = "offline"
    BATTERY_LOW = "battery low"
    POWER_LOST = "power lost"


class BatteryChange(StrEnum):
    """What a battery reading means for the low-battery flag."""

    CROSSED_LOW = "crossed_low"  # was fine, now below 20 %: one case per crossing
    RECOVERED = "recovered"  # was low, now above 20 %: the flag resets


def silent_since(heartbeat_s: int, now: datetime) -> datetime:
    """A terminal last heard before this moment has missed HEARTBEAT_MISSES beats."""
    return now - timedelta(seconds=HEARTBEAT_MISSES * heartbeat_s)


def is_silent(last_seen_at: datetime | None, heartbeat_s: int, now: datetime) -> bool:
    """True when a terminal heard from at all has been quiet for 3 of its intervals."""
    return last_seen_at is not None and last_seen_at < silent_since(heartbeat_s, now)


def battery_change(was_low: bool, level: int) -> BatteryChange | None:
    """Whether `level` crosses the threshold given the flag; None while it stays on its side.

    Exactly 20 % changes nothing either way: low is below 20, recovered is above it.
    """
    if level < LOW_BATTERY_PERCENT and not was_low:
        return BatteryChange.CROSSED_LOW
    if level > LOW_BATTERY_PERCENT and was_low:
        return BatteryChange.RECOVERED
    return None


def check_heartbeat_s(value: object) -> int:
    """A valid heartbeat interval in whole seconds, or ValueError saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(
            Msg("heartbeat_s must be a number of seconds, got {value}", value=repr(value))
        )
    seconds = int(value)
    if seconds != value or not MIN_HEARTBEAT_S <= seconds <= MAX_HEARTBEAT_S:
        raise InvalidInput(
            f"heartbeat_s must be a whole number from {MIN_HEARTBEAT_S} to {MAX_HEARTBEAT_S}"
        )
    return seconds


def describe_duration(span: timedelta) -> str:
    """A span for people: "45 s", "17 min 30 s", "2 h 5 min", "3 d 4 h"."""
    total = max(0, int(span.total_seconds()))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{seconds} s"


class PositionSource(StrEnum):
    """How a terminal found where it is."""

    GPS = "gps"
    WIFI = "wifi"
    CELL = "cell"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class DevicePosition:
    """Where a terminal says it is: `at` its own time, `fix` whether GPS had a fix."""

    at: datetime
    lat: float
    lon: float
    fix: bool
    source: PositionSource


def is_newer_position(known_at: datetime | None, candidate: DevicePosition) -> bool:
    """True when `candidate` replaces the position known as of `known_at`.

    A resent alarm carries the time it was raised: it must not move the elder back to
    where they were before a later position report.
    """
    return known_at is None or candidate.at >= known_at
