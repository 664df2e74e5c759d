"""Real processes for fault tests: `vnh serve` to kill and restart, a press stream, DB checks."""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from firmware_sim.fleet import Fleet
from firmware_sim.pending import PendingEvent
from tests.mosquitto import free_port

# A ceiling, not a speed check: a restarted service imports, migrates and replays its backlog
# while the rest of the suite loads both cores; 30 s proved too short on a slower CI machine.
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.05
PATTERNS = ("single", "double", "triple", "long")
# Terminals resend after this; short, so that a fault costs a test seconds, not minutes.
SIM_ACK_TIMEOUT_S = 2.0
SIM_HEARTBEAT_S = 86_400.0
# Lets Mosquitto keep more than 20 un-PUBACKed presses in flight to the gateway.
BROKER_TUNING = "max_inflight_messages 1000\nmax_queued_messages 100000"


class ServeProcess:
    """`vnh serve` in a child process: start, SIGKILL, restart on the same port and database."""

    def __init__(self, workdir: Path, name: str = "serve", **settings: str) -> None:
        self.name = name
        self.http_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.http_port}"
        self.token = settings.pop("VNH_ADMIN_TOKEN", None) or secrets.token_urlsafe(24)
        self.log_path = workdir / f"{name}.log"
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("VNH_")}
        self._env.update(
            VNH_HTTP_HOST="127.0.0.1",
            VNH_HTTP_PORT=str(self.http_port),
            VNH_ADMIN_TOKEN=self.token,
            VNH_TIMER_SWEEP_INTERVAL_S="0.5",
            **settings,
        )
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the process and wait until its gateway is subscribed."""
        argv = [sys.executable, "-c", "from vnh.cli import main; main()", "serve"]
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.starts + 1}\n".encode())
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self._env)
        self.starts += 1
        self.wait_ready()

    def wait_ready(self) -> None:
        """Poll /healthz until the gateway reports it is subscribed."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc is None or self._proc.poll() is not None:
                    break
                try:
                    body = client.get(
                        f"{self.api_url}/healthz",
                        headers={"Authorization": f"Bearer {self.token}"},
                    ).json()
                except (httpx.HTTPError, ValueError):
                    body = {}
                if body.get("gateway", {}).get("mqtt_connected"):
                    return
                time.sleep(POLL_S)  # polling the service
        raise RuntimeError(f"{self.name} did not become ready:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no drain, no clean disconnect, nothing flushed."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it hangs."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(timeout=10.0) as client:
            response = client.request(
                method, f"{self.api_url}/api/v1{path}", headers=headers, **kwargs
            )
        response.raise_for_status()
        return response.json()


def make_fleet(mqtt_url: str, credentials: list[tuple[str, str]]) -> Fleet:
    return Fleet(
        mqtt_url,
        credentials,
        heartbeat_s=SIM_HEARTBEAT_S,
        ack_timeout_s=SIM_ACK_TIMEOUT_S,
        seed=7,
    )


class PressStream:
    """Presses random terminals at a steady rate on its own thread, keeping every event."""

    def __init__(self, fleet: Fleet, rate_per_s: float, *, seed: int = 11) -> None:
        self._fleet = fleet
        self._rate = rate_per_s
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self.events: list[PendingEvent] = []
        self._thread = threading.Thread(target=self._run, name="press-stream")

    def __enter__(self) -> PressStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        terminals = self._fleet.terminals
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += 1.0 / self._rate
            if self._stop.wait(max(0.0, next_at - time.monotonic())):
                return
            terminal = self._rng.choice(terminals)
            self.events.append(terminal.press(self._rng.choice(PATTERNS)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def wait_acked(self, timeout_s: float) -> list[PendingEvent]:
        """Wait for every event's ack; returns those still without one."""
        deadline = time.monotonic() + timeout_s
        for event in self.events:
            event.wait(max(0.0, deadline - time.monotonic()))
        return [e for e in self.events if not e.done]


def check_every_press_once(database_url: str, events: list[PendingEvent]) -> None:
    """Each press has one device_event row; its ack names that row's case; no case twice."""
    assert events, "no presses were made"
    unacked = [e for e in events if not e.done]
    assert not unacked, f"{len(unacked)} presses never acked, e.g. {unacked[:3]}"
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT device_id, boot, seq, case_id FROM device_event WHERE type = 'press'")
            ).all()
            opened_by = conn.execute(
                text("SELECT device_event_id FROM care_case WHERE device_event_id IS NOT NULL")
            ).all()
    finally:
        engine.dispose()
    count = Counter((r[0], r[1], r[2]) for r in rows)
    doubled = [key for key, n in count.items() if n > 1]
    assert not doubled, f"presses recorded twice: {doubled[:5]}"
    case_of = {(r[0], r[1], r[2]): r[3] for r in rows}
    wrong = []
    for event in events:
        ack = event.ack or {}
        key = (event.device_id, event.boot, event.seq)
        if ack.get("status") not in ("accepted", "duplicate") or key not in case_of:
            wrong.append((key, ack))
        elif ack.get("case") is None or ack["case"] != case_of[key]:
            wrong.append((key, ack, case_of[key]))
    assert not wrong, f"{len(wrong)} presses acked wrongly, e.g. {wrong[:3]}"
    twice = [k for k, n in Counter(r[0] for r in opened_by).items() if n > 1]
    assert not twice, f"one press opened several cases: {twice[:5]}"
