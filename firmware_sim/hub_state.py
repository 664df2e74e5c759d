"""What a serial hub keeps per terminal, and the counters it reports."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from firmware_sim import wire
from firmware_sim.pending import PendingEvent

COUNTERS = (
    "sent",  # events created
    "resends",  # retransmissions of a line with the same (boot, seq)
    "accepted",
    "duplicate",
    "rejected",
    "naks",  # $NAK lines received (ones naming an in-flight event end it)
    "lost",  # events given up after MAX_RESENDS unanswered resends
    "dropped_replies",  # replies thrown away on purpose (drop_next_replies)
    "extra_replies",  # replies naming no line in flight, or unreadable
)


@dataclass(frozen=True)
class HubStats:
    """Counters over every terminal of the hub since it started."""

    terminals: int
    sent: int
    resends: int
    accepted: int
    duplicate: int
    rejected: int
    naks: int
    lost: int
    dropped_replies: int
    extra_replies: int
    pending: int

    def as_dict(self) -> dict[str, Any]:
        """The figures as a plain dict."""
        return asdict(self)

    def summary(self) -> str:
        """One line for a live display."""
        return "  ".join(f"{k} {v}" for k, v in self.as_dict().items())


@dataclass
class HubTerminal:
    """One terminal behind the hub: its counters and its lines waiting or in flight."""

    device_id: str
    boot: int
    seq: int = 0
    next_heartbeat_at: float = float("inf")
    queue: deque[PendingEvent] = field(default_factory=deque)
    inflight: PendingEvent | None = None
    tries: int = 0  # transmissions of the line in flight

    def add_event(self, event_type: str, fields: Mapping[str, object]) -> PendingEvent:
        """Queue the terminal's next event (next seq, device time attached)."""
        line = wire.encode_line(
            self.device_id, self.boot, self.seq, event_type, {"ts": _device_time(), **fields}
        )
        event = PendingEvent(
            self.device_id, self.boot, self.seq, event_type, line, time.monotonic()
        )
        self.seq += 1
        self.queue.append(event)
        return event


def _device_time() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
