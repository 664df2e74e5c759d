"""What `vnh bench` measures: a burst of presses, a steady press rate, and a bare MQTT echo.

The terminals of a run are one load generator (`LoadGenerator`) in a process of its own: one
thread, raw MQTT 3.1.1 frames built in advance, every socket on one selector. Simulated
terminals (a paho client and a thread each) cost about 0.8 ms of CPU a press on their side,
so at 1,000 presses/s on two cores they, not the service, set the p99.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import selectors
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim import wire
from firmware_sim.address import BrokerAddress

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
KEEPALIVE_S = 60
PING_EVERY_S = 30.0
RESEND_CHECK_S = 0.5
READ_BYTES = 65536
GENERATOR_CODE = "from vnh.bench_load import generator_main; generator_main()"

# MQTT 3.1.1 packet types (high nibble of the first byte).
CONNACK, PUBLISH, PUBACK, SUBACK, PINGRESP = 2, 3, 4, 9, 13
PINGREQ_FRAME = b"\xc0\x00"
DISCONNECT_FRAME = b"\xe0\x00"


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
    generator_cpu_ms_per_press: float | None = None  # the load generator's own cost

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


# --- MQTT 3.1.1 frames ------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _text(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return len(raw).to_bytes(2, "big") + raw


def _frame(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def connect_frame(device_id: str, secret: str) -> bytes:
    """CONNECT as a terminal's: persistent session, retained `offline` will, credentials."""
    # username, password, will retain, will QoS 1, will flag; clean session off.
    flags = 0x80 | 0x40 | 0x20 | 0x08 | 0x04
    header = _text("MQTT") + bytes([4, flags]) + KEEPALIVE_S.to_bytes(2, "big")
    payload = _text(device_id) + _text(wire.status_topic(device_id)) + _text("offline")
    return _frame(0x10, header + payload + _text(device_id) + _text(secret))


def subscribe_frame(topic: str, packet_id: int) -> bytes:
    """SUBSCRIBE to one topic at QoS 1."""
    return _frame(0x82, packet_id.to_bytes(2, "big") + _text(topic) + bytes([QOS]))


def publish_frame(topic: bytes, payload: bytes, packet_id: int, *, retain: bool = False) -> bytes:
    """PUBLISH at QoS 1; `topic` already length-prefixed (see `_text`)."""
    return _frame(0x32 | int(retain), topic + packet_id.to_bytes(2, "big") + payload)


def puback_frame(packet_id: int) -> bytes:
    """PUBACK of a QoS 1 message the broker delivered."""
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


def _device_time() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def press_payload(boot: int, seq: int, pattern: str) -> bytes:
    """A press as `firmware_sim.wire.encode_event` writes it, without its checks."""
    return (
        f'{{"boot":{boot},"seq":{seq},"type":"press","ts":"{_device_time()}",'
        f'"button":"main","pattern":"{pattern}"}}'
    ).encode()


# --- the load generator -----------------------------------------------------------------------


class _Press:
    __slots__ = ("acked_at", "conn", "last_sent_at", "payload", "resends", "sent_at")

    def __init__(self, conn: _Conn, payload: bytes, now: float) -> None:
        self.conn = conn
        self.payload = payload
        self.sent_at = self.last_sent_at = now
        self.acked_at: float | None = None
        self.resends = 0


class _Conn:
    """One terminal's connection: its socket, buffers, counters and unacked presses."""

    def __init__(self, device_id: str, secret: str, boot: int) -> None:
        self.device_id = device_id
        self.secret = secret
        self.boot = boot
        self.seq = 0
        self.up_topic = _text(wire.up_topic(device_id))
        self.down_topic = wire.down_topic(device_id)
        self.sock: socket.socket | None = None
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.packet_id = 0
        self.subscribed = False
        self.pending: dict[int, _Press] = {}

    def next_packet_id(self) -> int:
        self.packet_id = self.packet_id % 65535 + 1
        return self.packet_id


class LoadGenerator:
    """Many terminals pressing over raw MQTT from one thread: a cheap, exact press clock."""

    def __init__(self, mqtt_url: str, credentials: list[tuple[str, str]], seed: int = 1) -> None:
        self._address = BrokerAddress.from_url(mqtt_url)
        if self._address.tls:
            raise ValueError("the load generator speaks plain MQTT only")
        # A boot from the clock keeps (boot, seq) fresh across runs against the same backend.
        boot = int(time.time()) % wire.MAX_COUNTER
        self._conns = [_Conn(device_id, secret, boot) for device_id, secret in credentials]
        self._by_topic = {c.down_topic: c for c in self._conns}
        self._selector = selectors.DefaultSelector()
        self._rng = random.Random(seed)
        self.resends = 0
        self._next_ping = 0.0
        self._next_resend_check = 0.0

    # --- connections ----------------------------------------------------------------------

    def connect(self, timeout_s: float) -> None:
        """Connect every terminal and subscribe it to its `down`; TimeoutError if some cannot."""
        for conn in self._conns:
            sock = socket.create_connection((self._address.host, self._address.port), timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            conn.sock = sock
            self._selector.register(sock, selectors.EVENT_READ, conn)
            self._send(conn, connect_frame(conn.device_id, conn.secret))
        deadline = time.monotonic() + timeout_s
        while not all(c.subscribed for c in self._conns):
            if time.monotonic() > deadline:
                missing = sum(1 for c in self._conns if not c.subscribed)
                raise TimeoutError(f"{missing} of {len(self._conns)} terminals not subscribed")
            self._poll(0.05)
        self._next_ping = time.monotonic() + PING_EVERY_S

    def close(self) -> None:
        """Publish each terminal's `offline` flag, disconnect, close the sockets."""
        for conn in self._conns:
            if conn.sock is None:
                continue
            topic = _text(wire.status_topic(conn.device_id))
            self._send(conn, publish_frame(topic, b"offline", conn.next_packet_id(), retain=True))
            self._send(conn, DISCONNECT_FRAME)
        deadline = time.monotonic() + 2.0
        while any(c.outbuf for c in self._conns if c.sock) and time.monotonic() < deadline:
            self._poll(0.01)
        for conn in self._conns:
            if conn.sock is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(conn.sock)
                conn.sock.close()
                conn.sock = None
        self._selector.close()

    def _send(self, conn: _Conn, frame: bytes) -> None:
        sock = conn.sock
        if sock is None:
            return
        if conn.outbuf:
            conn.outbuf += frame
            return
        try:
            sent = sock.send(frame)
        except BlockingIOError:
            sent = 0
        if sent < len(frame):
            conn.outbuf += frame[sent:]
            self._selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def _flush(self, conn: _Conn) -> None:
        if conn.sock is None:
            return
        try:
            sent = conn.sock.send(conn.outbuf)
        except BlockingIOError:
            return
        del conn.outbuf[:sent]
        if not conn.outbuf:
            self._selector.modify(conn.sock, selectors.EVENT_READ, conn)

    # --- the loop -------------------------------------------------------------------------

    def _poll(self, timeout_s: float) -> None:
        """Service every socket that is ready, waiting at most `timeout_s`."""
        for key, mask in self._selector.select(max(0.0, timeout_s)):
            conn = key.data
            if mask & selectors.EVENT_WRITE:
                self._flush(conn)
            if mask & selectors.EVENT_READ:
                self._read(conn, time.monotonic())
        now = time.monotonic()
        if now >= self._next_ping:
            self._next_ping = now + PING_EVERY_S
            for conn in self._conns:
                self._send(conn, PINGREQ_FRAME)
        if now >= self._next_resend_check:
            self._next_resend_check = now + RESEND_CHECK_S
            self._resend_due(now)

    def _read(self, conn: _Conn, now: float) -> None:
        if conn.sock is None:
            return
        try:
            data = conn.sock.recv(READ_BYTES)
        except BlockingIOError:
            return
        if not data:
            raise ConnectionError(f"{conn.device_id}: the broker closed the connection")
        buf = conn.inbuf
        buf += data
        while len(buf) >= 2:
            length, shift, pos = 0, 0, 1
            while True:
                if pos >= len(buf):
                    return  # the length itself is not complete yet
                byte = buf[pos]
                length |= (byte & 0x7F) << shift
                shift += 7
                pos += 1
                if not byte & 0x80:
                    break
            if len(buf) < pos + length:
                return
            first, body = buf[0], bytes(buf[pos : pos + length])
            del buf[: pos + length]
            self._packet(conn, first, body, now)

    def _packet(self, conn: _Conn, first: int, body: bytes, now: float) -> None:
        kind = first >> 4
        if kind == PUBLISH:
            topic_len = int.from_bytes(body[:2], "big")
            topic = body[2 : 2 + topic_len].decode()
            rest = 2 + topic_len
            qos = (first >> 1) & 3
            if qos:
                self._send(conn, puback_frame(int.from_bytes(body[rest : rest + 2], "big")))
                rest += 2
            if topic == conn.down_topic:
                self._downlink(conn, body[rest:], now)
        elif kind == CONNACK:
            if body[1] != 0:
                raise ConnectionError(f"{conn.device_id}: connect refused (code {body[1]})")
            self._send(conn, subscribe_frame(conn.down_topic, conn.next_packet_id()))
            status = _text(wire.status_topic(conn.device_id))
            self._send(conn, publish_frame(status, b"online", conn.next_packet_id(), retain=True))
        elif kind == SUBACK:
            if body[2:3] == b"\x80":
                raise ConnectionError(f"{conn.device_id}: subscription refused")
            conn.subscribed = True
        # PUBACK and PINGRESP need nothing: the application ack is what counts.

    def _downlink(self, conn: _Conn, payload: bytes, now: float) -> None:
        try:
            message = json.loads(payload)
            seq, boot = message["ack"], message.get("boot", conn.boot)
        except (ValueError, KeyError, TypeError):
            return  # case news or a command: not what the bench measures
        if boot != conn.boot:
            return
        press = conn.pending.pop(seq, None)
        if press is not None and press.acked_at is None:
            press.acked_at = now

    def _resend_due(self, now: float) -> None:
        for conn in self._conns:
            for seq, press in conn.pending.items():
                if now - press.last_sent_at >= BENCH_ACK_TIMEOUT_S:
                    press.last_sent_at = now
                    press.resends += 1
                    self.resends += 1
                    self._send(
                        conn, publish_frame(conn.up_topic, press.payload, conn.next_packet_id())
                    )
                    log.debug("%s: resent seq %d", conn.device_id, seq)

    def press(self, conn: _Conn, pattern: str) -> _Press:
        """One press of `conn`'s button, sent at once."""
        seq = conn.seq
        conn.seq += 1
        payload = press_payload(conn.boot, seq, pattern)
        press = _Press(conn, payload, time.monotonic())
        conn.pending[seq] = press
        self._send(conn, publish_frame(conn.up_topic, payload, conn.next_packet_id()))
        return press

    def wait(self, presses: list[_Press], timeout_s: float) -> None:
        """Serve the sockets until every press in `presses` is acked, or `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        for press in presses:
            while press.acked_at is None and time.monotonic() < deadline:
                self._poll(min(0.05, max(0.0, deadline - time.monotonic())))

    def idle(self, seconds: float) -> None:
        """Serve the sockets for `seconds` (acks, case news), pressing nothing."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._poll(min(0.05, left))

    # --- the phases -----------------------------------------------------------------------

    def warm_up(self) -> None:
        """One round of presses that is not measured, then a pause for the backend to settle.

        A service that just started compiles its statements and fills its caches on the first
        presses; a running one has done so long ago. The warm-up presses another pattern
        (a care need), so the measured burst still opens new cases.
        """
        self.wait([self.press(c, WARM_UP_PATTERN) for c in self._conns], ROUND_TIMEOUT_S)
        self.idle(SETTLE_S)  # the ladders those presses started run their first steps

    def burst(self, rounds: int) -> tuple[int, float]:
        """Every terminal presses at once, `rounds` times; returns (presses acked, seconds)."""
        acked, busy_s = 0, 0.0
        for _ in range(rounds):
            started = time.monotonic()
            presses = [self.press(c, MEASURED_PATTERN) for c in self._conns]
            self.wait(presses, ROUND_TIMEOUT_S)
            done = [p.acked_at for p in presses if p.acked_at is not None]
            acked += len(done)
            busy_s += max(done) - started if done else 0.0
        return acked, busy_s

    def steady(self, rate_per_s: float, duration_s: float) -> list[_Press]:
        """Presses at `rate_per_s` (Poisson) on random terminals for `duration_s`."""
        rng = self._rng
        presses: list[_Press] = []
        start = time.monotonic()
        next_at = start
        while True:
            next_at += rng.expovariate(rate_per_s)
            if next_at - start >= duration_s:
                break
            # Serve the sockets until the next press is due (acks are timed as they arrive).
            while (left := next_at - time.monotonic()) > 0:
                self._poll(left)
            presses.append(self.press(rng.choice(self._conns), MEASURED_PATTERN))
        self.wait(presses, DRAIN_TIMEOUT_S)
        return presses


def measure(
    mqtt_url: str,
    credentials: list[tuple[str, str]],
    *,
    rounds: int,
    rate_per_s: float,
    duration_s: float,
) -> Figures:
    """Connect the terminals, warm up, burst, then steady rate; in this process."""
    generator = LoadGenerator(mqtt_url, credentials)
    try:
        generator.connect(ROUND_TIMEOUT_S)
        cpu_before = time.process_time()
        generator.warm_up()
        before = generator.resends
        presses_acked, busy_s = generator.burst(rounds)
        # The burst's new cases leave ladder steps and messages to run once it is over; the
        # steady rate is measured after them, not while the service is still catching up.
        generator.idle(SETTLE_S)
        steady = generator.steady(rate_per_s, duration_s)
        cpu_s = time.process_time() - cpu_before
        resends = generator.resends - before
    finally:
        generator.close()
    latencies = [p.acked_at - p.sent_at for p in steady if p.acked_at is not None]
    total = len(credentials) * (rounds + 1) + len(steady)
    return Figures(
        burst_presses=presses_acked,
        burst_s=round(busy_s, 3),
        burst_per_s=round(presses_acked / busy_s, 1) if busy_s > 0 else 0.0,
        steady_rate_per_s=rate_per_s,
        steady_presses=len(steady),
        steady_unacked=len(steady) - len(latencies),
        p50_ms=_round(percentile_ms(latencies, 0.50)),
        p99_ms=_round(percentile_ms(latencies, 0.99)),
        max_ms=_round(max(latencies) * 1000.0 if latencies else None),
        resends=resends,
        generator_cpu_ms_per_press=round(cpu_s / total * 1000.0, 4),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def generator_main() -> None:
    """The generator process: its task as JSON on stdin, its figures as JSON on stdout."""
    task = json.loads(sys.stdin.read())
    figures = measure(
        task["mqtt_url"],
        [(d, s) for d, s in task["credentials"]],
        rounds=task["rounds"],
        rate_per_s=task["rate_per_s"],
        duration_s=task["duration_s"],
    )
    sys.stdout.write(json.dumps(figures.as_dict()))


def run_fleet(
    mqtt_url: str,
    credentials: list[tuple[str, str]],
    *,
    rounds: int,
    rate_per_s: float,
    duration_s: float,
) -> Figures:
    """Measure `credentials`' terminals on `mqtt_url` from a load generator process of its own.

    Its own process, so that its clock and its sockets share no interpreter lock with the
    echo or with whatever else the bench runs meanwhile.
    """
    task = {
        "mqtt_url": mqtt_url,
        "credentials": credentials,
        "rounds": rounds,
        "rate_per_s": rate_per_s,
        "duration_s": duration_s,
    }
    timeout = ROUND_TIMEOUT_S * (rounds + 2) + duration_s + DRAIN_TIMEOUT_S + 4 * SETTLE_S
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", GENERATOR_CODE],
        input=json.dumps(task),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ},
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-2000:]}")
    return Figures(**json.loads(done.stdout))


# --- the bare echo ----------------------------------------------------------------------------


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
