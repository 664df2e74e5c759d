"""One simulated one-button terminal speaking PROTOCOL.md over MQTT with its own paho client."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from firmware_sim import wire
from firmware_sim.address import BrokerAddress
from firmware_sim.commands import answer, check_heartbeat
from firmware_sim.link import MqttLink
from firmware_sim.netloop import NetLoop
from firmware_sim.pending import PendingEvent, TerminalStats

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0
HEARTBEAT_S = 300.0
FIRMWARE = "vnh-sim/1.0"
LOW_BATTERY_PCT = 20
# 0.02 % a heartbeat: 100 % → 20 % in about two weeks at the default 300 s interval.
BATTERY_DRAIN_PER_HEARTBEAT_PCT = 0.02


def _device_time() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Terminal:
    """A simulated terminal: presses, heartbeats, command answers, resend until acked.

    Thread-safe: `press`/`send` may be called from any thread. A worker thread per terminal
    handles resends, heartbeats and downlink; sockets are driven by a NetLoop, shared by a
    fleet or owned by this terminal.
    """

    def __init__(
        self,
        device_id: str,
        secret: str,
        broker: BrokerAddress | str,
        *,
        boot: int = 1,
        heartbeat_s: float = HEARTBEAT_S,
        first_heartbeat_s: float | None = None,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        battery_pct: float = 100.0,
        fw: str = FIRMWARE,
        announce_boot: bool = False,
        rng: random.Random | None = None,
        netloop: NetLoop | None = None,
    ) -> None:
        if not wire.is_device_id(device_id):
            raise ValueError(f"bad device id {device_id!r}")
        if ack_timeout_s <= 0:
            raise ValueError("ack_timeout_s must be positive")
        self.device_id = device_id
        self._secret = secret
        self._broker = BrokerAddress.from_url(broker) if isinstance(broker, str) else broker
        self._boot = boot
        self._seq = 0
        self._heartbeat_s = check_heartbeat(heartbeat_s)
        self._first_heartbeat_s = heartbeat_s if first_heartbeat_s is None else first_heartbeat_s
        self._ack_timeout_s = ack_timeout_s
        self._battery = battery_pct
        self._fw = fw
        self._announce_boot = announce_boot
        self._rng = rng or random.Random()
        self._netloop = netloop  # shared with a fleet; else this terminal runs its own
        self._own_netloop: NetLoop | None = None

        # One re-entrant lock guards all state below; the worker waits on it.
        self._cond = threading.Condition(threading.RLock())
        self._pending: dict[tuple[int, int], PendingEvent] = {}
        self._inbox: list[bytes] = []
        self._case_news: list[dict[str, Any]] = []
        self._commands: list[dict[str, Any]] = []
        self._counts: dict[str, int] = dict.fromkeys(
            ("sent", "resends", "accepted", "duplicate", "rejected", "extra_acks"), 0
        )
        self._link: MqttLink | None = None
        self._last_link: MqttLink | None = None
        self._connected = False
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._next_heartbeat_at = float("inf")

    def __repr__(self) -> str:
        return f"Terminal({self.device_id} boot={self._boot} seq={self._seq})"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (see `wait_ready`); also after `crash()`."""
        with self._cond:
            if self._link is not None:
                raise RuntimeError(f"{self.device_id} already started")
            self._stopping = False
            if self._worker is None:
                self._next_heartbeat_at = time.monotonic() + self._first_heartbeat_s
                self._worker = threading.Thread(
                    target=self._run, name=f"sim-{self.device_id}", daemon=True
                )
                self._worker.start()
            netloop = self._netloop
            if netloop is None:
                if self._own_netloop is None:
                    self._own_netloop = NetLoop(f"sim-net-{self.device_id}")
                netloop = self._own_netloop
            link = MqttLink(
                self.device_id, self._secret, self._broker, self._on_up, self._on_down, netloop
            )
            self._link = self._last_link = link
        link.open()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until connected and subscribed to `down`; False on timeout."""
        link = self._link
        return link is not None and link.wait_ready(timeout)

    @property
    def ready(self) -> bool:
        """True while connected and subscribed."""
        link = self._link
        return link is not None and link.ready

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed, if it did."""
        link = self._last_link
        return None if link is None else link.last_error

    def stop(self) -> None:
        """Publish `offline`, disconnect cleanly and join this terminal's threads."""
        with self._cond:
            link, self._link = self._link, None
        if link is not None:
            link.close()
        with self._cond:
            self._connected = False
            self._stopping = True
            worker, self._worker = self._worker, None
            own_netloop, self._own_netloop = self._own_netloop, None
            self._cond.notify_all()
        if worker is not None and worker is not threading.current_thread():
            worker.join()
        if own_netloop is not None:
            own_netloop.close()

    def crash(self) -> None:
        """Drop the connection as a power cut would: no DISCONNECT, so the broker sends the will.

        Unacked events survive (as if kept in flash); `start()` reconnects.
        """
        with self._cond:
            link, self._link = self._link, None
            self._connected = False
        if link is not None:
            link.kill()

    def restart(self) -> int:
        """Simulate a reboot: boot + 1 and seq back to 0; returns the new boot."""
        with self._cond:
            if self._boot >= wire.MAX_COUNTER:
                raise ValueError("boot counter exhausted")
            self._boot += 1
            self._seq = 0
            boot = self._boot
        if self._announce_boot:
            self.send("boot", fw=self._fw)
        return boot

    # --- uplink -------------------------------------------------------------------------------

    def press(self, pattern: str = "single", button: str = "main") -> PendingEvent:
        """The elder presses the button; returns the event, resent until acked."""
        if pattern not in wire.PATTERNS:
            raise ValueError(f"pattern must be one of {wire.PATTERNS}, got {pattern!r}")
        return self.send("press", button=button, pattern=pattern)

    def send(self, event_type: str, **fields: object) -> PendingEvent:
        """Send any event type with its fields; returns the event, resent until acked."""
        with self._cond:
            boot, seq = self._boot, self._seq
            payload = wire.encode_event(boot, seq, event_type, {"ts": _device_time(), **fields})
            self._seq += 1
            now = time.monotonic()
            event = PendingEvent(self.device_id, boot, seq, event_type, payload, now)
            link = self._link if self._connected else None
            # Offline: due at once, so it goes out as soon as the connection is back.
            event.next_resend_at = now + self._ack_timeout_s if link is not None else now
            self._pending[(boot, seq)] = event
            self._counts["sent"] += 1
            self._cond.notify_all()
        if link is not None:
            link.publish_up(payload)
        log.debug("%s sent %s boot=%d seq=%d", self.device_id, event_type, boot, seq)
        return event

    def resend(self, event: PendingEvent) -> None:
        """Send `event` again at once, as a terminal that missed the ack would."""
        with self._cond:
            event.resends += 1
            self._counts["resends"] += 1
            link = self._link if self._connected else None
        if link is not None:
            link.publish_up(event.payload)

    # --- state for callers --------------------------------------------------------------------

    @property
    def boot(self) -> int:
        """The current boot counter."""
        return self._boot

    @property
    def seq(self) -> int:
        """The seq the next event will carry."""
        return self._seq

    @property
    def heartbeat_s(self) -> float:
        """The current heartbeat interval in seconds."""
        return self._heartbeat_s

    @property
    def battery_pct(self) -> float:
        """The simulated battery level."""
        return self._battery

    def set_heartbeat(self, seconds: float) -> None:
        """Change the heartbeat interval; the next heartbeat is due `seconds` from now."""
        with self._cond:
            self._heartbeat_s = check_heartbeat(seconds)
            self._next_heartbeat_at = time.monotonic() + self._heartbeat_s
            self._cond.notify_all()

    def case_news(self) -> list[dict[str, Any]]:
        """Every case news message received, oldest first."""
        with self._cond:
            return list(self._case_news)

    def commands(self) -> list[dict[str, Any]]:
        """Every downlink command received, oldest first."""
        with self._cond:
            return list(self._commands)

    def pending(self) -> list[PendingEvent]:
        """Events still waiting for their ack."""
        with self._cond:
            return list(self._pending.values())

    def stats(self) -> TerminalStats:
        """Counters since creation."""
        with self._cond:
            return TerminalStats(**self._counts, pending=len(self._pending))

    def wait_until(self, predicate: Callable[[Terminal], bool], timeout: float) -> bool:
        """Block until `predicate(self)` holds (checked on every downlink); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    # --- link callbacks (paho's network thread: hand off only) -------------------------------

    def _on_up(self, up: bool) -> None:
        with self._cond:
            self._connected = up
            self._cond.notify_all()  # when up, overdue resends go out now

    def _on_down(self, payload: bytes) -> None:
        with self._cond:
            self._inbox.append(payload)
            self._cond.notify_all()

    # --- worker thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._inbox:
                    timeout = self._next_wake() - time.monotonic()
                    if timeout <= 0:
                        break
                    self._cond.wait(None if timeout == float("inf") else timeout)
                if self._stopping:
                    return
                inbox, self._inbox = self._inbox, []
                due, heartbeat_due, link = self._collect_due(time.monotonic())
            try:
                for payload in inbox:
                    self._handle_downlink(payload)
                for event in due:
                    if link is not None:
                        link.publish_up(event.payload)
                if heartbeat_due:
                    self._send_heartbeat()
            except Exception:
                log.exception("%s: worker step failed", self.device_id)

    def _next_wake(self) -> float:
        if not self._connected:
            return float("inf")  # on_connect wakes us
        wake = self._next_heartbeat_at
        for event in self._pending.values():
            wake = min(wake, event.next_resend_at)
        return wake

    def _collect_due(self, now: float) -> tuple[list[PendingEvent], bool, MqttLink | None]:
        if not self._connected or self._link is None:
            return [], False, None
        due = [e for e in self._pending.values() if e.next_resend_at <= now]
        for event in due:
            event.resends += 1
            event.next_resend_at = now + self._ack_timeout_s
        self._counts["resends"] += len(due)
        heartbeat_due = now >= self._next_heartbeat_at
        if heartbeat_due:
            self._next_heartbeat_at = now + self._heartbeat_s
        return due, heartbeat_due, self._link

    def _send_heartbeat(self) -> None:
        with self._cond:
            before = self._battery
            self._battery = max(0.0, before - BATTERY_DRAIN_PER_HEARTBEAT_PCT)
            level = round(self._battery)
            crossed = before >= LOW_BATTERY_PCT > self._battery
            rssi = self._rng.randint(-95, -55)
        self.send("heartbeat", battery=level, rssi=rssi, fw=self._fw)
        if crossed:
            self.send("battery", level=level)

    def _handle_downlink(self, payload: bytes) -> None:
        try:
            message = wire.decode_downlink(payload)
        except wire.WireError as exc:
            log.warning("%s: bad downlink %r: %s", self.device_id, payload[:200], exc)
            return
        if isinstance(message, wire.Ack):
            self._settle(message)
        elif isinstance(message, wire.CaseNews):
            with self._cond:
                self._case_news.append(message.raw)
                self._cond.notify_all()
            log.info("%s case news %s: %s", self.device_id, message.case, message.say)
        else:
            self._answer(message)

    def _settle(self, ack: wire.Ack) -> None:
        with self._cond:
            boot = self._boot if ack.boot is None else ack.boot
            event = None if ack.seq is None else self._pending.pop((boot, ack.seq), None)
            if event is None:
                self._counts["extra_acks"] += 1
            else:
                status = ack.status if ack.status in wire.ACK_STATUSES else "rejected"
                self._counts[status] += 1
            self._cond.notify_all()
        if ack.status == "rejected":
            log.warning("%s: event seq=%s rejected: %s", self.device_id, ack.seq, ack.reason)
        if event is not None:
            event.settle(ack.raw)

    def _answer(self, command: wire.Command) -> None:
        with self._cond:
            self._commands.append(command.raw)
            self._cond.notify_all()
        if command.id is None:
            log.warning("%s: command %s has no id; cannot answer", self.device_id, command.cmd)
            return
        reply = answer(command)
        if reply.heartbeat_s is not None:
            self.set_heartbeat(reply.heartbeat_s)
        self.send("cmd_result", ref=command.id, ok=reply.ok, detail=reply.detail)
