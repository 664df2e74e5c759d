"""Alarm storms: many terminals of one area reporting the same technical trouble at once.

A district blackout makes every terminal there say `power lost` within seconds. Told one by
one, that is a device case and a family SMS per terminal while the technicians need one
line: what, where, how many, since when. The rule here is pure: which areas storm, given
the recent technical signals and how many terminals each area holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Scope(StrEnum):
    """What kind of area an incident covers."""

    DISTRICT = "district"
    HUB = "hub"  # the terminals behind one serial hub line
    ALL = "all"  # the whole fleet


class Trouble(StrEnum):
    """The technical troubles that storm together."""

    POWER_LOST = "power_lost"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Area:
    """One district, one hub, or the whole fleet (`name` empty)."""

    scope: Scope
    name: str = ""

    @property
    def key(self) -> str:
        """A short stable key, e.g. "district:Huangpu"."""
        return f"{self.scope}:{self.name}"


ALL = Area(Scope.ALL)


@dataclass(frozen=True, slots=True)
class Signal:
    """One terminal's technical trouble, where it sits and when it was heard."""

    device_id: str
    trouble: Trouble
    at: datetime
    district: str = ""
    hub: str = ""

    def areas(self) -> list[Area]:
        """The areas the terminal belongs to, narrowest first."""
        return areas_of(self.district, self.hub)


def areas_of(district: str, hub: str) -> list[Area]:
    """The areas of a terminal in `district` behind `hub` ("" for none), narrowest first."""
    found = [Area(Scope.DISTRICT, district)] if district else []
    if hub:
        found.append(Area(Scope.HUB, hub))
    return [*found, ALL]


@dataclass(frozen=True, slots=True)
class StormRule:
    """When signals become an incident (defaults: 20 terminals or 5 % within 2 minutes)."""

    window_s: int = 120
    terminals: int = 20
    share: float = 0.05
    # A 5 % share of a small district is one or two terminals: never fewer than this.
    floor: int = 5
    close_share: float = 0.8  # this share of its terminals back closes an incident
    followup_s: int = 1800  # after the close, a terminal still down gets its own case
    # A trouble while others of its district or hub have one too may be a storm's start:
    # its device case waits this long (0: never waits).
    hold_s: int = 60
    # A lone mains power loss may be the first terminal of a blackout: its case waits this
    # long, so that terminal texts no family either (0: it opens at once). A lone silence
    # does not wait: it was already silent for three heartbeat intervals.
    settle_s: int = 30

    def wait_s(self, trouble: Trouble, *, others: bool) -> int:
        """How long a trouble's device case waits for a storm (0: it opens at once)."""
        if others:
            return self.hold_s
        return self.settle_s if trouble is Trouble.POWER_LOST else 0

    def threshold(self, area: Area, size: int) -> int:
        """How many distinct terminals of `area` (holding `size`) make a storm.

        The whole fleet storms on its share only (20 silent terminals spread over a city
        are 20 separate troubles), never below `terminals`.
        """
        by_share = math.ceil(self.share * size)
        if area.scope is Scope.ALL:
            return max(self.terminals, by_share)
        return max(1, min(self.terminals, max(self.floor, by_share)))


@dataclass(frozen=True, slots=True)
class Storm:
    """An area whose terminals storm: which, since when, and what trouble most of them have."""

    area: Area
    trouble: Trouble
    terminals: frozenset[str]
    since: datetime

    @property
    def count(self) -> int:
        """Distinct terminals in the storm."""
        return len(self.terminals)


def find_storms(
    signals: Iterable[Signal], sizes: Mapping[Area, int], rule: StormRule, now: datetime
) -> list[Storm]:
    """The areas with at least their threshold of distinct terminals in the window, widest last.

    Signals older than `rule.window_s` before `now`, or later than `now`, count for
    nothing; an area missing from `sizes` holds just the terminals heard from.
    """
    start = now - timedelta(seconds=rule.window_s)
    seen: dict[Area, dict[str, Signal]] = {}
    for signal in signals:
        if not start <= signal.at <= now:
            continue
        for area in signal.areas():
            first = seen.setdefault(area, {}).get(signal.device_id)
            if first is None or signal.at < first.at:
                seen[area][signal.device_id] = signal
    storms = []
    for area, by_device in seen.items():
        size = max(sizes.get(area, 0), len(by_device))
        if len(by_device) < rule.threshold(area, size):
            continue
        troubles = [s.trouble for s in by_device.values()]
        storms.append(
            Storm(
                area=area,
                trouble=max(Trouble, key=troubles.count),
                terminals=frozenset(by_device),
                since=min(s.at for s in by_device.values()),
            )
        )
    order = list(Scope)
    return sorted(storms, key=lambda s: (order.index(s.area.scope), s.area.name))


def may_close(terminals: int, back: int, close_share: float) -> bool:
    """True when enough of an incident's terminals are back (power restored, heard again)."""
    return terminals > 0 and back >= math.ceil(close_share * terminals)
