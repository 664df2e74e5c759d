"""Time as a dependency: the system clock in production, a moved clock in tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
