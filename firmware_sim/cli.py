"""The `vnh sim` command: a fleet of simulated terminals pressing at random."""

from __future__ import annotations

import csv
import logging
import random
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from firmware_sim.fleet import Fleet, FleetStats
from firmware_sim.hub import ACK_TIMEOUT_S as HUB_ACK_TIMEOUT_S
from firmware_sim.hub import FIRMWARE as HUB_FIRMWARE
from firmware_sim.hub import Hub
from firmware_sim.hub_state import HubStats
from firmware_sim.provision import ProvisionError, provision
from firmware_sim.serial_line import DEFAULT_BAUDRATE, HubLine, PtyLine, PyserialLine
from firmware_sim.terminal import ACK_TIMEOUT_S
from firmware_sim.watch import SimWatch

log = logging.getLogger(__name__)

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1884"  # the embedded broker's port
DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_DEVICES = 10
REFRESH_S = 1.0
CONNECT_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 5.0  # after the run, wait this long for the last acks
# A serial hub waits this long for the service: the user starts it after reading the pty path.
SERVICE_WAIT_S = 300.0
SERVICE_POLL_S = 1.0


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


def _stats_table(stats: FleetStats | HubStats) -> Table:
    title = "serial hub" if isinstance(stats, HubStats) else "simulated terminals"
    table = Table(title=title)
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
    ack_timeout: Annotated[
        float | None,
        typer.Option(min=0.01, help="Resend after this many s (default 5; 2 on a serial hub)."),
    ] = None,
    serial: Annotated[
        str | None,
        typer.Option(
            help="Be a serial hub on this port instead of MQTT terminals (path or pyserial "
            "URL, optional @BAUD)."
        ),
    ] = None,
    serial_pty: Annotated[
        bool, typer.Option(help="Be a serial hub on a new pty pair; prints the gateway's end.")
    ] = False,
    pty_link: Annotated[
        Path | None,
        typer.Option(help="With --serial-pty: also make this symlink to the gateway's end."),
    ] = None,
    gateway_port: Annotated[
        str | None,
        typer.Option(
            help="The gateway's name for the hub line (as in VNH_SERIAL_PORTS), stored as the "
            "terminals' hub_port (default with --serial-pty: the link or pty path)."
        ),
    ] = None,
    watch: Annotated[
        str | None,
        typer.Option(
            help="Be 4G SOS watches on the gateway's watch receiver at HOST:PORT "
            "(VNH_WATCH_LISTEN) instead of MQTT terminals."
        ),
    ] = None,
    position_every: Annotated[
        float, typer.Option(min=0.1, help="With --watch: seconds between positions.")
    ] = 10.0,
) -> None:
    """Run simulated one-button terminals over MQTT, or behind a serial hub, pressing at random."""
    console = Console()
    if watch is not None:
        creds = _credentials(
            console,
            credentials,
            token,
            devices,
            api_url,
            prefix,
            hub_port=None,
            wait_for_service=False,
        )
        _run_watches(console, watch, [d for d, _ in creds], rate, duration, position_every, seed)
        return
    if serial is not None and serial_pty:
        raise typer.BadParameter("give --serial PORT or --serial-pty, not both")
    if pty_link is not None and not serial_pty:
        raise typer.BadParameter("--pty-link goes with --serial-pty")
    line = _open_line(console, serial, serial_pty=serial_pty, pty_link=pty_link)
    if isinstance(line, PtyLine) and gateway_port is None:
        gateway_port = line.name
    try:
        creds = _credentials(
            console,
            credentials,
            token,
            devices,
            api_url,
            prefix,
            hub_port=gateway_port,
            wait_for_service=line is not None,
        )
        hub = None
        if line is not None:
            hub = Hub(
                line,
                [device_id for device_id, _ in creds],
                heartbeat_s=heartbeat,
                ack_timeout_s=ack_timeout or HUB_ACK_TIMEOUT_S,
                seed=seed,
            )
    except BaseException:
        if line is not None:
            line.close()
        raise
    if hub is not None:
        _run_hub(hub, console, rate, duration)  # closes the line
        return

    try:
        fleet = Fleet(
            mqtt_url,
            creds,
            heartbeat_s=heartbeat,
            ack_timeout_s=ack_timeout or ACK_TIMEOUT_S,
            seed=seed,
        )
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


def _open_line(
    console: Console, serial: str | None, *, serial_pty: bool, pty_link: Path | None
) -> HubLine | None:
    """The hub's line for --serial / --serial-pty, or None for MQTT terminals."""
    if serial_pty:
        try:
            line = PtyLine(link=pty_link)
        except OSError as exc:
            raise typer.BadParameter(f"cannot make a pty pair: {exc}") from exc
        # soft_wrap: a path cut across lines could not be copied into the other shell.
        console.print(
            f"hub on a pty; the gateway's end is {line.gateway_path}", markup=False, soft_wrap=True
        )
        console.print(
            f"  run:  VNH_SERIAL_PORTS={line.name} vnh serve", markup=False, soft_wrap=True
        )
        return line
    if serial is None:
        return None
    port, _, baud = serial.rpartition("@")
    if not port or not baud.isdigit():
        port, baud = serial, str(DEFAULT_BAUDRATE)
    try:
        return PyserialLine(port, int(baud))
    except (OSError, ValueError) as exc:  # pyserial's SerialException is an OSError
        raise typer.BadParameter(f"cannot open {serial}: {exc}") from exc


def _credentials(
    console: Console,
    credentials: Path | None,
    token: str | None,
    devices: int | None,
    api_url: str,
    prefix: str,
    *,
    hub_port: str | None,
    wait_for_service: bool,
) -> list[tuple[str, str]]:
    if credentials is not None:
        creds = read_credentials(credentials)
        return creds if devices is None else creds[:devices]
    if not token:
        raise typer.BadParameter("give --token (or VNH_ADMIN_TOKEN) or --credentials FILE")
    count = DEFAULT_DEVICES if devices is None else devices
    console.print(f"provisioning {count} terminals {prefix}0001… via {api_url}", markup=False)
    deadline = time.monotonic() + (SERVICE_WAIT_S if wait_for_service else 0.0)
    waiting = False
    while True:
        try:
            return provision(api_url, token, count, prefix, hub_port=hub_port)
        except ProvisionError as exc:
            if exc.status != 0 or time.monotonic() >= deadline:  # 0: nobody answered
                console.print(f"[red]provisioning failed:[/red] {escape(str(exc))}")
                raise typer.Exit(1) from exc
            if not waiting:
                console.print(f"waiting for the service at {api_url} …", markup=False)
                waiting = True
            time.sleep(SERVICE_POLL_S)


def _run_hub(hub: Hub, console: Console, rate: float, duration: float) -> None:
    with hub:
        hub.start()
        for device_id in hub.device_ids:  # a terminal announces itself when it starts
            hub.send(device_id, "boot", fw=HUB_FIRMWARE)
        console.print(
            f"{len(hub.device_ids)} terminals behind the hub on {hub.line_name}", markup=False
        )
        if not hub.wait_idle(CONNECT_TIMEOUT_S):
            console.print("the gateway has not answered yet; the hub keeps trying", markup=False)
        console.print("Ctrl-C stops", markup=False)
        _run_live(hub, console, rate, duration)
        console.line()
        console.print(_stats_table(hub.stats()))


def _run_live(fleet: Fleet | Hub, console: Console, rate: float, duration: float) -> None:
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


def _run_watches(
    console: Console,
    listen: str,
    device_ids: list[str],
    rate: float,
    duration: float,
    position_every: float,
    seed: int | None,
) -> None:
    """Watches linking, wandering around home and pressing SOS at `rate` across them."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(f"--watch {listen!r} must be host:port")
    rng = random.Random(seed)
    watches = [
        SimWatch(d, (host.strip("[]"), int(port)), seed=rng.randrange(2**31)) for d in device_ids
    ]
    counts = {"linked": 0, "positions": 0, "sos": 0, "sos_answered": 0, "commands": 0}
    try:
        for w in watches:
            w.connect()
            counts["linked"] += 1
        console.print(f"{len(watches)} watches linked to {listen}; Ctrl-C stops", markup=False)
        end = time.monotonic() + duration if duration else None
        next_position = time.monotonic()
        while end is None or time.monotonic() < end:
            if time.monotonic() >= next_position:
                for w in watches:
                    w.report_position()
                    counts["positions"] += 1
                next_position = time.monotonic() + position_every
            if rate > 0 and rng.random() < rate * SERVICE_POLL_S:
                counts["sos"] += 1
                counts["sos_answered"] += rng.choice(watches).sos()
            counts["commands"] += sum(w.poll() for w in watches)  # locate, ring, SOS numbers…
            time.sleep(SERVICE_POLL_S)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        console.print(f"[red]watch connection failed:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    finally:
        for w in watches:
            w.close()
    console.print(" ".join(f"{k}={v}" for k, v in counts.items()), markup=False)
