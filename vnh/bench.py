"""`vnh bench`: presses acked per second and press-to-ack latency, beside a bare MQTT echo."""

from __future__ import annotations

import logging
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from firmware_sim.provision import provision
from vnh.bench_alerts import AlertPhase
from vnh.bench_load import Echo, Figures, run_fleet
from vnh.bench_procs import (
    Service,
    bench_workdir,
    mosquitto_binary,
    postgres_database,
    print_report,
    start_broker,
)
from vnh.bench_storm import TwilioStandIn

log = logging.getLogger(__name__)

PREFIX = "BENCH"
RATIO_KEYS = ("burst_per_s", "p50_ms", "p99_ms")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _echo_figures(
    mqtt_url: str, devices: int, *, rounds: int, rate: float, duration: float
) -> Figures:
    # The echo's terminals are never provisioned: an anonymous test broker lets them in.
    credentials = [(f"{PREFIX}{i + 1:04d}", "echo") for i in range(devices)]
    echo = Echo(mqtt_url)
    try:
        return run_fleet(mqtt_url, credentials, rounds=rounds, rate_per_s=rate, duration_s=duration)
    finally:
        echo.close()


def run_bench(
    *,
    devices: int,
    rounds: int,
    rate: float,
    duration: float,
    repeat: int,
    database_url: str | None,
    api_url: str | None,
    mqtt_url: str | None,
    token: str | None,
    workdir: Path,
    alert_rate: float = 0.0,
    alert_s: float = 0.0,
) -> dict[str, Any]:
    """Start what is missing, then measure the echo and the service in turn, `repeat` times.

    The two alternate so that a machine whose load changes meanwhile weighs on both alike;
    each service repeat uses terminals of its own, so its burst opens new cases. Before
    them, with `alert_rate`, emergencies at that rate show how soon their first alert
    reaches Twilio (a local stand-in), on a service that starts on its own brokers.
    """
    report: dict[str, Any] = {"devices": devices, "rounds": rounds, "repeat": repeat}
    alerts: AlertPhase | None = None
    with ExitStack() as stack:
        echo_url: str | None = None
        if api_url is not None:
            if mqtt_url is None or token is None:
                raise typer.BadParameter("--api-url needs --mqtt-url and --token too")
            service_mqtt, service_api, service_token = mqtt_url, api_url, token
            report["database"] = "external"
        else:
            # The echo gets a broker of its own: a gateway subscribed to the service's broker
            # would answer the echo's terminals too.
            proc, echo_url, kind = start_broker(workdir / "echo-broker")
            stack.enter_context(proc)
            service_broker = mqtt_url
            if service_broker is None and kind == "mosquitto":
                proc, service_broker, _ = start_broker(workdir / "service-broker")
                stack.enter_context(proc)
            db = database_url or f"sqlite:///{workdir / 'bench.db'}"
            report["database"] = db.split("://", 1)[0].split("+", 1)[0]
            extra_env: dict[str, str] = {}
            if alert_rate > 0 and mqtt_url is None and service_broker is not None:
                # Our own anonymous broker: one client may speak for the seeded terminals.
                twilio = TwilioStandIn()
                stack.callback(twilio.close)
                alerts = AlertPhase(db, twilio, alert_rate, alert_s)
                extra_env = twilio.service_env()
            service = Service(workdir, db, service_broker, extra_env=extra_env)
            stack.callback(service.stop)
            service.wait_ready()
            if alerts is not None:
                report["alerts"] = alerts.run(service.mqtt_url)
            service_mqtt, service_api, service_token = (
                service.mqtt_url,
                service.api_url,
                service.token,
            )
        report["broker"] = _broker_name(mqtt_url, service_mqtt, api_url is None)
        credentials = provision(service_api, service_token, devices * repeat, PREFIX)
        runs: list[dict[str, Any]] = []
        for n in range(repeat):
            echo = None
            if echo_url is not None:
                echo = _echo_figures(
                    echo_url, devices, rounds=rounds, rate=rate, duration=duration
                ).as_dict()
            mine = credentials[n * devices : (n + 1) * devices]
            served = run_fleet(
                service_mqtt, mine, rounds=rounds, rate_per_s=rate, duration_s=duration
            ).as_dict()
            runs.append({"service": served, "echo": echo, "ratio": _ratios(served, echo)})
    report["runs"] = runs
    report["service"] = _medians([r["service"] for r in runs])
    report["echo"] = _medians([r["echo"] for r in runs]) if runs[0]["echo"] else None
    report["ratio"] = {
        key: _median([r["ratio"][key] for r in runs if r["ratio"][key] is not None])
        for key in RATIO_KEYS
    }
    return report


def _broker_name(given: str | None, used: str, own: bool) -> str:
    if given is not None or not own:
        return used
    return "mosquitto" if mosquitto_binary() else "embedded amqtt (echo: an amqtt process)"


def _median(values: list[Any]) -> float | None:
    return None if not values else round(float(statistics.median(values)), 2)


def _medians(figures: list[dict[str, Any]]) -> dict[str, float | None]:
    """Each figure's median over the repeats (a paired ratio is taken per repeat instead)."""
    return {key: _median([f[key] for f in figures if f[key] is not None]) for key in figures[0]}


def _ratios(service: dict[str, Any], echo: dict[str, Any] | None) -> dict[str, float | None]:
    def ratio(key: str) -> float | None:
        if echo is None or not echo.get(key) or service.get(key) is None:
            return None
        return round(float(service[key]) / float(echo[key]), 2)

    return {key: ratio(key) for key in RATIO_KEYS}


def _table(report: dict[str, Any]) -> Table:
    first = report["databases"][0]
    table = Table(
        title=f"vnh bench: {first['devices']} terminals, broker {first['broker']}, "
        f"median of {first['repeat']} runs per database"
    )
    for column in ("figure", "service", "bare echo", "service / echo (paired)"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for one in report["databases"]:
        table.add_row(f"[bold]{one.get('database', 'external')}[/bold]", "", "", "")
        _database_rows(table, one)
        table.add_section()
    return table


def _database_rows(table: Table, report: dict[str, Any]) -> None:
    service, echo, ratios = report["service"], report["echo"] or {}, report["ratio"]
    rows = [
        ("burst presses/s", "burst_per_s"),
        ("steady p50 ms", "p50_ms"),
        ("steady p99 ms", "p99_ms"),
        ("steady max ms", "max_ms"),
        ("steady unacked", "steady_unacked"),
        ("resends", "resends"),
    ]
    for label, key in rows:
        table.add_row(
            label,
            _cell(service.get(key)),
            _cell(echo.get(key)),
            _cell(ratios.get(key)),
        )
    alerts = report.get("alerts")
    if alerts is None:
        return
    at = f"alerts, {alerts['rate']:g} emergencies/s"
    pairs: tuple[tuple[str, tuple[str, str]], ...] = (
        ("press→ack p50 / p99 ms", ("ack_p50_ms", "ack_p99_ms")),
        ("case commit→first Twilio p50 / p99 ms", ("alert_p50_ms", "alert_p99_ms")),
    )
    counts = f"{alerts['presses']} ({alerts['acked']}, {alerts['alerted']})"
    table.add_row(f"{at}: presses (acked, alerted)", counts, "-", "-")
    for label, (p50, p99) in pairs:
        cell = f"{_cell(alerts[p50])} / {_cell(alerts[p99])}"
        table.add_row(f"{at}: {label}", cell, "-", "-")


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def bench(
    ctx: typer.Context,
    devices: Annotated[int, typer.Option(min=1, help="Simulated terminals.")] = 100,
    rounds: Annotated[int, typer.Option(min=1, help="Burst rounds (all terminals at once).")] = 5,
    rate: Annotated[float, typer.Option(min=1.0, help="Steady presses per second.")] = 100.0,
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds at the steady rate.")] = 20.0,
    repeat: Annotated[
        int, typer.Option(min=1, help="Echo and service measured in turn this many times.")
    ] = 3,
    database: Annotated[
        list[str] | None,
        typer.Option(
            help="Database of the service it starts: sqlite, postgresql (a database made for "
            "the run on --pg-admin-url, dropped after) or a URL; repeat it to measure each "
            "in turn in one run (default: sqlite)."
        ),
    ] = None,
    pg_admin_url: Annotated[
        str, typer.Option(envvar="VNH_BENCH_PG_URL", help="PostgreSQL server for `postgresql`.")
    ] = PG_ADMIN_URL,
    alert_rate: Annotated[
        float,
        typer.Option(min=0.0, help="Emergencies per second of the alert phase (0: none)."),
    ] = 100.0,
    alert_duration: Annotated[
        float, typer.Option(min=1.0, help="Seconds of the alert phase.")
    ] = 5.0,
    api_url: Annotated[
        str | None, typer.Option(help="Bench a running service instead of starting one.")
    ] = None,
    mqtt_url: Annotated[str | None, typer.Option(help="The broker to use.")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="VNH_ADMIN_TOKEN", help="Admin token of --api-url.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
    keep: Annotated[
        bool, typer.Option(help="Keep the working directory (logs, database) and print it.")
    ] = False,
) -> None:
    """Measure presses acked per second and press-to-ack latency against a bare MQTT echo."""
    if ctx.invoked_subcommand is not None:
        return  # `vnh bench storm`: its own options, its own run
    logging.basicConfig(level=logging.WARNING)
    kinds = [None] if api_url is not None else (database or ["sqlite"])
    reports = []
    with bench_workdir("vnh-bench-", keep) as workdir:
        for n, kind in enumerate(kinds):
            with ExitStack() as stack:
                here = workdir / f"db{n}"
                here.mkdir()
                url = None if kind is None else _database_url(kind, here, pg_admin_url, stack)
                reports.append(
                    run_bench(
                        devices=devices,
                        rounds=rounds,
                        rate=rate,
                        duration=duration,
                        repeat=repeat,
                        database_url=url,
                        api_url=api_url,
                        mqtt_url=mqtt_url,
                        token=token if api_url else None,
                        workdir=here,
                        alert_rate=alert_rate,
                        alert_s=alert_duration,
                    )
                )
    print_report({"databases": reports}, as_json, _table)


def _database_url(kind: str, workdir: Path, pg_admin_url: str, stack: ExitStack) -> str:
    """The URL of `--database` KIND; a PostgreSQL database made for the run is dropped after."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    if kind in ("postgresql", "postgres", "pg"):
        return stack.enter_context(postgres_database(pg_admin_url))
    if "://" not in kind:
        raise typer.BadParameter(f"--database {kind!r}: sqlite, postgresql or a URL")
    return kind
