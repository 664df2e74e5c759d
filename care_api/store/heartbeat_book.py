"""Heartbeats kept in memory, the latest per terminal, and written to device rows in batches.

100,000 terminals beating every 300 s are 333 heartbeats a second. Written one transaction
each (a `device_event` row and a `device` update) they would be most of the database's
work; here intake records each in a dict, and `HeartbeatFlusher` writes the dict every few
seconds as one transaction of `executemany` UPDATEs. A heartbeat that changes something
(a terminal back from an outage, a battery crossing 20 %) is still written at once by
intake; only the routine "still alive" news waits for the flush.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, bindparam, case, func, or_, update
from sqlalchemy.exc import OperationalError

from care_api.store.background import Background
from care_api.store.tables import Device
from care_api.store.types import UtcDateTime
from care_api.store.uow import SqlUnitOfWork, UowFactory

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 5.0  # well under the 3 × 300 s a terminal may stay silent
FLUSH_MAX_ENTRIES = 20_000  # a flush starts early once this many terminals wait
FLUSH_CHUNK_ROWS = 5_000  # rows per executemany call, all in one transaction
STOP_JOIN_S = 10.0

_DEVICE = Device.metadata.tables["device"]
_SEEN = bindparam("b_seen", type_=UtcDateTime())
_C = _DEVICE.c
# Never moves last_seen_at back: a press written directly may be newer than a buffered beat.
_WRITE_BEATS = (
    update(_DEVICE)
    .where(_C.device_id == bindparam("b_device", type_=String()))
    .values(
        last_seen_at=case(
            (or_(_C.last_seen_at.is_(None), _C.last_seen_at < _SEEN), _SEEN),
            else_=_C.last_seen_at,
        ),
        battery=func.coalesce(bindparam("b_battery", type_=Integer()), _C.battery),
        rssi=func.coalesce(bindparam("b_rssi", type_=Integer()), _C.rssi),
        fw=func.coalesce(bindparam("b_fw", type_=String()), _C.fw),
    )
)


@dataclass(frozen=True, slots=True)
class Beat:
    """The latest heartbeat of one terminal: when it came and what it said."""

    seen_at: datetime
    battery: int | None = None
    rssi: int | None = None
    fw: str | None = None


class HeartbeatBook:
    """The latest heartbeat per terminal, waiting to be written; safe from any thread."""

    def __init__(self, *, max_entries: int = FLUSH_MAX_ENTRIES) -> None:
        self._beats: dict[str, Beat] = {}
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._max_entries = max_entries
        self.recorded = 0
        self.written = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._beats)

    def record(self, device_id: str, beat: Beat) -> None:
        """Keep `beat` as the terminal's latest unless a later one is already kept."""
        with self._lock:
            kept = self._beats.get(device_id)
            if kept is None or kept.seen_at <= beat.seen_at:
                self._beats[device_id] = beat
            self.recorded += 1
            if len(self._beats) >= self._max_entries:
                self._due.set()

    def latest(self, device_id: str) -> Beat | None:
        """The beat waiting for `device_id`, if any."""
        with self._lock:
            return self._beats.get(device_id)

    def discard(self, device_id: str) -> None:
        """Forget the waiting beat: the device row was just written with newer facts."""
        with self._lock:
            self._beats.pop(device_id, None)

    def flush(self, uow_factory: UowFactory) -> int:
        """Write every waiting beat in one transaction; returns how many rows it updated.

        On failure the beats go back (behind any newer ones recorded meanwhile) and the
        error propagates; the next flush tries again.
        """
        with self._lock:
            beats, self._beats = self._beats, {}
            self._due.clear()
        if not beats:
            return 0
        try:
            with uow_factory() as uow:
                write_beats(uow, beats)
                uow.commit()
        except BaseException:
            self._put_back(beats)
            raise
        with self._lock:
            self.written += len(beats)
        return len(beats)

    def wait_due(self, timeout: float) -> bool:
        """Block until the book is full enough to flush (or `wake`); False on timeout."""
        return self._due.wait(timeout)

    def wake(self) -> None:
        """Make `wait_due` return now."""
        self._due.set()

    def _put_back(self, beats: Mapping[str, Beat]) -> None:
        with self._lock:
            for device_id, beat in beats.items():
                kept = self._beats.get(device_id)
                if kept is None or kept.seen_at < beat.seen_at:
                    self._beats[device_id] = beat


def write_beats(uow: SqlUnitOfWork, beats: Mapping[str, Beat]) -> None:
    """UPDATE the device rows of `beats` inside `uow`'s transaction, in chunks."""
    rows = [
        {
            "b_device": device_id,
            "b_seen": beat.seen_at,
            "b_battery": beat.battery,
            "b_rssi": beat.rssi,
            "b_fw": beat.fw,
        }
        for device_id, beat in beats.items()
    ]
    connection = uow.session.connection()
    for start in range(0, len(rows), FLUSH_CHUNK_ROWS):
        connection.execute(_WRITE_BEATS, rows[start : start + FLUSH_CHUNK_ROWS])


class HeartbeatFlusher:
    """Flushes a book every `interval_s`, or sooner when it fills; flushes once more on stop."""

    def __init__(
        self, book: HeartbeatBook, uow_factory: UowFactory, *, interval_s: float = FLUSH_INTERVAL_S
    ) -> None:
        self._book = book
        self._uow_factory = uow_factory
        self._interval_s = interval_s
        self._thread = Background("vnh-heartbeats", self._run, join_s=STOP_JOIN_S, wake=book.wake)

    def start(self) -> None:
        """Start the flushing thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last flush, so no heartbeat recorded before is lost."""
        self._thread.stop()

    def _run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            self._book.wait_due(self._interval_s)
            self._flush_once()
        self._flush_once()

    def _flush_once(self) -> None:
        try:
            written = self._book.flush(self._uow_factory)
        except OperationalError as exc:
            # The database is away or locked: the beats wait in memory for the next try.
            log.warning("heartbeat flush postponed: %s", exc)
        except Exception:
            log.exception("heartbeat flush failed; kept for the next try")
        else:
            if written:
                log.debug("heartbeats flushed: %d terminals", written)
