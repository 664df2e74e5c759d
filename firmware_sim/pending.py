"""An uplink event waiting for its application ack, and per-terminal counters."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

DoneCallback = Callable[["PendingEvent"], None]


class PendingEvent:
    """One event a terminal sent; resent with the same (boot, seq) until its ack arrives."""

    def __init__(
        self, device_id: str, boot: int, seq: int, event_type: str, payload: bytes, sent_at: float
    ) -> None:
        self.device_id = device_id
        self.boot = boot
        self.seq = seq
        self.type = event_type
        self.payload = payload
        self.sent_at = sent_at  # time.monotonic() of the first send
        self.resends = 0
        self.next_resend_at = sent_at
        self.acked_at: float | None = None
        self._ack: dict[str, Any] | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[DoneCallback] = []

    def __repr__(self) -> str:
        return (
            f"PendingEvent({self.device_id} boot={self.boot} seq={self.seq} {self.type} "
            f"resends={self.resends} ack={self._ack})"
        )

    @property
    def done(self) -> bool:
        """True once an application ack arrived."""
        return self._done.is_set()

    @property
    def ack(self) -> dict[str, Any] | None:
        """The ack as received (`ack`, `boot`, `status`, `case`, `reason`), or None."""
        return self._ack

    @property
    def latency_s(self) -> float | None:
        """Seconds from the first send to the ack, or None while pending."""
        return None if self.acked_at is None else self.acked_at - self.sent_at

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Block until the ack arrives; returns the ack dict, or None on timeout."""
        self._done.wait(timeout)
        return self._ack

    def add_done_callback(self, callback: DoneCallback) -> None:
        """Call `callback(event)` once the ack arrives (at once if it already has)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def settle(self, ack: dict[str, Any], at: float | None = None) -> None:
        """Record the ack and wake waiters; later calls are ignored."""
        with self._lock:
            if self._done.is_set():
                return
            self._ack = ack
            self.acked_at = time.monotonic() if at is None else at
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                log.exception("done callback failed for %r", self)


@dataclass(frozen=True)
class TerminalStats:
    """Counters of one terminal since it was created."""

    sent: int = 0  # events created (first transmissions)
    resends: int = 0  # retransmissions of an event with the same (boot, seq)
    accepted: int = 0  # events settled by an ack of that status
    duplicate: int = 0
    rejected: int = 0
    extra_acks: int = 0  # acks for events already settled, or naming no event of ours
    pending: int = 0  # events still waiting for their ack

    def __add__(self, other: TerminalStats) -> TerminalStats:
        return TerminalStats(
            sent=self.sent + other.sent,
            resends=self.resends + other.resends,
            accepted=self.accepted + other.accepted,
            duplicate=self.duplicate + other.duplicate,
            rejected=self.rejected + other.rejected,
            extra_acks=self.extra_acks + other.extra_acks,
            pending=self.pending + other.pending,
        )
