"""Many simulated terminals pressing at random, with counts and press-to-ack latency."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

from firmware_sim import wire
from firmware_sim.address import BrokerAddress
from firmware_sim.netloop import NetLoop
from firmware_sim.pending import PendingEvent, TerminalStats
from firmware_sim.terminal import ACK_TIMEOUT_S, HEARTBEAT_S, Terminal

log = logging.getLogger(__name__)

# Pattern mix of real presses: mostly single (service), long and triple are emergencies.
PATTERN_WEIGHTS = {"single": 50, "double": 25, "long": 15, "triple": 10}
RESTART_PROBABILITY = 0.01  # per press: the terminal rebooted just before (new boot, seq 0)
DUPLICATE_PROBABILITY = 0.005  # per press: the same event goes out twice at once
LATENCY_SAMPLES = 100_000  # the newest ones; enough for a stable p99
STOP_CONCURRENCY = 32  # parallel Terminal.stop() calls; each waits for its `offline` PUBACK
NAMES_SHOWN = 5
IDLE_POLL_S = 0.05


@dataclass(frozen=True)
class FleetStats:
    """Counts over the whole fleet, and press-to-ack latency percentiles in ms."""

    terminals: int
    ready: int
    presses: int
    restarts: int
    sent: int
    resends: int
    accepted: int
    duplicate: int
    rejected: int
    extra_acks: int
    pending: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        """The figures as a plain dict."""
        return asdict(self)

    def summary(self) -> str:
        """One line for a live display."""

        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}"

        return (
            f"ready {self.ready}/{self.terminals}  presses {self.presses}  sent {self.sent}  "
            f"accepted {self.accepted}  duplicate {self.duplicate}  rejected {self.rejected}  "
            f"resends {self.resends}  pending {self.pending}  "
            f"p50 {ms(self.latency_p50_ms)} ms  p99 {ms(self.latency_p99_ms)} ms"
        )


def _percentile_ms(sorted_s: list[float], fraction: float) -> float | None:
    if not sorted_s:
        return None
    index = min(len(sorted_s) - 1, max(0, round(fraction * len(sorted_s)) - 1))
    return sorted_s[index] * 1000.0


class Fleet:
    """Many terminals, one paho client each, pressing as a Poisson process."""

    def __init__(
        self,
        mqtt_url: str,
        credentials: list[tuple[str, str]],
        *,
        heartbeat_s: float = HEARTBEAT_S,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        seed: int | None = None,
        boot: int | None = None,
    ) -> None:
        if not credentials:
            raise ValueError("a fleet needs at least one device")
        broker = BrokerAddress.from_url(mqtt_url)
        ids = [device_id for device_id, _ in credentials]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate device ids in credentials")
        bad = [i for i in ids if not wire.is_device_id(i)]
        if bad:
            raise ValueError(f"bad device ids {bad[:5]}")
        self._rng = random.Random(seed)
        self._netloop = NetLoop("sim-fleet-net")  # one I/O thread for every terminal
        # A boot from the clock keeps (boot, seq) fresh across runs against the same backend,
        # as the flash counter of a real terminal would.
        first_boot = int(time.time()) % wire.MAX_COUNTER if boot is None else boot
        try:
            self._terminals = {
                device_id: Terminal(
                    device_id,
                    secret,
                    broker,
                    boot=first_boot,
                    heartbeat_s=heartbeat_s,
                    # Spread heartbeats over the interval instead of all at once.
                    first_heartbeat_s=self._rng.uniform(0.0, heartbeat_s),
                    ack_timeout_s=ack_timeout_s,
                    rng=random.Random(self._rng.random()),
                    netloop=self._netloop,
                )
                for device_id, secret in credentials
            }
        except (TypeError, ValueError):
            self._netloop.close()
            raise
        self._order = list(self._terminals.values())
        self._lock = threading.Lock()
        self._latencies_s: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._patterns: Counter[str] = Counter()
        self._restarts = 0
        self._closed = threading.Event()
        self._run_stops: set[threading.Event] = set()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def terminals(self) -> list[Terminal]:
        """Every terminal, in the order of the credentials."""
        return list(self._order)

    def terminal(self, device_id: str) -> Terminal:
        """The terminal with this device id (KeyError if none)."""
        return self._terminals[device_id]

    def start(self, timeout_s: float = 30.0) -> None:
        """Connect every terminal; raise TimeoutError (after stopping them) if some cannot."""
        for terminal in self._order:
            terminal.start()
        deadline = time.monotonic() + timeout_s
        missing = [
            t for t in self._order if not t.wait_ready(max(0.0, deadline - time.monotonic()))
        ]
        if missing:
            errors = Counter(t.last_error or "no answer" for t in missing)
            self.stop()
            names = ", ".join(t.device_id for t in missing[:NAMES_SHOWN])
            more = ", …" if len(missing) > NAMES_SHOWN else ""
            raise TimeoutError(
                f"{len(missing)} of {len(self._order)} terminals not connected after "
                f"{timeout_s:g} s ({names}{more}): {dict(errors)}"
            )
        log.info("fleet of %d terminals connected", len(self._order))

    def run(
        self,
        rate_per_s: float,
        duration_s: float | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        """Press random terminals at `rate_per_s` (Poisson) for `duration_s` or until stopped."""
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        stop = stop_event or threading.Event()
        with self._lock:
            self._run_stops.add(stop)  # so that stop() also ends a run waiting on its own event
        try:
            self._run(rate_per_s, duration_s, stop)
        finally:
            with self._lock:
                self._run_stops.discard(stop)

    def _run(self, rate_per_s: float, duration_s: float | None, stop: threading.Event) -> None:
        start = time.monotonic()
        end = start + duration_s if duration_s else float("inf")
        next_at = start
        while not self._closed.is_set():
            next_at += self._rng.expovariate(rate_per_s)
            if next_at >= end:
                stop.wait(max(0.0, end - time.monotonic()))
                return
            if stop.wait(max(0.0, next_at - time.monotonic())) or self._closed.is_set():
                return
            try:
                self._press_random()
            except Exception:
                log.exception("random press failed")

    def _press_random(self) -> PendingEvent:
        terminal = self._rng.choice(self._order)
        if self._rng.random() < RESTART_PROBABILITY:
            terminal.restart()
            with self._lock:
                self._restarts += 1
        pattern = self._rng.choices(list(PATTERN_WEIGHTS), list(PATTERN_WEIGHTS.values()))[0]
        event = terminal.press(pattern)
        with self._lock:
            self._patterns[pattern] += 1
        event.add_done_callback(self._record_latency)
        if self._rng.random() < DUPLICATE_PROBABILITY:
            terminal.resend(event)
        return event

    def _record_latency(self, event: PendingEvent) -> None:
        latency = event.latency_s
        if latency is not None:
            with self._lock:
                self._latencies_s.append(latency)

    def pattern_counts(self) -> dict[str, int]:
        """Presses made by `run` so far, by pattern."""
        with self._lock:
            return dict(self._patterns)

    def stats(self) -> FleetStats:
        """Counts over every terminal, and press-to-ack latency p50/p99 in ms."""
        total = sum((t.stats() for t in self._order), TerminalStats())
        with self._lock:
            latencies = sorted(self._latencies_s)
            presses = sum(self._patterns.values())
            restarts = self._restarts
        return FleetStats(
            terminals=len(self._order),
            ready=sum(1 for t in self._order if t.ready),
            presses=presses,
            restarts=restarts,
            sent=total.sent,
            resends=total.resends,
            accepted=total.accepted,
            duplicate=total.duplicate,
            rejected=total.rejected,
            extra_acks=total.extra_acks,
            pending=total.pending,
            latency_p50_ms=_percentile_ms(latencies, 0.50),
            latency_p99_ms=_percentile_ms(latencies, 0.99),
        )

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no event is pending; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while any(t.stats().pending for t in self._order):
            if self._closed.wait(min(IDLE_POLL_S, max(0.0, deadline - time.monotonic()))):
                return False
            if time.monotonic() >= deadline:
                return False
        return True

    def stop(self) -> None:
        """Stop `run`, then disconnect every terminal cleanly (idempotent)."""
        self._closed.set()
        with self._lock:
            for stop in self._run_stops:
                stop.set()
        with ThreadPoolExecutor(STOP_CONCURRENCY, thread_name_prefix="sim-stop") as pool:
            list(pool.map(Terminal.stop, self._order))
        self._netloop.close()
