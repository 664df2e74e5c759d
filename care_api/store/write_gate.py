"""One writer at a time on a SQLite file: queued in the process, not polled by SQLite.

SQLite lets one connection write at a time; the others wait in its busy handler, which
sleeps 1, 2, 5 … 100 ms between tries and so sleeps through releases. With the gateway, the
ladders and the sender writing from threads of one process, at 100 emergencies a second
(`vnh bench`, SQLite) the sender's writes waited up to 1.25 s for the lock and the gateway's
up to 0.74 s, on a machine with a core to spare. Here a connection takes its file's gate
before the statement that opens its write transaction, and gives it back at the commit or
rollback: the next writer is woken at once, presses first. SQLite's busy handler still
guards against writers in other processes (`vnh` commands, a second service).
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

# A waiter of a lower rank is served as the highest once it has waited this long: the
# gateway writing back to back must not starve the timers or an operator's click.
AGING_S = 0.05
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_LEADING = re.compile(r"(\s+|--[^\n]*\n?|/\*.*?\*/)*", re.DOTALL)
_OPENS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN"})
_SCHEMA = frozenset({"CREATE", "DROP", "ALTER"})
_local = threading.local()


@lru_cache(maxsize=4096)
def may_write(sql: str) -> bool:
    """Whether `sql` may write: sqlite3 opens a transaction before it, or it writes itself."""
    body = sql[_LEADING.match(sql).end() :]  # type: ignore[union-attr]
    word = body[:10].split(None, 1)[0].upper() if body.strip() else ""
    word = word.split("(", 1)[0]
    if word in _OPENS or word in _SCHEMA:
        return True
    return word == "WITH" and _WRITES.search(body) is not None


@contextmanager
def writes_first(rank: int) -> Iterator[None]:
    """This thread's write transactions queue at `rank` meanwhile (higher goes first)."""
    before = getattr(_local, "rank", 0)
    _local.rank = max(before, rank)
    try:
        yield
    finally:
        _local.rank = before


@dataclass(order=True)
class _Ticket:
    rank: int
    serial: int
    since: float = field(compare=False)


class WriteGate:
    """A fair lock handed from writer to writer, highest rank first, the oldest among equals."""

    def __init__(self, *, monotonic: Any = time.monotonic) -> None:  # noqa: ANN401
        self._changed = threading.Condition()
        self._owner: _Ticket | None = None
        self._waiting: list[_Ticket] = []
        self._serial = itertools.count()
        self._monotonic = monotonic

    @property
    def waiting(self) -> int:
        """How many writers wait for the gate now."""
        with self._changed:
            return len(self._waiting)

    def acquire(self, timeout_s: float, rank: int = 0) -> bool:
        """Take the gate within `timeout_s`; False when it stayed taken."""
        now = self._monotonic()
        with self._changed:
            ticket = _Ticket(rank, next(self._serial), now)
            if self._owner is None and not self._waiting:
                self._owner = ticket
                return True
            self._waiting.append(ticket)
            deadline = now + timeout_s
            while self._owner is not ticket:
                left = deadline - self._monotonic()
                if left <= 0:
                    self._waiting.remove(ticket)
                    return False
                self._changed.wait(left)
            return True

    def release(self) -> None:
        """Hand the gate to the next waiter, if any."""
        with self._changed:
            if not self._waiting:
                self._owner = None
                return
            now = self._monotonic()
            top = max(t.rank for t in self._waiting)

            def order(t: _Ticket) -> tuple[int, int]:
                aged = now - t.since >= AGING_S
                return (-(top if aged else t.rank), t.serial)

            chosen = min(self._waiting, key=order)
            self._waiting.remove(chosen)
            self._owner = chosen
            self._changed.notify_all()


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def gate_for(database: str) -> WriteGate:
    """The process's one gate for the SQLite file at `database`."""
    key = str(Path(database).resolve())
    with _gates_lock:
        return _gates.setdefault(key, WriteGate())


class GatedConnection(sqlite3.Connection):
    """A sqlite3 connection whose write transactions pass its file's `WriteGate` first."""

    gate: WriteGate
    timeout_s: float

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self._holds = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]  # noqa: ANN401
        """A cursor whose statements pass the gate (sqlite3's `execute` comes here too)."""
        return super().cursor(factory or GatedCursor)

    def before(self, sql: str) -> None:
        """Take the gate before a statement that may start writing."""
        if self._holds or self.in_transaction or not may_write(sql):
            return
        if not self.gate.acquire(self.timeout_s, getattr(_local, "rank", 0)):
            raise sqlite3.OperationalError("database is locked")
        self._holds = True

    def after(self) -> None:
        """Give the gate back once no transaction is open (autocommit, or a failed begin)."""
        if self._holds and not self.in_transaction:
            self._holds = False
            self.gate.release()

    def commit(self) -> None:
        """Commit, then let the next writer in."""
        try:
            super().commit()
        finally:
            self.after()

    def rollback(self) -> None:
        """Roll back, then let the next writer in."""
        try:
            super().rollback()
        finally:
            self.after()

    def close(self) -> None:
        """Close; a transaction still open ends with it, and so does the hold."""
        try:
            super().close()
        finally:
            if self._holds:
                self._holds = False
                self.gate.release()


class GatedCursor(sqlite3.Cursor):
    """Runs each statement between its connection's `before` and `after`."""

    connection: GatedConnection

    def execute(self, sql: str, parameters: Any = (), /) -> Self:  # noqa: ANN401
        """As sqlite3's, through the gate."""
        self.connection.before(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection.after()

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:  # noqa: ANN401
        """As sqlite3's, through the gate."""
        self.connection.before(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            self.connection.after()


def gated_connection_class(database: str, timeout_s: float) -> type[GatedConnection]:
    """The `factory` for sqlite3.connect that gates writes to `database`."""
    return type(
        "GatedConnection",
        (GatedConnection,),
        {"gate": gate_for(database), "timeout_s": timeout_s},
    )
