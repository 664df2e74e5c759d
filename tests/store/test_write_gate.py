"""SQLite: the process's writers queue at the file's gate, presses first, none starved.

SQLite's own busy handler sleeps between tries (up to 100 ms) and slept through releases:
at 100 emergencies a second a sender's write waited 1.25 s for the lock. The gate hands the
lock from writer to writer instead; these tests check who gets it, and that a transaction's
end (commit, rollback, error) always lets the next one in.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from care_api.store.db import make_engine
from care_api.store.write_gate import WriteGate, gate_for, may_write, writes_first

WAIT_S = 10.0


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _until(condition: Callable[[], bool]) -> None:
    """Wait for another thread to reach a state (not for time to pass)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


def _queue_waiter(gate: WriteGate, name: str, rank: int, got: queue.Queue[str]) -> None:
    before = gate.waiting

    def wait() -> None:
        assert gate.acquire(WAIT_S, rank)
        got.put(name)

    threading.Thread(target=wait, daemon=True).start()
    _until(lambda: gate.waiting == before + 1)


def _served(gate: WriteGate, got: queue.Queue[str], n: int) -> list[str]:
    order = []
    for _ in range(n):
        gate.release()
        order.append(got.get(timeout=WAIT_S))
    gate.release()
    return order


@pytest.mark.parametrize(
    ("sql", "writes"),
    [
        ("SELECT * FROM cases", False),
        ("PRAGMA wal_checkpoint(PASSIVE)", False),
        ("WITH due AS (SELECT id FROM timer) SELECT * FROM due", False),
        ("INSERT INTO case_event (case_id) VALUES (?)", True),
        ("  update timer SET claimed_by = ?", True),
        ("/* a note */ DELETE FROM timer", True),
        ("-- why\nREPLACE INTO t VALUES (1)", True),
        ("WITH due AS (SELECT id FROM timer) UPDATE timer SET x = 1", True),
        ("CREATE TABLE t (x)", True),
    ],
)
def test_a_statement_passes_the_gate_when_it_may_write(sql: str, writes: bool) -> None:
    assert may_write(sql) is writes


def test_the_gate_serves_the_highest_rank_first_then_in_arrival_order() -> None:
    gate = WriteGate(monotonic=ManualClock())
    got: queue.Queue[str] = queue.Queue()
    assert gate.acquire(0.0)
    _queue_waiter(gate, "timer", 0, got)
    _queue_waiter(gate, "press", 2, got)
    _queue_waiter(gate, "api", 0, got)
    _queue_waiter(gate, "alert", 1, got)
    assert _served(gate, got, 4) == ["press", "alert", "timer", "api"]


def test_a_writer_that_waited_long_enough_goes_before_a_newer_higher_rank() -> None:
    clock = ManualClock()
    gate = WriteGate(monotonic=clock)
    got: queue.Queue[str] = queue.Queue()
    assert gate.acquire(0.0)
    _queue_waiter(gate, "timer", 0, got)
    clock.now = 0.05
    _queue_waiter(gate, "press", 2, got)
    assert _served(gate, got, 2) == ["timer", "press"]


def test_a_writer_gives_up_after_its_timeout_and_leaves_the_queue() -> None:
    gate = WriteGate()
    assert gate.acquire(0.0)
    assert not gate.acquire(0.0)
    assert gate.waiting == 0
    gate.release()
    assert gate.acquire(0.0)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    yield engine
    engine.dispose()


def _gate(engine: Engine) -> WriteGate:
    return gate_for(str(engine.url.database))


def test_a_second_writer_waits_for_the_first_commit_and_readers_do_not(engine: Engine) -> None:
    holding = threading.Event()
    commit = threading.Event()
    second_done = threading.Event()

    def first() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            assert commit.wait(WAIT_S)

    def second() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(WAIT_S)
    threads[1].start()
    _until(lambda: _gate(engine).waiting == 1)
    with engine.connect() as reader:  # a read does not queue behind the writer
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    assert not second_done.is_set()
    commit.set()
    for thread in threads:
        thread.join(WAIT_S)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]


def test_a_failed_write_and_its_rollback_let_the_next_writer_in(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))

    def twice() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (3)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))

    with pytest.raises(IntegrityError):
        twice()
    assert _gate(engine).acquire(0.0)  # nobody holds it
    _gate(engine).release()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [1]


def test_a_thread_marked_first_queues_ahead_of_the_others(engine: Engine) -> None:
    gate = _gate(engine)
    assert gate.acquire(0.0)  # as if a writer held it
    order: queue.Queue[str] = queue.Queue()

    def write(name: str, value: int, rank: int) -> None:
        with writes_first(rank), engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
            order.put(name)

    for name, value, rank in [("timer", 1, 0), ("press", 2, 2)]:
        threading.Thread(target=write, args=(name, value, rank), daemon=True).start()
        _until(lambda n=value: gate.waiting == n)
    gate.release()
    assert [order.get(timeout=WAIT_S), order.get(timeout=WAIT_S)] == ["press", "timer"]
