"""Intake first: background work steps aside for a moment while presses wait for their ack."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# How long background work waits for the intake to go quiet before it goes ahead anyway.
# Short, so that under a sustained load alerts still run at least this often per thread.
YIELD_MAX_S = 0.02


class IntakePriority:
    """Lets the alerts' threads wait while the gateway records presses.

    One process shares one interpreter lock and (on SQLite) one database writer; a burst of
    new cases queues ladder steps and messages that would otherwise interleave with the
    acks still owed. The ack is what the elder waits for; a message a few ms later is not.
    """

    def __init__(self) -> None:
        self._busy = 0
        self._lock = threading.Lock()
        self._quiet = threading.Event()
        self._quiet.set()

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark the intake busy for the duration (reentrant across worker threads)."""
        with self._lock:
            self._busy += 1
            self._quiet.clear()
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                if self._busy == 0:
                    self._quiet.set()

    def step_aside(self, max_s: float = YIELD_MAX_S) -> bool:
        """Wait until the intake is quiet, at most `max_s`; True if it was quiet."""
        return self._quiet.wait(max_s)
