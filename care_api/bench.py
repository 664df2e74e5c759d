"""`vnh bench`: presses acked per second and press-to-ack latency, beside a bare MQTT echo."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from care_api.bench_load import Echo, Figures, run_fleet
from care_api.bench_procs import Process, Service, mosquitto_binary, start_amqtt, start_mosquitto
from firmware_sim.provision import provision

log = logging.getLogger(__name__)

PREFIX = "BENCH"


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
    database_url: str | None,
    api_url: str | None,
    mqtt_url: str | None,
    token: str | None,
    workdir: Path,
) -> dict[str, Any]:
    """Start what is missing, measure the echo then the service; return every figure."""
    report: dict[str, Any] = {"devices": devices, "rounds": rounds}
    with ExitStack() as stack:
        if api_url is not None:
            if mqtt_url is None or token is None:
                raise typer.BadParameter("--api-url needs --mqtt-url and --token too")
            # A gateway already listens on this broker and would answer the echo's presses.
            report["broker"] = mqtt_url
            report["echo"] = None
            service_mqtt, service_api, service_token = mqtt_url, api_url, token
        else:
            broker_url = mqtt_url
            if broker_url is None:
                binary = mosquitto_binary()
                proc: Process
                if binary is not None:
                    proc, broker_url = start_mosquitto(binary, workdir)
                    report["broker"] = "mosquitto"
                else:
                    proc, echo_url = start_amqtt(workdir)
                    report["broker"] = "embedded amqtt (echo: an amqtt process)"
                stack.enter_context(proc)
            else:
                report["broker"] = broker_url
            # The echo runs first, before a gateway ever subscribes to this broker.
            target = broker_url if broker_url is not None else echo_url
            echo = _echo_figures(target, devices, rounds=rounds, rate=rate, duration=duration)
            report["echo"] = echo.as_dict()
            if broker_url is None:
                proc.stop()  # the embedded broker needs no separate one
            db = database_url or f"sqlite:///{workdir / 'bench.db'}"
            report["database"] = db.split("://", 1)[0]
            service = Service(workdir, db, broker_url)
            stack.callback(service.stop)
            service.wait_ready()
            service_mqtt, service_api, service_token = (
                service.mqtt_url,
                service.api_url,
                service.token,
            )
        credentials = provision(service_api, service_token, devices, PREFIX)
        report["service"] = run_fleet(
            service_mqtt,
            credentials,
            rounds=rounds,
            rate_per_s=rate,
            duration_s=duration,
        ).as_dict()
    report["ratio"] = _ratios(report["service"], report["echo"])
    return report


def _ratios(service: dict[str, Any], echo: dict[str, Any] | None) -> dict[str, float | None]:
    def ratio(key: str) -> float | None:
        if echo is None or not echo.get(key) or service.get(key) is None:
            return None
        return round(float(service[key]) / float(echo[key]), 2)

    return {key: ratio(key) for key in ("burst_per_s", "p50_ms", "p99_ms")}


def _table(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"vnh bench: {report['devices']} terminals, broker {report['broker']}, "
        f"database {report.get('database', 'external')}"
    )
    for column in ("figure", "service", "bare echo", "service / echo"):
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
    devices: Annotated[int, typer.Option(min=1, help="Simulated terminals.")] = 100,
    rounds: Annotated[int, typer.Option(min=1, help="Burst rounds (all terminals at once).")] = 5,
    rate: Annotated[float, typer.Option(min=1.0, help="Steady presses per second.")] = 100.0,
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds at the steady rate.")] = 20.0,
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
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="vnh-bench-"))
    if keep:
        typer.echo(f"working directory: {workdir}", err=True)
    try:
        report = run_bench(
            devices=devices,
            rounds=rounds,
            rate=rate,
            duration=duration,
            database_url=database_url,
            api_url=api_url,
            mqtt_url=mqtt_url,
            token=token if api_url else None,
            workdir=workdir,
        )
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        Console().print(_table(report))
