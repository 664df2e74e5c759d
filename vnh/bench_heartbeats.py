"""`vnh bench heartbeats`: what a round of heartbeats from N terminals costs, batched or not.

Both runs go through `intake.record_device_report`, as the gateway calls it after decoding
(decoding is excluded: the codec belongs to the gateway, and it costs the same either way):

- batched: the gateway's path, with the HeartbeatBook; the book is flushed whenever it holds
  FLUSH_MAX_ENTRIES terminals, as the flusher would, and once at the end;
- in runs: the same book, but the terminals' rows read once per run of RUN_SIZE heartbeats
  (`record_heartbeats`), what a pipeline handing heartbeats over in runs would cost;
- baseline: one `device_event` row and one `device` update per heartbeat, as before.

CPU is `time.process_time()`, wall is `time.perf_counter()`; memory is what the book holds
for N terminals (tracemalloc, in a separate pass so that tracing does not slow the timed
runs) and the process's peak RSS. Figures are scaled to 100,000 terminals.
"""

from __future__ import annotations

import logging
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import insert

from care_api.domain.clock import Clock
from care_api.domain.model import DeviceReport, EventKey, ReportType
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.heartbeat_book import FLUSH_MAX_ENTRIES, Beat, HeartbeatBook
from care_api.store.tables import Device, Elder
from care_api.usecases.intake.heartbeats import record_heartbeats
from care_api.usecases.intake.reports import record_device_report

log = logging.getLogger(__name__)

PER = 100_000
DEFAULT_BASELINE = 10_000  # one row per beat is slow: measured on this many, then scaled
SEED_CHUNK = 5_000
RUN_SIZE = 100  # heartbeats a pipeline would hand over at once
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RunFigures:
    """One timed run over `terminals` heartbeats."""

    terminals: int
    cpu_s: float
    wall_s: float

    @property
    def cpu_per_100k_s(self) -> float:
        """CPU seconds scaled to 100,000 terminals."""
        return self.cpu_s * PER / self.terminals

    @property
    def wall_per_100k_s(self) -> float:
        """Wall seconds scaled to 100,000 terminals."""
        return self.wall_s * PER / self.terminals


@dataclass(frozen=True, slots=True)
class HeartbeatFigures:
    """Everything the bench measured."""

    database: str
    batched: RunFigures
    in_runs: RunFigures
    baseline: RunFigures
    book_bytes: int  # what the book holds for `batched.terminals` terminals
    peak_rss_bytes: int

    @property
    def book_bytes_per_100k(self) -> float:
        """The book's memory scaled to 100,000 terminals."""
        return self.book_bytes * PER / self.batched.terminals


class _SteppingClock:
    """Real time is not needed: each heartbeat comes a little after the last one."""

    def __init__(self) -> None:
        self._now = START

    def now(self) -> datetime:
        self._now += timedelta(microseconds=1)
        return self._now


def _device_id(i: int) -> str:
    return f"HB{i:07d}"


def seed_terminals(services: Services, count: int) -> None:
    """One elder and `count` terminals bound to it, online, as after a first heartbeat."""
    with services.uow() as uow:
        elder = Elder(name="Bench", phone="+8613800000000", created_at=START)
        uow.session.add(elder)
        uow.session.flush()
        table = Device.metadata.tables["device"]
        for first in range(0, count, SEED_CHUNK):
            rows = [
                {
                    "device_id": _device_id(i),
                    "elder_id": elder.id,
                    "secret_hash": "bench",
                    "status": "active",
                    "online": True,
                    "battery": 90,
                    "last_seen_at": START,
                    "created_at": START,
                    "heartbeat_s": 300,
                    "battery_low": False,
                    "power_lost": False,
                }
                for i in range(first, min(count, first + SEED_CHUNK))
            ]
            uow.session.execute(insert(table), rows)
        uow.commit()


def _beat(i: int, boot: int) -> DeviceReport:
    return DeviceReport(
        EventKey(_device_id(i), boot, 1),
        ReportType.HEARTBEAT,
        {"battery": 88, "rssi": -70, "fw": "1.4.2"},
    )


def _timed(run: Callable[[], None], terminals: int) -> RunFigures:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return RunFigures(terminals, time.process_time() - cpu, time.perf_counter() - wall)


def run_batched(services: Services, terminals: int) -> RunFigures:
    """Every terminal beats once through the book; flushed as the flusher would."""
    book = HeartbeatBook()

    def run() -> None:
        for i in range(terminals):
            record_device_report(
                services.uow, _beat(i, 1), now=services.clock.now(), tz=services.tz, heartbeats=book
            )
            if len(book) >= FLUSH_MAX_ENTRIES:
                book.flush(services.uow)
        book.flush(services.uow)

    return _timed(run, terminals)


def run_in_runs(services: Services, terminals: int) -> RunFigures:
    """Every terminal beats once, RUN_SIZE heartbeats to a read of their rows."""
    book = HeartbeatBook()

    def run() -> None:
        for first in range(0, terminals, RUN_SIZE):
            reports = [_beat(i, 3) for i in range(first, min(terminals, first + RUN_SIZE))]
            record_heartbeats(services.uow, reports, book, now=services.clock.now(), tz=services.tz)
            if len(book) >= FLUSH_MAX_ENTRIES:
                book.flush(services.uow)
        book.flush(services.uow)

    return _timed(run, terminals)


def run_baseline(services: Services, terminals: int) -> RunFigures:
    """Every terminal beats once, written as a row each (no book)."""

    def run() -> None:
        for i in range(terminals):
            record_device_report(
                services.uow, _beat(i, 2), now=services.clock.now(), tz=services.tz
            )

    return _timed(run, terminals)


def book_memory(terminals: int) -> int:
    """Bytes a book holds for `terminals` terminals' latest beats (ids included)."""
    ids = [_device_id(i) for i in range(terminals)]  # the gateway has these strings anyway
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        book = HeartbeatBook(max_entries=terminals + 1)
        for device_id in ids:
            book.record(device_id, Beat(START, 88, -70, "1.4.2"))
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def measure(
    terminals: int, *, database_url: str | None = None, baseline_terminals: int | None = None
) -> HeartbeatFigures:
    """Seed a fresh database, run both paths, and return the figures."""
    baseline_n = min(terminals, baseline_terminals or DEFAULT_BASELINE)
    with tempfile.TemporaryDirectory(prefix="vnh-bench-hb-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
        clock: Clock = _SteppingClock()
        services = build_services(settings, clock=clock)
        try:
            seed_terminals(services, terminals)
            batched = run_batched(services, terminals)
            in_runs = run_in_runs(services, terminals)
            baseline = run_baseline(services, baseline_n)
        finally:
            services.close()
    kind = url.split(":", 1)[0].split("+", 1)[0]
    return HeartbeatFigures(
        database=kind,
        batched=batched,
        in_runs=in_runs,
        baseline=baseline,
        book_bytes=book_memory(terminals),
        peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )


def report_lines(figures: HeartbeatFigures) -> list[str]:
    """The figures as lines of text, per 100,000 terminals."""
    runs = {
        "batched (HeartbeatBook, the gateway's path)": figures.batched,
        f"batched, rows read per run of {RUN_SIZE} (record_heartbeats)": figures.in_runs,
        "one row per heartbeat (baseline)": figures.baseline,
    }
    base = figures.baseline.cpu_per_100k_s
    lines = [
        f"heartbeats, one from each terminal, {figures.database}; decode excluded; "
        "figures per 100,000 terminals (at one heartbeat per 300 s: 333 a second)"
    ]
    for name, run in runs.items():
        ratio = base / max(run.cpu_per_100k_s, 1e-9)
        lines.append(
            f"  {name}, {run.terminals} measured: CPU {run.cpu_per_100k_s:.2f} s, "
            f"wall {run.wall_per_100k_s:.2f} s, {run.cpu_per_100k_s / 300 * 100:.1f} % of a "
            f"core; baseline CPU x{ratio:.1f}"
        )
    mib = 1024 * 1024
    lines.append(
        f"  book memory: {figures.book_bytes_per_100k / mib:.1f} MiB; "
        f"process peak RSS {figures.peak_rss_bytes / mib:.0f} MiB"
    )
    return lines


def bench_heartbeats(
    terminals: Annotated[
        int, typer.Option(min=1, help="Terminals, each sending one heartbeat.")
    ] = PER,
    baseline_terminals: Annotated[
        int,
        typer.Option(min=1, help="Terminals for the one-row-per-heartbeat run (then scaled)."),
    ] = DEFAULT_BASELINE,
    database_url: Annotated[
        str | None,
        typer.Option(help="Database to bench on (default: a temporary SQLite file)."),
    ] = None,
) -> None:
    """Measure heartbeats batched in memory against one row per heartbeat."""
    figures = measure(terminals, database_url=database_url, baseline_terminals=baseline_terminals)
    for line in report_lines(figures):
        typer.echo(line)
