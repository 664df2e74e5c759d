"""A serial hub: many simulated terminals relayed over one line, resending unacked lines."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from firmware_sim import wire
from firmware_sim.fleet import PATTERN_WEIGHTS
from firmware_sim.hub_state import COUNTERS, HubStats, HubTerminal
from firmware_sim.pending import PendingEvent
from firmware_sim.serial_line import HubLine

log = logging.getLogger(__name__)

# PROTOCOL.md: resend a line not acked within 2 s, up to 5 times.
ACK_TIMEOUT_S = 2.0
MAX_RESENDS = 5
HEARTBEAT_S = 300.0
FIRMWARE = "vnh-hub-sim/1.0"
PEER_POLL_S = 0.1  # while nobody is at the other end, look again this often
MAX_REPLY_BUFFER_BYTES = 4 * wire.MAX_LINE_BYTES
JOIN_TIMEOUT_S = 5.0


class Hub:
    """N terminals behind one serial line, as PROTOCOL.md's hubs behave.

    At most one line per terminal is in flight; a line not answered within
    `ack_timeout_s` is sent again, up to `max_resends` times, then counted lost. While
    nobody is at the other end (a pty the gateway has not opened) nothing is sent and no
    timeout runs. Each event's `PendingEvent` is settled with the reply as a dict
    (`status` is accepted / duplicate / rejected, `nak`, or `lost`).
    """

    def __init__(
        self,
        line: HubLine,
        device_ids: Sequence[str],
        *,
        boot: int | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        max_resends: int = MAX_RESENDS,
        seed: int | None = None,
    ) -> None:
        if not device_ids or len(set(device_ids)) != len(device_ids):
            raise ValueError("a hub needs distinct device ids")
        bad = [d for d in device_ids if not wire.is_device_id(d)]
        if bad:
            raise ValueError(f"bad device ids {bad[:5]}")
        if ack_timeout_s <= 0 or heartbeat_s <= 0 or max_resends < 0:
            raise ValueError("timeouts must be positive and max_resends not negative")
        self._line = line
        self._ack_timeout_s = ack_timeout_s
        self._heartbeat_s = heartbeat_s
        self._max_resends = max_resends
        self._rng = random.Random(seed)
        # A boot from the clock keeps (boot, seq) fresh across runs, as a flash counter would.
        first_boot = int(time.time()) % wire.MAX_COUNTER if boot is None else boot
        self._terminals = {d: HubTerminal(d, first_boot) for d in device_ids}
        self._order = list(self._terminals.values())
        self._cond = threading.Condition()  # guards every terminal and the counters
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._drop_replies = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Hub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def line_name(self) -> str:
        """The name of the hub's line (the gateway's end for a pty)."""
        return self._line.name

    @property
    def device_ids(self) -> list[str]:
        """The terminals behind the hub, in order."""
        return [t.device_id for t in self._order]

    def start(self) -> None:
        """Start the reader and the sender threads; heartbeats begin spread over one interval."""
        now = time.monotonic()
        with self._cond:
            for terminal in self._order:
                terminal.next_heartbeat_at = now + self._rng.uniform(0.0, self._heartbeat_s)
        self._threads = [
            threading.Thread(target=self._read_loop, name="sim-hub-read", daemon=True),
            threading.Thread(target=self._send_loop, name="sim-hub-send", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("hub on %s with %d terminals", self._line.name, len(self._order))

    def stop(self) -> None:
        """Stop both threads, then close the line (idempotent)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)
        self._threads = []
        self._line.close()

    # --- events -------------------------------------------------------------------------------

    def press(self, device_id: str, pattern: str = "single", button: str = "main") -> PendingEvent:
        """The elder behind `device_id` presses; the line goes out when its turn comes."""
        if pattern not in wire.PATTERNS:
            raise ValueError(f"pattern must be one of {wire.PATTERNS}, got {pattern!r}")
        return self.send(device_id, "press", button=button, pattern=pattern)

    def send(self, device_id: str, event_type: str, **fields: object) -> PendingEvent:
        """Queue any event of `device_id`; it is sent after the terminal's earlier lines."""
        with self._cond:
            event = self._terminals[device_id].add_event(event_type, fields)
            self._counts["sent"] += 1
            self._cond.notify_all()
        return event

    def restart(self, device_id: str) -> int:
        """Reboot one terminal: boot + 1, seq back to 0; returns the new boot."""
        with self._cond:
            terminal = self._terminals[device_id]
            terminal.boot = (terminal.boot + 1) % (wire.MAX_COUNTER + 1)
            terminal.seq = 0
            return terminal.boot

    def drop_next_replies(self, count: int) -> None:
        """Throw away the next `count` replies, as a noisy line would (tests, demos)."""
        with self._cond:
            self._drop_replies += count

    def run(
        self,
        rate_per_s: float,
        duration_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Press random terminals at `rate_per_s` (Poisson) for `duration_s` or until `stop`."""
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        stop = stop or threading.Event()
        end = time.monotonic() + duration_s if duration_s else float("inf")
        next_at = time.monotonic()
        patterns, weights = list(PATTERN_WEIGHTS), list(PATTERN_WEIGHTS.values())
        while True:
            next_at += self._rng.expovariate(rate_per_s)
            if next_at >= end:
                stop.wait(max(0.0, end - time.monotonic()))
                return
            if stop.wait(max(0.0, next_at - time.monotonic())):
                return
            terminal = self._rng.choice(self._order)
            self.press(terminal.device_id, self._rng.choices(patterns, weights)[0])

    # --- state for callers --------------------------------------------------------------------

    def stats(self) -> HubStats:
        """Counters since the start, and events not yet settled."""
        with self._cond:
            pending = sum(len(t.queue) + (t.inflight is not None) for t in self._order)
            return HubStats(terminals=len(self._order), pending=pending, **self._counts)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every event is settled (acked, NAKed or lost); False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: all(t.inflight is None and not t.queue for t in self._order), timeout_s
            )

    # --- sender thread ------------------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                present = self._line.peer_present
                now = time.monotonic()
                lines = self._due_lines(now) if present else self._hold(now)
                if not lines:
                    wake = self._next_wake() if present else now + PEER_POLL_S
                    self._cond.wait(max(0.0, wake - time.monotonic()))
                    continue
            for line in lines:
                if not self._line.write(line):
                    log.debug("hub line %s: write failed; the resend covers it", self._line.name)

    def _hold(self, now: float) -> list[bytes]:
        # Nobody there: nothing goes out, so no line may time out meanwhile.
        for terminal in self._order:
            if terminal.inflight is not None:
                terminal.inflight.next_resend_at = max(terminal.inflight.next_resend_at, now)
        return []

    def _next_wake(self) -> float:
        wake = float("inf")
        for terminal in self._order:
            wake = min(wake, terminal.next_heartbeat_at)
            if terminal.inflight is not None:
                wake = min(wake, terminal.inflight.next_resend_at)
            elif terminal.queue:
                return time.monotonic()
        return min(wake, time.monotonic() + PEER_POLL_S)  # the peer may go away meanwhile

    def _due_lines(self, now: float) -> list[bytes]:
        lines: list[bytes] = []
        for terminal in self._order:
            if now >= terminal.next_heartbeat_at:
                terminal.next_heartbeat_at = now + self._heartbeat_s
                self._queue_heartbeat(terminal)
            event = terminal.inflight
            if event is not None and now >= event.next_resend_at:
                if terminal.tries > self._max_resends:
                    self._finish(terminal, {"ack": event.seq, "boot": event.boot, "status": "lost"})
                    self._counts["lost"] += 1
                    log.warning("hub gave up on %s seq=%d", terminal.device_id, event.seq)
                    event = None
                else:
                    terminal.tries += 1
                    event.resends += 1
                    self._counts["resends"] += 1
                    event.next_resend_at = now + self._ack_timeout_s
                    lines.append(event.payload)
            if terminal.inflight is None and terminal.queue:
                event = terminal.inflight = terminal.queue.popleft()
                terminal.tries = 1
                event.next_resend_at = now + self._ack_timeout_s
                lines.append(event.payload)
        return lines

    def _queue_heartbeat(self, terminal: HubTerminal) -> None:
        terminal.add_event("heartbeat", {"battery": self._rng.randint(60, 100), "fw": FIRMWARE})
        self._counts["sent"] += 1

    def _finish(self, terminal: HubTerminal, reply: dict[str, Any]) -> None:
        event, terminal.inflight = terminal.inflight, None
        terminal.tries = 0
        self._cond.notify_all()
        if event is not None:
            event.settle(reply)

    # --- reader thread ------------------------------------------------------------------------

    def _read_loop(self) -> None:
        buffer = bytearray()
        while True:
            with self._cond:
                if self._stopping:
                    return
            try:
                buffer += self._line.read()
                *lines, rest = bytes(buffer).split(b"\n")
                buffer = bytearray(rest[-MAX_REPLY_BUFFER_BYTES:])
                for line in lines:
                    if b"$" in line:
                        self._on_reply(line)
            except Exception:
                log.exception("hub reader step failed")

    def _on_reply(self, line: bytes) -> None:
        try:
            reply = wire.parse_reply(line)
        except wire.WireError as exc:
            log.debug("hub: unreadable reply %r: %s", line[:80], exc)
            with self._cond:
                self._counts["extra_replies"] += 1
            return
        with self._cond:
            if self._drop_replies > 0:
                self._drop_replies -= 1
                self._counts["dropped_replies"] += 1
                return
            terminal = self._terminals.get(reply.device_id or "")
            event = terminal.inflight if terminal else None
            matches = event is not None and (event.boot, event.seq) == (reply.boot, reply.seq)
            if not reply.is_ack:
                self._counts["naks"] += 1
                log.warning("hub got $NAK %s,%s,%s: %s", *self._key(reply), reply.reason)
            elif matches and reply.status in wire.ACK_STATUSES:
                self._counts[reply.status or "rejected"] += 1
            else:
                self._counts["extra_replies"] += 1
            if terminal is not None and event is not None and matches:
                body = {"ack": reply.seq, "boot": reply.boot, "case": reply.case}
                status = reply.status if reply.is_ack else "nak"
                reason = reply.reason or reply.extra.get("reason")
                self._finish(terminal, {**body, "status": status, "reason": reason})

    @staticmethod
    def _key(reply: wire.SerialReply) -> tuple[str, str, str]:
        return (
            reply.device_id or "-",
            "-" if reply.boot is None else str(reply.boot),
            "-" if reply.seq is None else str(reply.seq),
        )
