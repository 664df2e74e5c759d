"""Intake first: background work steps aside while presses wait for their ack."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# A burst is over once the gateway has had nothing to do for this long. Its inbox runs
# empty for a moment between the runs of one burst (a terminal's press is still on the
# wire); a ladder step started in such a gap holds the interpreter for milliseconds while
# the rest of the burst waits for its acks.
CALM_S = 0.015
# How long background work waits for the calm before it goes ahead anyway: under a
# sustained load every alerts thread still gets a unit of work through this often.
YIELD_MAX_S = 0.05
# How long a run of background work waits, before each of its transactions, for a press
# batch being recorded to be over: about one batch, so that a long run (a hundred "pressed
# again" notices after a burst) neither starts a write while presses wait for the one SQLite
# writer nor stops for good under a press rate that never lets the intake rest.
LET_THROUGH_MAX_S = 0.02


def calm_needed(busy: int, last_busy_at: float, now: float, calm_s: float) -> float:
    """Seconds until the intake counts as calm: 0 when it is, infinite while it works."""
    if busy:
        return math.inf
    return max(0.0, last_busy_at + calm_s - now)


class IntakePriority:
    """Lets the alerts' threads and the case news wait while the gateway records presses.

    One process shares one interpreter lock and (on SQLite) one database writer; a burst of
    new cases queues ladder steps and messages that would otherwise interleave with the
    acks still owed. The ack is what the elder waits for; a message 50 ms later is not.
    """

    def __init__(
        self, *, calm_s: float = CALM_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._busy = 0
        self._last_busy_at = -math.inf
        self._calm_s = calm_s
        self._monotonic = monotonic
        self._changed = threading.Condition()

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark the intake busy for the duration (reentrant across worker threads)."""
        with self._changed:
            self._busy += 1
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._last_busy_at = self._monotonic()
                self._changed.notify_all()

    def step_aside(self, max_s: float = YIELD_MAX_S) -> bool:
        """Wait until the intake is calm, at most `max_s`; True if it was calm."""
        deadline = self._monotonic() + max_s
        with self._changed:
            while True:
                now = self._monotonic()
                needed = calm_needed(self._busy, self._last_busy_at, now, self._calm_s)
                if needed <= 0:
                    return True
                if now >= deadline:
                    return False
                self._changed.wait(min(deadline - now, needed))

    def let_through(self, max_s: float = LET_THROUGH_MAX_S) -> bool:
        """Wait while the intake records presses, at most `max_s`; True if it was idle.

        Unlike `step_aside`, no calm is waited for: between the units of one run of
        background work, the press batch being recorded goes first, then the run goes on.
        """
        deadline = self._monotonic() + max_s
        with self._changed:
            while self._busy:
                left = deadline - self._monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True
