"""`vnh bench scale`: one and two gateway processes, and what a terminal and a press cost.

Everything runs on PostgreSQL (a database of its own, created here and dropped after) and a
Mosquitto of its own; the gateways share the terminals through `$share` as in production.
For each process count it measures, like `vnh bench`, a burst and a steady rate against the
bare MQTT echo in the same run, then emergency presses from terminals that have not pressed
yet (each opens a case and alerts a family member through a local Twilio stand-in) with:

- CPU time (utime + stime from /proc, not wall clock: it holds on a loaded machine) of the
  broker and of each `vnh serve`, split by thread (gateway, alerts, the rest);
- rows and bytes (`pg_total_relation_size`, indexes and TOAST included) each table gained;
- the requests the Twilio stand-in received.

Then idle terminals: the broker's resident memory per connected terminal, and what their
heartbeats cost (CPU, rows, bytes), scaled to a day at the terminals' 300 s interval.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from psycopg import sql
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert

from alerts.fleet import FLEET_WATCH_INTERVAL_S
from care_api.domain.model import CaseKind
from care_api.services import build_services
from care_api.settings import Settings
from care_api.store.tables import Contact, Device, Elder, LadderConfig
from care_api.usecases.cases.ladders import DEFAULT_LADDERS, ladder_to_data
from firmware_sim.fleet import Fleet
from firmware_sim.pending import PendingEvent
from firmware_sim.terminal import Terminal
from vnh.bench_load import (
    BENCH_ACK_TIMEOUT_S,
    BENCH_HEARTBEAT_S,
    ROUND_TIMEOUT_S,
    Echo,
    percentile_ms,
    run_fleet,
)
from vnh.bench_procs import (
    Process,
    Service,
    bench_workdir,
    mosquitto_binary,
    postgres_database,
    print_report,
    start_mosquitto,
)
from vnh.bench_storm import TwilioStandIn

log = logging.getLogger(__name__)

NO_SECRET = "-"  # noqa: S105 - the bench broker is anonymous: terminals never log in
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SHARE_GROUP = "vnh-gw"
EMERGENCY = "long"  # opens an emergency and alerts the family at once
HEARTBEAT_DAY = 86_400 / 300  # a terminal's heartbeats a day at the default 300 s
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
SEED_CHUNK = 5_000
SETTLE_WINDOW_S = 1.0
SETTLED_WINDOWS = 2
SETTLED_MS_PER_S = 40.0  # a quiet gateway spends about 10 ms of CPU a second (timers, health)
SETTLE_MAX_S = 180.0
START_S = 120.0  # two services importing at once on a busy shared machine are slow to start
QUIET_S = 5.0  # the window a gateway's background CPU is read over
ALERTS_QUIET_S = 2.0  # the stand-in heard nothing new this long: the first alerts are out
ALERTS_WAIT_S = 300.0
# The heartbeat book writes every 5 s and PostgreSQL's statistics lag about 1 s behind.
FLUSH_WAIT_S = 7.0
STATS_WAIT_S = 1.5
# Thread names (set in the child by `serve_named`) → the part they belong to.
PARTS = (("alerts", ("alerts-",)), ("gateway", ("vnh-gateway", "paho-", "vnh-")))
# What a `vnh serve` of this bench runs: the service, its threads named for /proc.
SERVE_CODE = "from vnh.bench_scale import serve_named; serve_named()"
PR_SET_NAME = 15


def serve_named() -> None:
    """`vnh serve` with each Python thread's name given to the kernel, so /proc splits its CPU."""
    libc = ctypes.CDLL(None, use_errno=True)
    start = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def named(self: threading.Thread) -> None:
        # Python 3.11 keeps thread names to itself; the kernel's (15 bytes) is what /proc shows.
        libc.prctl(PR_SET_NAME, self.name.encode()[:15], 0, 0, 0)
        start(self)

    threading.Thread._bootstrap_inner = named  # type: ignore[attr-defined]
    from vnh.cli import main

    main()


# --- /proc ---------------------------------------------------------------------------------


def cpu_s(pid: int, tid: int | None = None) -> float:
    """CPU seconds (utime + stime) of a process (all its threads) or of one thread."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    text = Path(path).read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) * TICK_S


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds per part (see PARTS) of a process's threads, and `total` for all."""
    parts: dict[str, float] = dict.fromkeys(("other", *(part for part, _ in PARTS)), 0.0)
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            used = cpu_s(pid, int(task.name))
        except OSError:
            continue  # the thread ended meanwhile
        parts[_part(name)] += used
    total = cpu_s(pid)
    named = {part: parts[part] for part, _ in PARTS}
    # "other": the main thread (HTTP), timers, and threads that have ended since.
    return {"total": total, **named, "other": max(0.0, total - sum(named.values()))}


def _part(thread_name: str) -> str:
    for part, prefixes in PARTS:
        if thread_name.startswith(prefixes):
            return part
    return "other"


def rss_bytes(pid: int) -> int:
    """The resident memory of a process (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# --- PostgreSQL ----------------------------------------------------------------------------


def table_figures(database_url: str) -> dict[str, tuple[int, int, int]]:
    """Per table: (rows, bytes with indexes and TOAST, rows inserted+updated+deleted so far)."""
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        stats = conn.execute(
            "SELECT schemaname, relname, pg_total_relation_size(relid),"
            " n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
        ).fetchall()
        out = {}
        for schema, name, size, writes in stats:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
            rows = conn.execute(query).fetchone()
            out[str(name)] = (int(rows[0]) if rows else 0, int(size), int(writes))
    return out


def seed(database_url: str, groups: dict[str, int]) -> dict[str, list[str]]:
    """Elders with a terminal and one family contact each, per id prefix; returns the ids."""
    services = build_services(Settings(database_url=database_url, _env_file=None))  # type: ignore[call-arg]
    now = datetime.now(UTC)
    ids = {prefix: [f"{prefix}{i:06d}" for i in range(count)] for prefix, count in groups.items()}
    elders, contacts, devices = [], [], []
    n = 0
    for device_ids in ids.values():
        for device_id in device_ids:
            n += 1
            elders.append(
                Elder(id=n, name=f"Elder {device_id}", phone=f"+86139{n:08d}", created_at=now)
            )
            contacts.append(Contact(elder_id=n, name="Family", phone=f"+86138{n:08d}", priority=1))
            devices.append(
                Device(device_id=device_id, elder_id=n, secret_hash=NO_SECRET, created_at=now)
            )
    try:
        with services.engine.begin() as conn:
            for table, rows in ((Elder, elders), (Contact, contacts), (Device, devices)):
                dumped = [r.model_dump(exclude={"id"} if table is Contact else set()) for r in rows]
                for start in range(0, len(dumped), SEED_CHUNK):
                    conn.execute(insert(table), dumped[start : start + SEED_CHUNK])
            # Only the emergency ladder's first rung (the family, the console): the later
            # rungs come minutes on and would land in another step's figures.
            first_rung = ladder_to_data(DEFAULT_LADDERS[CaseKind.EMERGENCY])[:1]
            conn.execute(
                insert(LadderConfig),
                [
                    {
                        "kind": CaseKind.EMERGENCY.value,
                        "steps": first_rung,
                        "repeat": 0,
                        "updated_by": "vnh bench scale",
                        "updated_at": now,
                    }
                ],
            )
            # Explicit ids leave the sequence behind; the service adds elders of its own.
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('elder', 'id'), (SELECT max(id) FROM elder))"
            )
    finally:
        services.close()
    return ids


# --- one measured step ---------------------------------------------------------------------


@dataclass
class Parts:
    """The processes whose costs are read: the broker and the gateways (`vnh serve`)."""

    broker: Process
    services: list[Service]
    database_url: str
    twilio: TwilioStandIn
    quiet_ms_per_s: float = 0.0  # all gateways together, with nothing to do

    def settle(self, *, gone: list[str] | None = None) -> None:
        """Until every gateway is about idle: what the last step left behind is done.

        A fleet that disconnects (`gone`: its terminals) leaves work behind: each terminal's
        `offline` flag, then at the fleet watch's next run its device case (or an area
        incident); it must not be counted with the next step.
        """
        if gone:
            self.wait_outages(gone)
        deadline = time.monotonic() + SETTLE_MAX_S
        calm = 0
        while calm < SETTLED_WINDOWS and time.monotonic() < deadline:
            before = [cpu_s(s.process.pid) for s in self.services]
            time.sleep(SETTLE_WINDOW_S)  # the window whose CPU is read
            after = [cpu_s(s.process.pid) for s in self.services]
            used = [a - b for a, b in zip(after, before, strict=True)]
            busiest = max(1000 * u / SETTLE_WINDOW_S for u in used)
            calm = calm + 1 if busiest <= SETTLED_MS_PER_S else 0

    def wait_outages(self, device_ids: list[str]) -> None:
        """Until the fleet watch has opened an outage for each of `device_ids`.

        At most the watch's interval and a margin: a terminal whose `offline` flag was
        lost gets no outage, and the wait is then as long as a fixed one would be.
        """
        dsn = self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        deadline = time.monotonic() + FLEET_WATCH_INTERVAL_S + 2.0
        with psycopg.connect(dsn, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM device WHERE device_id = ANY(%s)"
                    " AND outage_since IS NOT NULL",
                    (device_ids,),
                ).fetchone()
                if row is not None and row[0] >= len(device_ids):
                    return
                time.sleep(0.2)  # polling the watch's work in the database

    def snapshot(self) -> dict[str, Any]:
        """CPU, memory, tables and Twilio requests now."""
        requests = Counter(resource for _, resource, _ in list(self.twilio.requests))
        return {
            "at": time.monotonic(),
            "broker_cpu_s": cpu_s(self.broker.pid),
            "broker_rss": rss_bytes(self.broker.pid),
            "gateways": [thread_cpu_s(s.process.pid) for s in self.services],
            "tables": table_figures(self.database_url),
            "twilio": dict(requests),
        }


def costs(
    before: dict[str, Any], after: dict[str, Any], units: int, quiet_ms_per_s: float = 0.0
) -> dict[str, Any]:
    """What `units` (presses, heartbeats) cost between two snapshots, in total and per unit.

    `gateway_cpu_ms_net` leaves out what the gateways spend when quiet (`quiet_ms_per_s`,
    all processes together) over the same seconds: their timers run with or without units.
    """
    gateways = [
        {k: a[k] - b[k] for k in a}
        for a, b in zip(after["gateways"], before["gateways"], strict=True)
    ]
    summed = {k: sum(g[k] for g in gateways) for k in gateways[0]}
    tables = {}
    for name, (rows, size, writes) in after["tables"].items():
        rows0, size0, writes0 = before["tables"].get(name, (0, 0, 0))
        if (rows, size, writes) != (rows0, size0, writes0):
            tables[name] = {"rows": rows - rows0, "bytes": size - size0, "writes": writes - writes0}
    twilio = {k: v - before["twilio"].get(k, 0) for k, v in after["twilio"].items()}
    per = 1.0 / max(units, 1)
    return {
        "units": units,
        "broker_cpu_ms": _r(1000 * (after["broker_cpu_s"] - before["broker_cpu_s"]) * per),
        "gateway_cpu_ms": {k: _r(1000 * v * per) for k, v in summed.items()},
        "gateway_cpu_ms_net": _r(
            (1000 * summed["total"] - quiet_ms_per_s * (after["at"] - before["at"])) * per
        ),
        "gateway_cpu_share": [_r(g["total"] / max(summed["total"], 1e-9), 2) for g in gateways],
        "db_rows": _r(sum(t["rows"] for t in tables.values()) * per),
        "db_row_writes": _r(sum(t["writes"] for t in tables.values()) * per),
        "db_bytes": _r(sum(t["bytes"] for t in tables.values()) * per, 0),
        "tables": tables,
        "twilio_requests": _r(sum(twilio.values()) * per),
        "twilio": twilio,
    }


def _r(value: float, digits: int = 3) -> float:
    return round(value, digits)


def wait_acked(events: list[PendingEvent], timeout: float) -> int:
    """Wait for the events' acks; returns how many were acked."""
    deadline = time.monotonic() + timeout
    for event in events:
        event.wait(max(0.0, deadline - time.monotonic()))
    return sum(1 for e in events if e.acked_at is not None)


def wait_quiet(twilio: TwilioStandIn, expected: int) -> None:
    """Until the stand-in has `expected` requests and heard nothing new for a moment."""
    deadline = time.monotonic() + ALERTS_WAIT_S
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(twilio.requests)
        if count != seen:
            seen, since = count, time.monotonic()
        elif count >= expected and time.monotonic() - since >= ALERTS_QUIET_S:
            return
        time.sleep(0.1)  # polling the stand-in's record


def open_fleet(stack: ExitStack, mqtt_url: str, device_ids: list[str]) -> Fleet:
    """Idle terminals connected until `stack` closes (their disconnect is a step of its own)."""
    fleet = Fleet(
        mqtt_url,
        [(d, NO_SECRET) for d in device_ids],
        heartbeat_s=BENCH_HEARTBEAT_S,
        ack_timeout_s=BENCH_ACK_TIMEOUT_S,
        seed=2,
    )
    stack.enter_context(fleet)
    fleet.start(ROUND_TIMEOUT_S)
    return fleet


def press_costs(parts: Parts, fleet: Fleet, rate: float) -> dict[str, Any]:
    """Each terminal presses once for an emergency, paced at `rate`; what it cost."""
    parts.settle()  # the terminals' `online` flags are not the presses'
    before = parts.snapshot()
    # Counted before the presses: the first alerts may be out before the last ack is in.
    requests_before = len(parts.twilio.requests)
    start = time.monotonic()
    events = []
    for n, terminal in enumerate(fleet.terminals):
        time.sleep(max(0.0, start + n / rate - time.monotonic()))  # pacing the presses
        events.append(terminal.press(EMERGENCY))
    acked = wait_acked(events, ROUND_TIMEOUT_S)
    wait_quiet(parts.twilio, requests_before + acked)
    time.sleep(STATS_WAIT_S)  # PostgreSQL's write counters catch up
    after = parts.snapshot()
    latencies = [e.latency_s for e in events if e.latency_s is not None]
    return {
        "presses": len(events),
        "acked": acked,
        "p50_ms": _ms(percentile_ms(latencies, 0.5)),
        "p99_ms": _ms(percentile_ms(latencies, 0.99)),
        **costs(before, after, len(events), parts.quiet_ms_per_s),
    }


def idle_costs(
    parts: Parts, stack: ExitStack, mqtt_url: str, device_ids: list[str], rounds: int
) -> dict[str, Any]:
    """Broker memory per connected idle terminal, then the cost of `rounds` heartbeats each.

    The rounds are a heartbeat book's flush apart, so that each heartbeat is written, as
    at the terminals' 300 s interval (beats within one flush are written once).
    """
    parts.settle()
    empty = parts.snapshot()
    fleet = open_fleet(stack, mqtt_url, device_ids)
    time.sleep(STATS_WAIT_S)
    connected = parts.snapshot()
    # A terminal's first heartbeat after its first connection writes more (it comes
    # online); a running fleet's heartbeats are the later ones.
    wait_acked([_beat(t) for t in fleet.terminals], ROUND_TIMEOUT_S)
    time.sleep(FLUSH_WAIT_S)
    parts.settle()
    warm = parts.snapshot()
    sent: list[PendingEvent] = []
    for _ in range(rounds):
        beats = [_beat(t) for t in fleet.terminals]
        sent.extend(beats)
        wait_acked(beats, ROUND_TIMEOUT_S)
        time.sleep(FLUSH_WAIT_S)  # the heartbeat book writes what it holds
    beaten = parts.snapshot()
    connect = costs(empty, connected, len(device_ids), parts.quiet_ms_per_s)
    beat = costs(warm, beaten, len(sent), parts.quiet_ms_per_s)
    return {
        "terminals": len(device_ids),
        "broker_rss_before": empty["broker_rss"],
        "broker_rss_after": connected["broker_rss"],
        "broker_rss_per_terminal": _r(
            (connected["broker_rss"] - empty["broker_rss"]) / len(device_ids), 0
        ),
        "connect": connect,
        "heartbeats": len(sent),
        "heartbeats_acked": sum(1 for e in sent if e.acked_at is not None),
        "heartbeat": beat,
        # An idle terminal's day: its heartbeats at the default 300 s (connecting excluded).
        "per_terminal_day": {
            "heartbeats": HEARTBEAT_DAY,
            "broker_cpu_s": _r(beat["broker_cpu_ms"] * HEARTBEAT_DAY / 1000),
            "gateway_cpu_s": _r(beat["gateway_cpu_ms_net"] * HEARTBEAT_DAY / 1000),
            "db_row_writes": _r(beat["db_row_writes"] * HEARTBEAT_DAY, 1),
            "db_bytes": _r(beat["db_bytes"] * HEARTBEAT_DAY, 0),
        },
    }


def _beat(terminal: Terminal) -> PendingEvent:
    return terminal.send("heartbeat", battery=90, rssi=-70, fw="1.4.2")


def quiet_cpu(parts: Parts, seconds: float) -> list[float]:
    """CPU ms a second each gateway process spends with nothing to do (timer sweeps, health)."""
    before = [thread_cpu_s(s.process.pid)["total"] for s in parts.services]
    time.sleep(seconds)  # the window whose background CPU is read
    after = [thread_cpu_s(s.process.pid)["total"] for s in parts.services]
    return [_r(1000 * (a - b) / seconds, 1) for a, b in zip(after, before, strict=True)]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- the run -------------------------------------------------------------------------------


def start_gateways(
    count: int, workdir: Path, database_url: str, mqtt_url: str, twilio: TwilioStandIn
) -> list[Service]:
    """`count` gateway processes sharing the terminals through `$share/vnh-gw/…`."""
    env = {
        **twilio.service_env(),
        "VNH_MQTT_SHARED_GROUP": SHARE_GROUP,
    }
    services = []
    for n in range(count):
        service_dir = workdir / f"gateway-{count}-{n}"
        service_dir.mkdir(parents=True)
        services.append(
            Service(service_dir, database_url, mqtt_url, extra_env=env, code=SERVE_CODE)
        )
    try:
        for service in services:
            service.wait_ready(START_S)
    except RuntimeError:
        for service in services:
            service.stop()
        raise
    return services


def run_scale(
    *,
    processes: list[int],
    devices: int,
    rounds: int,
    rate: float,
    duration: float,
    presses: int,
    press_rate: float,
    idle: int,
    heartbeat_rounds: int,
    admin_dsn: str,
    workdir: Path,
) -> dict[str, Any]:
    """Measure each process count in turn, then idle terminals (see the module doc)."""
    binary = mosquitto_binary()
    if binary is None:
        raise typer.BadParameter("vnh bench scale needs Mosquitto ($share is MQTT 5)")
    report: dict[str, Any] = {"load_before": _load(), "processes": processes}
    options = {
        "rounds": rounds,
        "rate": rate,
        "duration": duration,
        "press_rate": press_rate,
        "heartbeat_rounds": heartbeat_rounds,
        "last": processes[-1],
    }
    groups = {f"T{n}_": devices for n in processes} | {f"E{n}_": presses for n in processes}
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_database(admin_dsn))
        ids = seed(database_url, {**groups, "I_": idle})
        (workdir / "echo").mkdir()
        echo_broker, echo_url = start_mosquitto(binary, workdir / "echo")
        stack.enter_context(echo_broker)
        (workdir / "broker").mkdir()
        broker, mqtt_url = start_mosquitto(binary, workdir / "broker")
        stack.enter_context(broker)
        twilio = TwilioStandIn()
        stack.callback(twilio.close)
        runs = []
        for count in processes:
            services = start_gateways(count, workdir, database_url, mqtt_url, twilio)
            try:
                parts = Parts(broker, services, database_url, twilio)
                runs.append(measure_count(parts, ids, count, report, echo_url, mqtt_url, options))
            finally:
                for service in services:
                    service.stop()
        report["runs"] = runs
    report["load_after"] = _load()
    return report


def measure_count(
    parts: Parts,
    ids: dict[str, list[str]],
    count: int,
    report: dict[str, Any],
    echo_url: str,
    mqtt_url: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """One process count: quiet CPU, throughput, press costs, idle terminals (last count)."""
    parts.settle()  # starting up is not being quiet
    run: dict[str, Any] = {"processes": count, "quiet_cpu_ms_per_s": quiet_cpu(parts, QUIET_S)}
    parts.quiet_ms_per_s = sum(run["quiet_cpu_ms_per_s"])
    # The burst and the steady rate first, with no other terminal connected; the cases
    # they open and the outages their disconnect leaves are worked before the costs.
    fleet = [(d, NO_SECRET) for d in ids[f"T{count}_"]]
    run.update(
        throughput(
            echo_url, mqtt_url, fleet, options["rounds"], options["rate"], options["duration"]
        )
    )
    parts.settle(gone=ids[f"T{count}_"])
    with ExitStack() as fleets:
        pressers = open_fleet(fleets, mqtt_url, ids[f"E{count}_"])
        run["press"] = press_costs(parts, pressers, options["press_rate"])
        if count == options["last"]:
            report["idle"] = idle_costs(
                parts, fleets, mqtt_url, ids["I_"], options["heartbeat_rounds"]
            )
    # Every terminal of this count has gone: its outages are worked before the next count
    # (after the last count nothing is measured: the run ends without waiting for them).
    if count != options["last"]:
        parts.settle(gone=ids[f"E{count}_"])
    return run


def throughput(
    echo_url: str,
    mqtt_url: str,
    fleet: list[tuple[str, str]],
    rounds: int,
    rate: float,
    duration: float,
) -> dict[str, Any]:
    """`vnh bench`'s burst and steady rate: the bare echo, then the gateways, same terminals."""
    echo = Echo(echo_url)
    try:
        echoed = run_fleet(
            echo_url, fleet, rounds=rounds, rate_per_s=rate, duration_s=duration
        ).as_dict()
    finally:
        echo.close()
    served = run_fleet(mqtt_url, fleet, rounds=rounds, rate_per_s=rate, duration_s=duration)
    return {"service": served.as_dict(), "echo": echoed}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- the report ----------------------------------------------------------------------------


def _table(report: dict[str, Any]) -> Table:
    runs = report["runs"]
    table = Table(
        title=f"vnh bench scale: gateways sharing terminals ($share), Mosquitto, PostgreSQL; "
        f"load {report['load_before']} → {report['load_after']}"
    )
    table.add_column("figure")
    for run in runs:
        n = run["processes"]
        table.add_column(f"{n} gateway{'s' if n > 1 else ''}", justify="right")
        table.add_column(f"echo ({n})", justify="right")

    def row(label: str, service: Callable[[dict[str, Any]], object], echo: bool = True) -> None:
        cells: list[str] = []
        for run in runs:
            cells.append(_cell(service(run["service"])))
            cells.append(_cell(service(run["echo"])) if echo else "")
        table.add_row(label, *cells)

    row("burst presses acked/s", lambda f: f["burst_per_s"])
    row("steady p50 / p99 ms", lambda f: f"{f['p50_ms']} / {f['p99_ms']}")
    row("steady presses (unacked)", lambda f: f"{f['steady_presses']} ({f['steady_unacked']})")

    def press(label: str, get: Callable[[dict[str, Any]], object]) -> None:
        table.add_row(label, *[c for run in runs for c in (_cell(get(run["press"])), "")])

    table.add_row(
        "gateway CPU ms/s when quiet, per process",
        *[c for run in runs for c in (_cell(run["quiet_cpu_ms_per_s"]), "")],
    )
    press("emergency presses (acked)", lambda p: f"{p['presses']} ({p['acked']})")
    press("  press→ack p50 / p99 ms", lambda p: f"{p['p50_ms']} / {p['p99_ms']}")
    press("  broker CPU ms/press", lambda p: p["broker_cpu_ms"])
    press("  gateway process CPU ms/press", lambda p: p["gateway_cpu_ms"]["total"])
    press("    less the quiet processes' own", lambda p: p["gateway_cpu_ms_net"])
    press("    gateway threads", lambda p: p["gateway_cpu_ms"]["gateway"])
    press("    alerts threads", lambda p: p["gateway_cpu_ms"]["alerts"])
    press("    share per process", lambda p: p["gateway_cpu_share"])
    press("  DB rows / row writes per press", lambda p: f"{p['db_rows']} / {p['db_row_writes']}")
    press("  DB bytes/press", lambda p: p["db_bytes"])
    press("  Twilio requests/press", lambda p: f"{p['twilio_requests']} {p['twilio']}")
    idle = report.get("idle")
    if idle:
        beat, day = idle["heartbeat"], idle["per_terminal_day"]
        pad = [""] * (2 * len(runs) - 1)
        lines = [
            ("idle terminals connected", str(idle["terminals"])),
            ("  broker RSS bytes/terminal", _cell(idle["broker_rss_per_terminal"])),
            ("heartbeats (acked)", f"{idle['heartbeats']} ({idle['heartbeats_acked']})"),
            ("  broker CPU ms/heartbeat", _cell(beat["broker_cpu_ms"])),
            ("  gateway CPU ms/heartbeat", _cell(beat["gateway_cpu_ms"]["total"])),
            ("    less the quiet processes' own", _cell(beat["gateway_cpu_ms_net"])),
            (
                "  DB rows / row writes per heartbeat",
                f"{beat['db_rows']} / {beat['db_row_writes']}",
            ),
            ("  DB bytes/heartbeat", _cell(beat["db_bytes"])),
            (
                "  an idle terminal's day (288 heartbeats): gateway CPU s, DB row writes",
                f"{day['gateway_cpu_s']} s, {day['db_row_writes']}",
            ),
        ]
        for label, value in lines:
            table.add_row(label, value, *pad)
    return table


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def _process_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"not a list of process counts: {text!r}") from None
    if not counts or any(c < 1 for c in counts):
        raise typer.BadParameter("process counts are whole numbers from 1")
    return counts


def bench_scale(
    processes: Annotated[
        str, typer.Option(help="Gateway process counts measured in turn, comma-separated.")
    ] = "1,2",
    devices: Annotated[
        int, typer.Option(min=1, help="Terminals of the burst and steady rate.")
    ] = 50,
    rounds: Annotated[int, typer.Option(min=1, help="Burst rounds (all terminals at once).")] = 3,
    rate: Annotated[float, typer.Option(min=1.0, help="Steady presses per second.")] = 100.0,
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds at the steady rate.")] = 10.0,
    presses: Annotated[
        int, typer.Option(min=1, help="Emergency presses whose costs are read (one per terminal).")
    ] = 500,
    press_rate: Annotated[float, typer.Option(min=1.0, help="Their presses per second.")] = 25.0,
    idle: Annotated[int, typer.Option(min=1, help="Idle terminals connected at once.")] = 1000,
    heartbeat_rounds: Annotated[
        int, typer.Option(min=1, help="Heartbeats each idle terminal sends.")
    ] = 3,
    pg_admin_dsn: Annotated[
        str, typer.Option(help="PostgreSQL server (a database is created there and dropped).")
    ] = PG_ADMIN_DSN,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
    keep: Annotated[bool, typer.Option(help="Keep the working directory and print it.")] = False,
) -> None:
    """One and two gateway processes in one run, and what a terminal and a press cost."""
    logging.basicConfig(level=logging.WARNING)
    with bench_workdir("vnh-bench-scale-", keep) as workdir:
        report = run_scale(
            processes=_process_counts(processes),
            devices=devices,
            rounds=rounds,
            rate=rate,
            duration=duration,
            presses=presses,
            press_rate=press_rate,
            idle=idle,
            heartbeat_rounds=heartbeat_rounds,
            admin_dsn=pg_admin_dsn,
            workdir=workdir,
        )
    if as_json:
        print_report(report, as_json, _table)
    else:  # wide enough for two process counts and their echoes without wrapping
        Console(width=160).print(_table(report))
