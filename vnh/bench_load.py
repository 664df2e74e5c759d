"""What `vnh bench` measures: a burst of presses, a steady press rate, and a bare MQTT echo."""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim.address import BrokerAddress
from firmware_sim.fleet import Fleet
from firmware_sim.pending import PendingEvent

log = logging.getLogger(__name__)

ROUND_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 30.0
# A terminal resends after this; long enough that a slow burst is not made slower by resends.
BENCH_ACK_TIMEOUT_S = 10.0
BENCH_HEARTBEAT_S = 86_400.0  # no heartbeats during a bench run: they are measured apart
ECHO_INFLIGHT = 1000
UP_FILTER = "vnh/v1/dev/+/up"
MEASURED_PATTERN = "single"  # a service request: opens a case, then joins it
WARM_UP_PATTERN = "double"  # a care need: another case, so the measured burst opens new ones
SETTLE_S = 2.0
QOS = 1


@dataclass(frozen=True)
class Figures:
    """What one backend (the service, or the bare echo) reached."""

    burst_presses: int
    burst_s: float
    burst_per_s: float
    steady_rate_per_s: float
    steady_presses: int
    steady_unacked: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    resends: int

    def as_dict(self) -> dict[str, Any]:
        """The figures as a plain dict."""
        return asdict(self)


def percentile_ms(latencies_s: list[float], fraction: float) -> float | None:
    """The `fraction` percentile (nearest rank) of `latencies_s`, in ms; None when empty."""
    if not latencies_s:
        return None
    ordered = sorted(latencies_s)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index] * 1000.0


def warm_up(fleet: Fleet) -> None:
    """One round of presses that is not measured, then a pause for the backend to settle.

    A service that just started compiles its statements and fills its caches on the first
    presses; a running one has done so long ago. The warm-up presses another pattern
    (a care need), so the measured burst still opens new cases.
    """
    events = [terminal.press(WARM_UP_PATTERN) for terminal in fleet.terminals]
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    for event in events:
        event.wait(max(0.0, deadline - time.monotonic()))
    time.sleep(SETTLE_S)  # the ladders those presses started run their first steps


def burst(fleet: Fleet, rounds: int) -> tuple[int, float]:
    """Every terminal presses at once, `rounds` times; returns (presses acked, seconds taken)."""
    acked, busy_s = 0, 0.0
    for _ in range(rounds):
        started = time.monotonic()
        events = [terminal.press(MEASURED_PATTERN) for terminal in fleet.terminals]
        deadline = started + ROUND_TIMEOUT_S
        for event in events:
            event.wait(max(0.0, deadline - time.monotonic()))
        done = [e for e in events if e.acked_at is not None]
        acked += len(done)
        busy_s += max((e.acked_at or started) for e in done) - started if done else 0.0
    return acked, busy_s


def steady(
    fleet: Fleet, rate_per_s: float, duration_s: float, seed: int = 1
) -> tuple[list[float], int]:
    """Presses at `rate_per_s` (Poisson) on random terminals; returns (latencies s, unacked)."""
    rng = random.Random(seed)
    terminals = fleet.terminals
    events: list[PendingEvent] = []
    start = time.monotonic()
    next_at = start
    while True:
        next_at += rng.expovariate(rate_per_s)
        if next_at - start >= duration_s:
            break
        time.sleep(max(0.0, next_at - time.monotonic()))  # pacing the presses
        events.append(rng.choice(terminals).press(MEASURED_PATTERN))
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    for event in events:
        event.wait(max(0.0, deadline - time.monotonic()))
    latencies = [e.latency_s for e in events if e.latency_s is not None]
    return latencies, len(events) - len(latencies)


def measure(fleet: Fleet, *, rounds: int, rate_per_s: float, duration_s: float) -> Figures:
    """Burst, then steady rate, over a started fleet."""
    warm_up(fleet)
    before = fleet.stats().resends
    presses, busy_s = burst(fleet, rounds)
    # The burst's new cases leave ladder steps and messages to run once it is over; the
    # steady rate is measured after them, not while the service is still catching up.
    time.sleep(SETTLE_S)
    latencies, unacked = steady(fleet, rate_per_s, duration_s)
    return Figures(
        burst_presses=presses,
        burst_s=round(busy_s, 3),
        burst_per_s=round(presses / busy_s, 1) if busy_s > 0 else 0.0,
        steady_rate_per_s=rate_per_s,
        steady_presses=len(latencies) + unacked,
        steady_unacked=unacked,
        p50_ms=_round(percentile_ms(latencies, 0.50)),
        p99_ms=_round(percentile_ms(latencies, 0.99)),
        max_ms=_round(max(latencies) * 1000.0 if latencies else None),
        resends=fleet.stats().resends - before,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class Echo:
    """A bare MQTT backend: acks every `up` on `down` at once, same topics and QoS as ours."""

    def __init__(self, mqtt_url: str) -> None:
        address = BrokerAddress.from_url(mqtt_url)
        self._ready = threading.Event()
        self.echoed = 0
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"vnh-bench-echo-{id(self)}")
        client.max_inflight_messages_set(ECHO_INFLIGHT)
        client.on_socket_open = _nodelay
        client.on_connect = lambda c, *_: c.subscribe(UP_FILTER, QOS)
        client.on_subscribe = lambda *_: self._ready.set()
        client.on_message = self._on_message
        self._client = client
        client.connect(address.host, address.port)
        client.loop_start()
        if not self._ready.wait(ROUND_TIMEOUT_S):
            self.close()
            raise RuntimeError(f"echo client could not subscribe at {mqtt_url}")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            event = json.loads(msg.payload)
            ack = {"ack": event["seq"], "boot": event["boot"], "status": "accepted", "case": None}
        except (ValueError, KeyError, TypeError):
            return
        device_id = msg.topic.split("/")[3]
        client.publish(f"vnh/v1/dev/{device_id}/down", json.dumps(ack), qos=QOS)
        self.echoed += 1

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()


def _nodelay(client: mqtt.Client, userdata: object, sock: Any) -> None:  # noqa: ANN401
    # As the gateway does: without TCP_NODELAY a QoS 1 round trip waits on Nagle.
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def run_fleet(
    mqtt_url: str,
    credentials: list[tuple[str, str]],
    *,
    rounds: int,
    rate_per_s: float,
    duration_s: float,
) -> Figures:
    """Connect a fleet with `credentials`, measure, disconnect it."""
    fleet = Fleet(
        mqtt_url,
        credentials,
        heartbeat_s=BENCH_HEARTBEAT_S,
        ack_timeout_s=BENCH_ACK_TIMEOUT_S,
        seed=1,
    )
    with fleet:
        fleet.start(ROUND_TIMEOUT_S)
        return measure(fleet, rounds=rounds, rate_per_s=rate_per_s, duration_s=duration_s)
