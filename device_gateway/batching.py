"""Cutting what a worker took from its inbox into runs of presses, recorded one commit a run."""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from device_gateway.ports import Inbound
from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.json_codec import decode_uplink
from device_gateway.protocol.model import Press
from device_gateway.protocol.topics import UP_LEAF, parse_topic

# Presses a worker records in one transaction. A commit costs about as much as several
# presses, so a burst goes through in few commits; a lone press is not kept waiting.
BATCH_MAX = 200


@dataclass
class PressRun:
    """Consecutive MQTT presses, decoded, in the order they came."""

    presses: list[tuple[Press, Inbound]] = field(default_factory=list)

    @property
    def items(self) -> list[Inbound]:
        """The messages of the run."""
        return [item for _, item in self.presses]


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


def split_presses(items: Sequence[Inbound]) -> Iterator[PressRun | Inbound]:
    """Runs of presses, and every other item alone, keeping the order of `items`.

    Order matters per device (a cancel must not overtake its press), so a run ends at the
    first item that is not a press. Anything that does not decode is passed on alone, for
    the one-by-one path to answer it.
    """
    run = PressRun()
    for item in items:
        press = _as_press(item)
        if press is None:
            if run.presses:
                yield run
                run = PressRun()
            yield item
        else:
            run.presses.append((press, item))
    if run.presses:
        yield run


def _as_press(item: Inbound) -> Press | None:
    if item.transport.source != "mqtt":
        return None
    parsed = parse_topic(item.topic)
    if parsed is None or parsed[1] != UP_LEAF:
        return None
    try:
        event = decode_uplink(parsed[0], item.payload)
    except FrameError:
        return None
    return event if isinstance(event, Press) else None
