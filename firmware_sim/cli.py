"""The `vnh sim` command: a fleet of simulated terminals pressing at random."""

from __future__ import annotations

import csv
import logging
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from firmware_sim.fleet import Fleet, FleetStats
from firmware_sim.provision import ProvisionError, provision

log = logging.getLogger(__name__)

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1884"  # the embedded broker's port
DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_DEVICES = 10
REFRESH_S = 1.0
CONNECT_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 5.0  # after the run, wait this long for the last acks


def read_credentials(path: Path) -> list[tuple[str, str]]:
    """Read `device_id,secret` lines (a header line and `#` comments are skipped)."""
    out: list[tuple[str, str]] = []
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.reader(file):
            cells = [c.strip() for c in row]
            if not cells or not cells[0] or cells[0].startswith("#"):
                continue
            if len(cells) < 2:
                raise typer.BadParameter(f"{path}: line {row!r} is not device_id,secret")
            if cells[0].lower() == "device_id":
                continue
            out.append((cells[0], cells[1]))
    if not out:
        raise typer.BadParameter(f"{path} holds no credentials")
    return out


def _stats_table(stats: FleetStats) -> Table:
    table = Table(title="simulated terminals")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in stats.as_dict().items():
        shown = "-" if value is None else f"{value:.1f}" if isinstance(value, float) else value
        table.add_row(key, str(shown))
    return table


def sim(
    devices: Annotated[
        int | None,
        typer.Option(
            min=1, help="Terminals to simulate (default: 10, or every line of --credentials)."
        ),
    ] = None,
    rate: Annotated[
        float, typer.Option(min=0.0, help="Presses per second across the fleet (0: none).")
    ] = 0.2,
    duration: Annotated[
        float, typer.Option(min=0.0, help="Seconds to run (0: until Ctrl-C).")
    ] = 0.0,
    mqtt_url: Annotated[
        str, typer.Option(envvar="VNH_MQTT_URL", help="Broker, mqtt://host:port or mqtts://.")
    ] = DEFAULT_MQTT_URL,
    api_url: Annotated[str, typer.Option(help="The service, for provisioning.")] = DEFAULT_API_URL,
    token: Annotated[
        str | None,
        typer.Option(envvar="VNH_ADMIN_TOKEN", help="Admin token: provision devices via the API."),
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="CSV of device_id,secret; no provisioning."),
    ] = None,
    prefix: Annotated[str, typer.Option(help="Device id prefix when provisioning.")] = "SIM",
    heartbeat: Annotated[float, typer.Option(min=0.1, help="Heartbeat interval, s.")] = 300.0,
    seed: Annotated[int | None, typer.Option(help="Random seed, for a repeatable run.")] = None,
    ack_timeout: Annotated[float, typer.Option(min=0.01, help="Resend after this many s.")] = 5.0,
) -> None:
    """Run simulated one-button terminals against the broker, pressing at random."""
    console = Console()
    if credentials is not None:
        creds = read_credentials(credentials)
        if devices is not None:
            creds = creds[:devices]
    elif token:
        count = DEFAULT_DEVICES if devices is None else devices
        console.print(f"provisioning {count} terminals {prefix}0001… via {api_url}", markup=False)
        try:
            creds = provision(api_url, token, count, prefix)
        except ProvisionError as exc:
            console.print(f"[red]provisioning failed:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from exc
    else:
        raise typer.BadParameter("give --token (or VNH_ADMIN_TOKEN) or --credentials FILE")

    try:
        fleet = Fleet(mqtt_url, creds, heartbeat_s=heartbeat, ack_timeout_s=ack_timeout, seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with fleet:
        try:
            fleet.start(CONNECT_TIMEOUT_S)
        except TimeoutError as exc:
            console.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(1) from exc
        console.print(f"{len(creds)} terminals connected to {mqtt_url}; Ctrl-C stops", markup=False)
        _run_live(fleet, console, rate, duration)
        console.line()
        console.print(_stats_table(fleet.stats()))


def _run_live(fleet: Fleet, console: Console, rate: float, duration: float) -> None:
    stop = threading.Event()
    if rate > 0:
        runner = threading.Thread(
            target=fleet.run, args=(rate, duration or None, stop), name="sim-run"
        )
    else:
        runner = threading.Thread(target=stop.wait, args=(duration or None,), name="sim-run")
    runner.start()
    interrupted = False
    with Live(Text(fleet.stats().summary()), console=console, auto_refresh=False) as live:
        try:
            while runner.is_alive():
                runner.join(REFRESH_S)
                live.update(Text(fleet.stats().summary()), refresh=True)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            runner.join()
        if not interrupted and not fleet.wait_idle(DRAIN_TIMEOUT_S):
            log.info("some events still unacked after %g s", DRAIN_TIMEOUT_S)
        live.update(Text(fleet.stats().summary()), refresh=True)
