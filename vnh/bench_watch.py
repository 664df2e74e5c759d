"""`vnh bench-watch`: N watches holding a TCP connection each against the real receiver.

The receiver (WatchTransport, the pipeline and intake on a temporary SQLite file, with the
heartbeat flusher) runs in this process; the watches run in a child process (one selector
thread, the makers' frames written by hand), so each side has its own file descriptors
and the receiver's CPU and memory are its own. Each watch sends `LK` at its own phase every
`--lk-every` seconds and a `UD` position every `--ud-every`; `--alarms` watches, each of
its own elder, send one SOS `AL` during the run. Measured: connections the receiver held,
`LK` → answer and `AL` → answer (sent only after the case is committed) as p50/p99, the
receiver's CPU share of one core and its peak RSS.
"""

from __future__ import annotations

import heapq
import logging
import multiprocessing
import random
import resource
import selectors
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import func, insert
from sqlmodel import select

from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.heartbeat_book import HeartbeatFlusher
from care_api.store.tables import Case, Device, Elder
from device_gateway.downlink import DownlinkRouter
from device_gateway.pipeline import Pipeline
from device_gateway.transports.watch import WatchTransport

log = logging.getLogger(__name__)

SEED_CHUNK = 5_000
FIRST_ID = 8_000_000_000
HOME = (29.079, 119.647)
SOS_STATUS = 1 << 16
CONNECT_BATCH = 200  # connections opened between two looks at the answers
GRACE_S = 30.0  # after the run, how long answers still outstanding are waited for
STEADY_FROM = 0.2  # alarms fall in the middle of the run, once every watch has spoken


def frame(watch_id: str, content: str) -> bytes:
    """`[3G*ID*LLLL*CONTENT]`, as the makers' documents write it."""
    body = content.encode()
    return f"[3G*{watch_id}*{len(body):04X}*".encode() + body + b"]"


def position(keyword: str, at: datetime, status: int, jitter: float) -> str:
    """A `UD`/`AL` content with a GPS fix near home and two cell towers."""
    lat, lon = HOME[0] + jitter, HOME[1] - jitter
    fields = [
        keyword,
        at.strftime("%d%m%y"),
        at.strftime("%H%M%S"),
        "A",
        f"{lat:.6f}",
        "N",
        f"{lon:.6f}",
        "E",
        "0.00",
        "0.0",
        "0.0",
        "6",
        "100",
        "80",
        "0",
        "0",
        f"{status:08X}",
        "2",
        "1",
        "460",
        "0",
        "9360",
        "4082",
        "140",
        "9360",
        "4083",
        "139",
        "0",
    ]
    return ",".join(fields)


def watch_id(i: int) -> str:
    """The 10-digit ID of the i-th bench watch."""
    return str(FIRST_ID + i)


@dataclass
class LoadResult:
    """What the watches saw."""

    connected: int = 0
    refused: int = 0
    closed_by_receiver: int = 0
    connect_lk_ms: list[float] = field(default_factory=list)  # the first LK of each watch
    lk_ms: list[float] = field(default_factory=list)
    al_ms: list[float] = field(default_factory=list)
    lk_unanswered: int = 0
    al_unanswered: int = 0
    frames_sent: int = 0


def run_watches(
    address: tuple[str, int],
    watches: int,
    alarms: int,
    duration_s: float,
    lk_every_s: float,
    ud_every_s: float,
    seed: int,
    out: Connection,
) -> None:
    """The child process: connect every watch, keep them talking, report what was seen."""
    rng = random.Random(seed)
    result = LoadResult()
    selector = selectors.DefaultSelector()
    socks: dict[int, socket.socket] = {}
    buffers: dict[int, bytes] = {}
    waiting: dict[int, list[tuple[str, float]]] = {}  # kind "LK0": the first LK
    for first in range(0, watches, CONNECT_BATCH):
        for i in range(first, min(watches, first + CONNECT_BATCH)):
            try:
                sock = socket.create_connection(address, timeout=10)
            except OSError:
                result.refused += 1
                continue
            sock.setblocking(False)
            socks[i], buffers[i], waiting[i] = sock, b"", []
            selector.register(sock, selectors.EVENT_READ, i)
            _send(sock, frame(watch_id(i), "LK,0,0,90"), result)
            waiting[i].append(("LK0", time.perf_counter()))
        _drain(selector, socks, buffers, waiting, result, 0)
    while any(waiting.values()):  # every watch answered once: the steady part begins
        _drain(selector, socks, buffers, waiting, result, 0.05)
    result.connected = len(socks)
    out.send("connected")
    start = time.perf_counter()
    plan: list[tuple[float, int, str]] = []
    for i in socks:
        phase = rng.random()
        heapq.heappush(plan, (start + phase * lk_every_s, i, "LK"))
        if ud_every_s > 0:
            heapq.heappush(plan, (start + phase * ud_every_s, i, "UD"))
    for i in range(min(alarms, watches)):
        if i in socks:
            at = start + duration_s * (STEADY_FROM + rng.random() * (1 - 2 * STEADY_FROM))
            heapq.heappush(plan, (at, i, "AL"))
    end = start + duration_s
    while True:
        now = time.perf_counter()
        while plan and plan[0][0] <= now and plan[0][0] < end:
            _, i, kind = heapq.heappop(plan)
            open_sock = socks.get(i)
            if open_sock is None:
                continue
            moment = datetime.now(UTC)
            if kind == "LK":
                _send(open_sock, frame(watch_id(i), "LK,0,0,90"), result)
                waiting[i].append(("LK", time.perf_counter()))
                heapq.heappush(plan, (now + lk_every_s, i, "LK"))
            elif kind == "UD":
                content = position("UD", moment, 0, rng.uniform(-0.002, 0.002))
                _send(open_sock, frame(watch_id(i), content), result)
                heapq.heappush(plan, (now + ud_every_s, i, "UD"))
            else:
                alarm = position("AL", moment, SOS_STATUS, 0.0)
                _send(open_sock, frame(watch_id(i), alarm), result)
                waiting[i].append(("AL", time.perf_counter()))
        if now >= end and (not any(waiting.values()) or now >= end + GRACE_S):
            break
        timeout = max(0.0, min(0.05, (plan[0][0] - now) if plan else 0.05))
        _drain(selector, socks, buffers, waiting, result, timeout)
    for pending in waiting.values():
        for kind, _ in pending:
            if kind.startswith("LK"):
                result.lk_unanswered += 1
            else:
                result.al_unanswered += 1
    out.send(result)
    out.recv()  # the receiver counted the connections: now let go
    for sock in socks.values():
        sock.close()


def _send(sock: socket.socket, data: bytes, result: LoadResult) -> None:
    try:
        sock.sendall(data)
        result.frames_sent += 1
    except BlockingIOError:
        sock.setblocking(True)  # rare: a full send buffer; wait for room this once
        sock.sendall(data)
        sock.setblocking(False)
        result.frames_sent += 1
    except OSError:
        pass


def _drain(
    selector: selectors.BaseSelector,
    socks: dict[int, socket.socket],
    buffers: dict[int, bytes],
    waiting: dict[int, list[tuple[str, float]]],
    result: LoadResult,
    timeout: float,
) -> None:
    for key, _ in selector.select(timeout):
        i: int = key.data
        try:
            chunk = socks[i].recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            chunk = b""
        if not chunk:
            selector.unregister(socks[i])
            socks.pop(i).close()
            result.closed_by_receiver += 1
            continue
        got = time.perf_counter()
        data = buffers[i] + chunk
        while b"]" in data:
            answer, _, data = data.partition(b"]")
            keyword = answer.rpartition(b"*")[2].decode(errors="replace")
            pending = waiting[i]
            for n, (kind, sent) in enumerate(pending):
                if kind.rstrip("0") == keyword:
                    del pending[n]
                    into = {"LK0": result.connect_lk_ms, "LK": result.lk_ms}.get(kind, result.al_ms)
                    into.append((got - sent) * 1000)
                    break
        buffers[i] = data


def seed(services: Services, watches: int, alarms: int) -> None:
    """One elder for the watches that only talk, one elder each for those raising an alarm."""
    now = datetime.now(UTC)
    with services.uow() as uow:
        elders = [
            Elder(name=f"Bench {n}", phone="+8613800000000", created_at=now)
            for n in range(alarms + 1)
        ]
        uow.session.add_all(elders)
        uow.session.flush()
        ids = [e.id for e in elders]
        table = Device.metadata.tables["device"]
        for first in range(0, watches, SEED_CHUNK):
            rows = [
                {
                    "device_id": watch_id(i),
                    "elder_id": ids[i + 1] if i < alarms else ids[0],
                    "secret_hash": "bench",
                    "status": "active",
                    # As after its first link: online, heard from, battery fine.
                    "online": True,
                    "battery": 90,
                    "last_seen_at": now,
                    "created_at": now,
                    "heartbeat_s": 300,
                    "battery_low": False,
                    "power_lost": False,
                }
                for i in range(first, min(watches, first + SEED_CHUNK))
            ]
            uow.session.execute(insert(table), rows)
        uow.commit()


@dataclass(frozen=True, slots=True)
class WatchFigures:
    """Everything the bench measured."""

    watches: int
    result: LoadResult
    held: int
    connect_s: float
    cpu_s: float  # from all connected to the end of the run
    wall_s: float
    peak_rss_bytes: int
    cases: int


def measure(
    watches: int,
    *,
    alarms: int,
    duration_s: float,
    lk_every_s: float,
    ud_every_s: float,
    seed_value: int = 1,
) -> WatchFigures:
    """Seed, start the receiver, run the watches in a child process, collect the figures."""
    with tempfile.TemporaryDirectory(prefix="vnh-bench-watch-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
        services = build_services(settings)
        flusher = HeartbeatFlusher(services.heartbeats, services.uow)
        transport = WatchTransport(
            "127.0.0.1:0",
            max_connections=watches + 100,
            max_per_source=watches + 100,  # every bench watch comes from 127.0.0.1
            idle_timeout_s=max(900.0, 3 * lk_every_s),
        )
        pipeline = Pipeline(services, DownlinkRouter(transport))
        try:
            seed(services, watches, alarms)
            pipeline.start()
            flusher.start()
            transport.start(pipeline.offer)
            held = _Sampler(transport)
            mine, theirs = multiprocessing.get_context("spawn").Pipe()
            child = multiprocessing.get_context("spawn").Process(
                target=run_watches,
                args=(
                    transport.address,
                    watches,
                    alarms,
                    duration_s,
                    lk_every_s,
                    ud_every_s,
                    seed_value,
                    theirs,
                ),
                daemon=True,
            )
            began = time.perf_counter()
            child.start()
            held.start()
            mine.recv()  # every watch connected and answered once
            cpu, wall = time.process_time(), time.perf_counter()
            connect_s = wall - began
            result: LoadResult = mine.recv()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            held_now = held.stop()
            mine.send("done")
            child.join(30)
            with services.uow() as uow:
                opened = uow.session.exec(select(func.count()).select_from(Case)).one()
        finally:
            transport.close()
            pipeline.stop()
            flusher.stop()
            services.close()
    return WatchFigures(
        watches=watches,
        result=result,
        held=held_now,
        connect_s=connect_s,
        cpu_s=cpu,
        wall_s=wall,
        peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        cases=int(opened),
    )


class _Sampler:
    """Looks at the receiver's open connections every half second; keeps the most."""

    def __init__(self, transport: WatchTransport) -> None:
        self._transport = transport
        self._most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return max(self._most, self._connections())

    def _connections(self) -> int:
        value = self._transport.health()["connections"]
        return value if isinstance(value, int) else 0

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._most = max(self._most, self._connections())


def _quantiles(values: list[float]) -> str:
    if not values:
        return "none answered"
    if len(values) == 1:
        return f"n=1, {values[0]:.1f} ms"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"n={len(values)}, p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms, max {max(values):.1f} ms"
    )


def report_lines(
    f: WatchFigures, *, lk_every_s: float, ud_every_s: float, duration_s: float
) -> list[str]:
    """The figures as lines of text."""
    r = f.result
    rate = r.connected / lk_every_s + (r.connected / ud_every_s if ud_every_s > 0 else 0)
    mib = 1024 * 1024
    return [
        f"watches: {f.watches}, connected {r.connected} (refused {r.refused}); the receiver "
        f"held {f.held} at once; closed by the receiver: {r.closed_by_receiver}",
        f"load: LK every {lk_every_s:g} s, UD every {ud_every_s:g} s (~{rate:.0f} frames/s), "
        f"{len(r.al_ms) + r.al_unanswered} SOS alarms, {duration_s:g} s; "
        f"{r.frames_sent} frames sent",
        f"connecting (process start, {r.connected} connections, first LK answered): "
        f"{f.connect_s:.1f} s; first LK -> answer: {_quantiles(r.connect_lk_ms)}",
        f"steady LK -> answer: {_quantiles(r.lk_ms)}; unanswered {r.lk_unanswered}",
        f"AL (SOS) -> answer, sent after the case committed: {_quantiles(r.al_ms)}; "
        f"unanswered {r.al_unanswered}; cases opened {f.cases}",
        f"receiver process (receiver, pipeline, intake, SQLite): "
        f"CPU {f.cpu_s / f.wall_s * 100:.1f} % of one core over the {f.wall_s:.0f} s after "
        f"connecting; peak RSS {f.peak_rss_bytes / mib:.0f} MiB",
    ]


def bench_watch(
    watches: Annotated[
        int, typer.Option(min=1, help="Watches, each holding a connection.")
    ] = 10_000,
    alarms: Annotated[int, typer.Option(min=0, help="Watches that send one SOS alarm.")] = 100,
    seconds: Annotated[float, typer.Option(min=1, help="How long the watches talk.")] = 60.0,
    lk_every: Annotated[float, typer.Option(min=0.1, help="Seconds between a watch's LK.")] = 30.0,
    ud_every: Annotated[
        float, typer.Option(min=0, help="Seconds between a watch's positions (0: none).")
    ] = 60.0,
) -> None:
    """Measure the 4G watch receiver: connections held, LK and AL answer times, CPU, RSS."""
    figures = measure(
        watches, alarms=alarms, duration_s=seconds, lk_every_s=lk_every, ud_every_s=ud_every
    )
    for line in report_lines(figures, lk_every_s=lk_every, ud_every_s=ud_every, duration_s=seconds):
        typer.echo(line)
