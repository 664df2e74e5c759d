"""What every `vnh bench` run shares: brokers, `vnh serve`, a database, the report printer.

The processes run on free local ports in a working directory of the run; a PostgreSQL
database is made for the run and dropped after it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, make_url

HOST = "127.0.0.1"
MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.05
SERVE_CODE = "from vnh.cli import main; main()"  # what `vnh serve` runs, without a console script
BENCH_DB_PREFIX = "vnh_bench_run_"  # a PostgreSQL database made for one run
# The broker settings a production gateway needs: the gateway PUBACKs only after its commit,
# so Mosquitto's default of 20 messages in flight per client would cap every batch at 20.
# Listening ports are drawn from PORT_FLOOR up to the kernel's first port for outgoing
# connections; by a generator of its own: a test seeding `random` must not make every
# worker draw the same ports.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORT_FLOOR = 20_000
PORT_TRIES = 200
_PORT_PICKER = random.SystemRandom()
PROC_TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp
MOSQUITTO_TUNING = (
    "set_tcp_nodelay true",
    "max_inflight_messages 1000",
    "max_queued_messages 100000",
)


def free_port(host: str = HOST) -> int:
    """A TCP port nobody uses now, below the kernel's range for outgoing connections.

    A port the kernel picks (bind to 0) comes from that range, where any client's next
    connection may take it before the server binds it: "address already in use" in a
    busy test run. Ports below the range are only taken by a listener that asks for them.
    """
    low = _ephemeral_low()
    for _ in range(PORT_TRIES):
        port = _PORT_PICKER.randrange(PORT_FLOOR, low) if low > PORT_FLOOR + 1000 else 0
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free TCP port on {host} after {PORT_TRIES} tries")


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # unknown: let the kernel pick


def listens(pid: int, port: int) -> bool:
    """True when process `pid` holds a TCP socket listening on `port`; True if /proc can't tell.

    "The port accepts connections" alone can be another run's server on the same port,
    while ours died on "address already in use": its clients would talk to a stranger.
    """
    inodes: set[str] = set()
    for table in PROC_TCP_TABLES:
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == TCP_LISTEN and int(local.rpartition(":")[2], 16) == port:
                inodes.add(f"socket:[{inode}]")
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return True  # no /proc: the port's answer has to do
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(fd) in inodes:
                return True
    return False


def accepts(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def mosquitto_binary() -> str | None:
    """The Mosquitto executable, if this machine has one."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in MOSQUITTO_PATHS if os.access(p, os.X_OK)), None)


class Process:
    """A child process with its output in a log file; stopped (and reaped) on exit."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - our own argv
                argv, stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def __enter__(self) -> Process:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        """The child's process id (to read its CPU time and memory from /proc)."""
        return self._proc.pid

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The end of the process's output, for error messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end in time."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def wait_port(self, port: int) -> None:
        """Block until this process listens on `port`; RuntimeError if it dies first."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (accepts(HOST, port) and listens(self.pid, port)):
            if not self.alive or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")
            time.sleep(POLL_S)  # polling the port


def start_mosquitto(binary: str, workdir: Path) -> tuple[Process, str]:
    """A Mosquitto on a free port, tuned as a gateway needs; returns it and its URL."""
    port = free_port()
    conf = workdir / "mosquitto.conf"
    lines = [f"listener {port} {HOST}", "allow_anonymous true", *MOSQUITTO_TUNING]
    conf.write_text("\n".join([*lines, ""]), encoding="utf-8")
    proc = Process("mosquitto", [binary, "-c", str(conf)], workdir / "mosquitto.log", _env())
    proc.wait_port(port)
    return proc, f"mqtt://{HOST}:{port}"


def start_amqtt(workdir: Path) -> tuple[Process, str]:
    """The broker the embedded one is made of (amqtt) as its own process, for the echo."""
    port = free_port()
    conf = workdir / "amqtt.yaml"
    conf.write_text(
        f"listeners:\n  default:\n    type: tcp\n    bind: {HOST}:{port}\n", encoding="utf-8"
    )
    argv = [str(Path(sys.executable).with_name("amqtt")), "-c", str(conf)]
    proc = Process("amqtt", argv, workdir / "amqtt.log", _env())
    proc.wait_port(port)
    return proc, f"mqtt://{HOST}:{port}"


class Service:
    """`vnh serve` as a child process, with an admin token of its own."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        mqtt_url: str | None,
        *,
        extra_env: dict[str, str] | None = None,
        code: str = SERVE_CODE,
    ) -> None:
        self.http_port = free_port()
        self.api_url = f"http://{HOST}:{self.http_port}"
        self.token = secrets.token_urlsafe(24)
        env = _env(
            VNH_DATABASE_URL=database_url,
            VNH_HTTP_HOST=HOST,
            VNH_HTTP_PORT=str(self.http_port),
            VNH_ADMIN_TOKEN=self.token,
            **(extra_env or {}),
        )
        if mqtt_url is None:
            self.mqtt_port = free_port()
            env["VNH_EMBEDDED_MQTT_PORT"] = str(self.mqtt_port)
            self.mqtt_url = f"mqtt://{HOST}:{self.mqtt_port}"
        else:
            env["VNH_MQTT_URL"] = mqtt_url
            self.mqtt_url = mqtt_url
        argv = [sys.executable, "-c", code, "serve"]
        self.process = Process("vnh serve", argv, workdir / "vnh-serve.log", env)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Block until /healthz shows the gateway subscribed; RuntimeError if it never does."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline and self.process.alive:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    body = client.get(
                        f"{self.api_url}/healthz",
                        headers={"Authorization": f"Bearer {self.token}"},  # details are staff's
                    ).json()
                    if body.get("gateway", {}).get("mqtt_connected"):
                        return
                time.sleep(POLL_S)  # polling the service
        self.process.stop()
        raise RuntimeError(f"vnh serve did not become ready:\n{self.process.log_tail()}")

    def health(self) -> dict[str, Any]:
        """What /healthz shows the staff now; empty when it does not answer."""
        with contextlib.suppress(httpx.HTTPError, ValueError), httpx.Client(timeout=5.0) as client:
            body = client.get(
                f"{self.api_url}/healthz", headers={"Authorization": f"Bearer {self.token}"}
            ).json()
            return body if isinstance(body, dict) else {}
        return {}

    def stop(self) -> None:
        """Stop the service."""
        self.process.stop()


def _env(**extra: str) -> dict[str, str]:
    # The parent's VNH_* settings would point the child at the wrong database or broker.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VNH_")}
    env.update(extra)
    return env


def start_broker(workdir: Path) -> tuple[Process, str, str]:
    """A broker of our own in `workdir`: Mosquitto when installed, else amqtt."""
    workdir.mkdir(parents=True, exist_ok=True)
    binary = mosquitto_binary()
    if binary is not None:
        proc, url = start_mosquitto(binary, workdir)
        return proc, url, "mosquitto"
    proc, url = start_amqtt(workdir)
    return proc, url, "amqtt"


@contextmanager
def bench_workdir(prefix: str, keep: bool) -> Iterator[Path]:
    """A working directory for one bench run: removed afterwards, or kept and named."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    if keep:
        typer.echo(f"working directory: {workdir}", err=True)
    try:
        yield workdir
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def print_report(
    report: dict[str, Any], as_json: bool, table: Callable[[dict[str, Any]], Table]
) -> None:
    """The report as JSON, or as the bench's table."""
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        Console().print(table(report))


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the server of `admin_url`; dropped afterwards."""
    url = make_url(admin_url).set(drivername="postgresql+psycopg")
    name = f"{BENCH_DB_PREFIX}{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        typer.echo(f"PostgreSQL database {name} made for this run; dropped after it", err=True)
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
