"""Wall, CPU and statements of a new emergency's way to its first Twilio request, per stage.

Run from the repository root: `PYTHONPATH=. .venv/bin/python scripts/measure_first_alert.py
postgres 16 30 [--idle] [--statements] [--profile STAGE]` (KIND: sqlite or postgres, the
latter on $VNH_TEST_PG_DSN; SIZE emergencies opened together, ROUNDS batches). Each round
opens SIZE emergencies in one press batch, then on this one thread: step 0 of their ladders
(`AlertsComponent.handle_opened`), the sender's claim of the rows it wrote (those step 0 did
not claim itself: with `--idle` no event waits behind the batch, so a tree whose step 0 claims
its own alerts does), each claimed message sent through the Twilio adapters to the bench's
stand-in (a child process), and the receipts recorded. No other thread runs meanwhile, so
the figures are the stages' own cost, not their waits; run the script in two worktrees back
to back to compare trees. `--statements` adds each statement's wall time; `--profile claim`
(or step0, send, record) prints cProfile's top functions of that stage.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from alerts.runtime import AlertsComponent
from alerts.sender import CLAIMED_AHEAD
from care_api.domain.events import CaseOpened, DomainEvent
from care_api.services import Services, build_services
from care_api.usecases.intake import batch
from tests.conftest import make_settings
from tests.databases import database_url
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder

WARM_UP = 3
Figures = tuple[float, float, int, int]  # wall ms, CPU ms, statements, commits
STAGES = ("step0", "claim", "send", "record")
_STAND_IN = (
    "import sys, time\n"
    "from vnh.bench_storm import TwilioStandIn\n"
    "s = TwilioStandIn()\n"
    "print(s.base_url, flush=True)\n"
    "sys.stdin.read()\n"
)


class Counted:
    """Statements and transactions on the engine while `on`."""

    def __init__(self, services: Services) -> None:
        self.on = False
        self.statements = 0
        self.commits = 0
        self.timed: dict[str, list[float]] = {}  # statement's first words → wall ms
        self._at = 0.0
        event.listen(services.engine, "before_cursor_execute", self._statement)
        event.listen(services.engine, "after_cursor_execute", self._done)
        event.listen(services.engine, "commit", self._commit)

    def _statement(self, *_: object) -> None:
        if self.on:
            self.statements += 1
        self._at = time.perf_counter()

    def _done(self, _c: object, _cur: object, statement: str, *_: object) -> None:
        if self.on:
            key = f"{self.name}: {' '.join(statement.split()[:4])[:60]}"
            self.timed.setdefault(key, []).append((time.perf_counter() - self._at) * 1000)

    def _commit(self, *_: object) -> None:
        if self.on:
            self.commits += 1

    @contextmanager
    def stage(self, found: dict[str, list[Figures]], name: str) -> Iterator[None]:
        self.statements = self.commits = 0
        self.name = name
        self.on = bool(found)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            self.on = False
            found.setdefault(name, []).append(
                (wall * 1000, cpu * 1000, self.statements, self.commits)
            )


class Submitted:
    """Stands in for the sending threads' pool: keeps what a ladder step handed over itself."""

    def __init__(self) -> None:
        self.claimed: list[tuple[int, Any, int]] = []

    def submit(self, _fn: object, *args: Any) -> None:  # noqa: ANN401 - the pool's signature
        self.claimed.append(args)


def _claim(alerts: AlertsComponent, ids: list[int]) -> list[tuple[int, Any, int]]:
    return list(alerts.sender._claim_batch(ids)) if ids else []


def _send(alerts: AlertsComponent, claimed: list[tuple[int, Any, int]]) -> list[tuple[int, Any]]:
    sent = []
    for notification_id, message, attempts in claimed:
        handed = alerts.sender._hand_over(notification_id, message, attempts)
        if not isinstance(handed, str):
            sent.append((notification_id, handed))
    return sent


def main(kind: str, size: int, rounds: int, profile: str | None, *, idle: bool) -> None:
    """Print per stage: wall and CPU p50 per batch and per emergency, statements, commits."""
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", _STAND_IN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    if child.stdout is None:  # pragma: no cover - asked for above
        raise RuntimeError("no stand-in")
    base_url = child.stdout.readline().strip()
    found: dict[str, list[Figures]] = {}
    profiler = cProfile.Profile()
    try:
        with tempfile.TemporaryDirectory() as tmp, database_url(kind, Path(tmp)) as url:
            settings = make_settings(
                url,
                twilio_account_sid="AC" + "0" * 32,
                twilio_auth_token="secret",  # noqa: S106 - the stand-in's
                twilio_from="+15005550006",
                twilio_api_url=base_url,
                public_url="http://127.0.0.1",
                twilio_sms_per_s=0,
                send_max_per_minute=0,
            )
            services = build_services(settings, clock=FakeClock())
            alerts = AlertsComponent(settings, services)
            alerts.attach()
            opened: list[DomainEvent] = []
            services.bus.subscribe(CaseOpened, opened.append)
            written: list[int] = []
            alerts.sweeper._dispatch = written.extend
            counted = Counted(services)
            try:
                for n in range(size * (rounds + WARM_UP)):
                    seed_elder(services, f"M{n:05d}", contacts=1)
                for r in range(rounds + WARM_UP):
                    opened.clear()
                    written.clear()
                    reports = [press(f"M{r * size + i:05d}", boot=1, seq=1) for i in range(size)]
                    batch.record_presses(
                        services.uow, reports, now=services.clock.now(), tz=services.tz
                    )
                    into = found if r >= WARM_UP else {}
                    if idle:
                        # Nothing waits for the events thread: step 0 may claim its rows.
                        while not alerts._inbox.empty():
                            alerts._inbox.get_nowait()
                    # Sending threads free, as the service's are between bursts: a tree whose
                    # step 0 claims its own rows hands them to this stand-in of the pool.
                    pool = Submitted()
                    alerts.sender._pool = pool  # type: ignore[assignment]
                    alerts.sender._in_flight = threading.BoundedSemaphore(CLAIMED_AHEAD)
                    on = profile if r >= WARM_UP else None
                    with _maybe(profiler, on == "step0"), counted.stage(into, "step0"):
                        alerts.handle_opened(list(opened))
                    with _maybe(profiler, on == "claim"), counted.stage(into, "claim"):
                        claimed = pool.claimed + _claim(alerts, list(written))
                    with _maybe(profiler, on == "send"), counted.stage(into, "send"):
                        sent = _send(alerts, claimed)
                    with _maybe(profiler, on == "record"), counted.stage(into, "record"):
                        alerts.sender._record_success(sent)
                    if len(sent) != 2 * size:  # an SMS and a call each
                        raise RuntimeError(f"{len(sent)} sent of {2 * size}")
                timed = counted.timed
            finally:
                alerts.sender._pool = None
                alerts.stop()
                services.close()
    finally:
        child.communicate("")
    how = "nothing else waiting" if idle else "other events waiting"
    sys.stdout.write(f"{kind}, {size} emergencies a batch, {rounds} batches, {how} (p50)\n")
    for stage in STAGES:
        rows = found[stage]
        walls = sorted(w for w, _, _, _ in rows)
        cpus = sorted(c for _, c, _, _ in rows)
        statements = sorted(s for _, _, s, _ in rows)
        commits = sorted(c for _, _, _, c in rows)
        mid = len(rows) // 2
        sys.stdout.write(
            f"  {stage:6s} wall {walls[mid]:7.2f} ms ({walls[mid] / size:5.2f}/case), "
            f"CPU {cpus[mid]:7.2f} ms ({cpus[mid] / size:5.2f}/case), "
            f"statements {statements[mid]}, commits {commits[mid]}\n"
        )
    if "--statements" in sys.argv:
        for key, walls in sorted(timed.items()):
            walls.sort()
            middle = walls[len(walls) // 2]
            sys.stdout.write(f"    {key:70s} n={len(walls):4d} p50 {middle:6.2f} ms\n")
    if profile:
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(40)


@contextmanager
def _maybe(profiler: cProfile.Profile, on: bool) -> Iterator[None]:
    if on:
        profiler.enable()
    try:
        yield
    finally:
        if on:
            profiler.disable()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    chosen = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
    if chosen is not None:
        args.remove(chosen)
    main(args[0], int(args[1]), int(args[2]), chosen, idle="--idle" in sys.argv)
