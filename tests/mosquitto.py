"""A real Mosquitto on a free local port, for tests: `with run_mosquitto(tmp_path) as broker:`."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from vnh.bench_procs import HOST, accepts, free_port, listens

MOSQUITTO = "/usr/sbin/mosquitto"
__all__ = ["HOST", "Listeners", "MosquittoServer", "free_port", "run_mosquitto"]
START_TIMEOUT_S = 30.0  # a ceiling for a loaded 2-core machine, not a speed check
STOP_TIMEOUT_S = 5.0
POLL_S = 0.02
# (host, port) -> the listener part of mosquitto.conf; the harness waits on that port.
Listeners = Callable[[str, int], str]


class MosquittoServer:
    """One Mosquitto process; `stop()` ends it, `restart()` brings it back on the same port."""

    def __init__(
        self,
        tmp_path: Path,
        extra_conf: str = "",
        *,
        persistence: bool = False,
        listeners: Listeners | None = None,
    ) -> None:
        self.host = HOST
        self.port = free_port()
        self.url = f"mqtt://{self.host}:{self.port}"
        self._dir = tmp_path / f"mosquitto-{self.port}"
        self._dir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self._dir / "mosquitto.conf"
        self.log_path = self._dir / "mosquitto.log"
        own = [f"listener {self.port} {self.host}", "allow_anonymous true"]
        lines = [
            *(own if listeners is None else [listeners(self.host, self.port)]),
            "set_tcp_nodelay true",
            f"persistence {'true' if persistence else 'false'}",
        ]
        if persistence:
            # As root, Mosquitto drops to the `mosquitto` user, who cannot write to tmp_path.
            lines += [f"persistence_location {self._dir}/", "user root"]
        self.conf_path.write_text("\n".join([*lines, extra_conf, ""]), encoding="utf-8")
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MosquittoServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start Mosquitto and wait until its port accepts connections."""
        if self.running:
            return
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf_path)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        # Its own listener: another test's broker on the same port would answer too.
        while not (accepts(self.host, self.port) and listens(self._proc.pid, self.port)):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start: {self.log_tail()}")
            time.sleep(POLL_S)  # polling the port, not waiting for time to pass

    def stop(self, *, kill: bool = False) -> None:
        """End the process (SIGTERM saves persistence; `kill=True` loses it) and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            if kill:
                proc.kill()
            else:
                proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def restart(self, *, kill: bool = False) -> None:
        """Stop and start again on the same port."""
        self.stop(kill=kill)
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        """The end of Mosquitto's log, for failure messages."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def run_mosquitto(
    tmp_path: Path,
    extra_conf: str = "",
    *,
    persistence: bool = False,
    listeners: Listeners | None = None,
) -> MosquittoServer:
    """Start a Mosquitto on a free port; use as a context manager or call `stop()`.

    `listeners` replaces the one anonymous listener with the caller's (on the same port).
    """
    server = MosquittoServer(tmp_path, extra_conf, persistence=persistence, listeners=listeners)
    server.start()
    return server
