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
from vnh.bench_load import Echo, Figures, run_fleet
from vnh.bench_procs import Service, bench_workdir, mosquitto_binary, print_report, start_broker

log = logging.getLogger(__name__)

PREFIX = "BENCH"
RATIO_KEYS = ("burst_per_s", "p50_ms", "p99_ms")


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
) -> dict[str, Any]:
    """Start what is missing, then measure the echo and the service in turn, `repeat` times.

    The two alternate so that a machine whose load changes meanwhile weighs on both alike;
    each service repeat uses terminals of its own, so its burst opens new cases.
    """
    report: dict[str, Any] = {"devices": devices, "rounds": rounds, "repeat": repeat}
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
            report["database"] = db.split("://", 1)[0]
            service = Service(workdir, db, service_broker)
            stack.callback(service.stop)
            service.wait_ready()
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
    table = Table(
        title=f"vnh bench: {report['devices']} terminals, broker {report['broker']}, "
        f"database {report.get('database', 'external')}, median of {report['repeat']} runs"
    )
    for column in ("figure", "service", "bare echo", "service / echo (paired)"):
        table.add_column(column, justify="left" if column == "figure" else "right")
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
        table.add_row(label, _cell(service.get(key)), _cell(echo.get(key)), _cell(ratios.get(key)))
    return table


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
    database_url: Annotated[
        str | None, typer.Option(help="Database for the service it starts (default: temp SQLite).")
    ] = None,
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
    with bench_workdir("vnh-bench-", keep) as workdir:
        report = run_bench(
            devices=devices,
            rounds=rounds,
            rate=rate,
            duration=duration,
            repeat=repeat,
            database_url=database_url,
            api_url=api_url,
            mqtt_url=mqtt_url,
            token=token if api_url else None,
            workdir=workdir,
        )
    print_report(report, as_json, _table)
