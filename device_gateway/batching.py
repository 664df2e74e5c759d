"""Cutting what a worker took from its inbox into runs of presses or heartbeats."""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from device_gateway.ports import Decoded, Inbound
from device_gateway.protocol.model import Heartbeat, Power, Press

# Presses a worker records in one transaction. A commit costs about as much as several
# presses, so a burst goes through in few commits; a lone press is not kept waiting.
BATCH_MAX = 200
# Technical events taken at a time, recorded in one transaction where they can be (a storm's
# `power lost` of terminals an incident already holds, and their `power restored`); the
# urgent lane is looked at again between each batch, so a press waits for at most one.
# 25 such reports take about as long as a few presses (`vnh bench storm`), and still go
# through far faster than a storm sends them.
ROUTINE_BATCH_MAX = 25


def is_urgent(item: Inbound) -> bool:
    """True for what a person waits on (presses, falls, SOS, cancels); False for the rest.

    The item's own transport tells, at a glance in its own protocol (`Transport.urgent`).
    """
    return item.transport.urgent(item)


class PriorityInbox:
    """A worker's inbox with two lanes: urgent items are always taken before routine ones.

    Order is kept within a lane, so a cancel never overtakes its press; a press may
    overtake the power or battery reports queued before it, which is the point. A full
    inbox refuses routine items at `maxsize` and urgent ones only at twice that.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._urgent: deque[Inbound] = deque()
        self._routine: deque[Inbound] = deque()
        self._ready = threading.Condition()

    def put_nowait(self, item: Inbound, urgent: bool) -> None:
        """Queue `item` in its lane; raises queue.Full when the inbox is full."""
        with self._ready:
            size = len(self._urgent) + len(self._routine)
            if size >= self.maxsize * (2 if urgent else 1):
                raise queue.Full
            (self._urgent if urgent else self._routine).append(item)
            self._ready.notify()

    def get(self, timeout: float) -> tuple[Inbound, bool]:
        """The next item and whether it is urgent, urgent first; raises queue.Empty."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while not (self._urgent or self._routine):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise queue.Empty
                self._ready.wait(left)
            if self._urgent:
                return self._urgent.popleft(), True
            return self._routine.popleft(), False

    def take(self, urgent: bool, limit: int) -> list[Inbound]:
        """Up to `limit` items of one lane waiting now; never blocks."""
        lane = self._urgent if urgent else self._routine
        with self._ready:
            return [lane.popleft() for _ in range(min(limit, len(lane)))]

    @property
    def urgent_waiting(self) -> bool:
        """True when an urgent item waits."""
        return bool(self._urgent)

    def qsize(self) -> int:
        """Items waiting in both lanes."""
        return len(self._urgent) + len(self._routine)

    def empty(self) -> bool:
        """True when nothing waits."""
        return self.qsize() == 0


@dataclass
class Run:
    """Consecutive events of one batchable type (presses, heartbeats, power), in order."""

    type: type[Press] | type[Heartbeat] | type[Power]
    events: list[tuple[Press | Heartbeat | Power, Inbound]] = field(default_factory=list)

    @property
    def items(self) -> list[Inbound]:
        """The messages of the run."""
        return [item for _, item in self.events]


def split_runs(
    items: Sequence[tuple[Inbound, Decoded]],
) -> Iterator[Run | tuple[Inbound, Decoded]]:
    """Runs of presses, of heartbeats or of power reports, every other item alone, in order.

    Order matters per device (a cancel must not overtake its press), so a run ends at the
    first item of another type. Whatever asks more of intake than a plain report (a
    position to keep first, a presence flag, a fall window of its own) goes alone.
    """
    run: Run | None = None
    for item, decoded in items:
        event = _as_batchable(decoded)
        if run is not None and (event is None or type(event) is not run.type):
            yield run
            run = None
        if event is None:
            yield item, decoded
            continue
        if run is None:
            run = Run(type(event))
        run.events.append((event, item))
    if run is not None:
        yield run


def _as_batchable(decoded: Decoded) -> Press | Heartbeat | Power | None:
    if decoded.position is not None or decoded.fall_window_s is not None:
        return None
    event = decoded.event
    return event if isinstance(event, Press | Heartbeat | Power) else None
