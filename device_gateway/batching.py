"""Cutting what a worker took from its inbox into runs of presses or heartbeats."""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from device_gateway.ports import Decoded, Inbound
from device_gateway.protocol.model import Heartbeat, Press

# Presses a worker records in one transaction. A commit costs about as much as several
# presses, so a burst goes through in few commits; a lone press is not kept waiting.
BATCH_MAX = 200


@dataclass
class Run:
    """Consecutive events of one batchable type (presses, or heartbeats), decoded, in order."""

    type: type[Press] | type[Heartbeat]
    events: list[tuple[Press | Heartbeat, Inbound]] = field(default_factory=list)

    @property
    def items(self) -> list[Inbound]:
        """The messages of the run."""
        return [item for _, item in self.events]


def take_batch(
    inbox: queue.Queue[Inbound], first: Inbound, limit: int = BATCH_MAX
) -> list[Inbound]:
    """`first` and whatever else waits in `inbox` right now, up to `limit` items; never blocks."""
    items = [first]
    while len(items) < limit:
        try:
            items.append(inbox.get_nowait())
        except queue.Empty:
            break
    return items


def split_runs(
    items: Sequence[tuple[Inbound, Decoded]],
) -> Iterator[Run | tuple[Inbound, Decoded]]:
    """Runs of presses or of heartbeats, and every other item alone, keeping the order.

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


def _as_batchable(decoded: Decoded) -> Press | Heartbeat | None:
    if decoded.position is not None or decoded.fall_window_s is not None:
        return None
    event = decoded.event
    return event if isinstance(event, Press | Heartbeat) else None
