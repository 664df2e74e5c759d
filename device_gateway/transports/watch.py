"""WatchTransport: a receiver for 4G SOS watches speaking the plain-text watch protocol.

A watch is the provisioned device whose `device_id` is its watch ID (10 digits or the
IMEI). It keeps one TCP connection open for days, so every connection lives in ONE
selector thread (never a thread per connection); pipeline workers write the answers.
`LK` is a heartbeat, an `AL` with the SOS bit a press of button `sos`, with a fall bit a
`fall` report, with the low-battery bit a battery report. An `AL` or `LK` is answered
only after intake committed it; a watch that is not provisioned (or retired) gets no
answer and its connection is closed. The protocol carries no secret: see the README.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from care_api.domain.fleet import LOW_BATTERY_PERCENT
from care_api.domain.phones import DEFAULT_REGION
from care_api.domain.watch_commands import WatchCommand
from device_gateway.mapping import to_position
from device_gateway.ports import CommandAnswer, Decoded, Inbound, InboundHandler, Reading
from device_gateway.protocol.model import (
    Ack,
    AckStatus,
    Battery,
    CaseNews,
    Command,
    Fall,
    Heartbeat,
    Pattern,
    Press,
    WireEvent,
)
from device_gateway.protocol.urgency import watch_frame_is_urgent
from device_gateway.protocol.watch_codec import (
    ALARM_KEYWORD,
    ANSWERED_COMMANDS,
    HEALTH_KEYWORDS,
    LINK_KEYWORD,
    POSITION_KEYWORDS,
    FrameReader,
    Position,
    WatchAlarm,
    WatchFrame,
    WatchFrameError,
    command_content,
    decode_health,
    decode_position,
    encode_frame,
    link_battery,
    reply_to,
)
from device_gateway.transports.tcp import AwaitingAnswers, Listening, open_listener, parse_listen

log = logging.getLogger(__name__)

SOURCE = "watch"
SOS_BUTTON = "sos"  # the default keymap makes any sos press an emergency
LEVEL_LOW = LOW_BATTERY_PERCENT - 1  # a low-battery bit without a level below the line
SELECT_TIMEOUT_S = 0.5  # how often the loop looks at the stop flag and the idle clock
READ_CHUNK = 4096
JOIN_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 10_000
MAX_PER_SOURCE = 20
IDLE_TIMEOUT_S = 900.0
# The status-word bits that raise an alarm (both layouts the makers use): 0-2 and 16-22.
KEY_BITS = (0, 1, 2, 16, 17, 18, 19, 20, 21, 22)
SECONDS_PER_DAY = 86_400


def event_key(moment: datetime, status: int) -> tuple[int, int]:
    """The `(boot, seq)` of a watch alarm, derived from the frame alone.

    A watch numbers nothing, and resends an unanswered alarm as the same frame: same
    date, time and status word. So boot is the frame's UTC date (YYYYMMDD) and seq the
    second of that day times 1024 plus the ten alarm bits of the status word packed
    (86 399 * 1024 + 1023 stays far below 2**31). A resend is the same key, whichever
    connection or gateway takes it: one event, one case; two different alarms in the same
    second differ in their bits. Status bits that raise no alarm are left out on purpose.
    """
    at = moment.astimezone(UTC)
    packed = sum(((status >> bit) & 1) << i for i, bit in enumerate(KEY_BITS))
    second = at.hour * 3600 + at.minute * 60 + at.second
    return int(at.strftime("%Y%m%d")), second * 1024 + packed


def event_of(frame: WatchFrame, now: datetime) -> tuple[Position | None, WireEvent | None]:
    """The position a frame carries and the event it stands for (None: nothing to record).

    Raises:
        WatchFrameError: a position or alarm frame whose fields do not decode.
    """
    device_id = frame.watch_id
    if frame.keyword == LINK_KEYWORD:
        # A link frame has no time stamp of its own: keyed by the receive time, and a
        # repeated heartbeat is harmless (intake keeps no row for it).
        boot, seq = event_key(now, 0)
        return None, Heartbeat(device_id=device_id, boot=boot, seq=seq, battery=link_battery(frame))
    if frame.keyword not in POSITION_KEYWORDS and frame.keyword != ALARM_KEYWORD:
        return None, None
    position = decode_position(frame)
    if frame.keyword != ALARM_KEYWORD:
        return position, None
    boot, seq = event_key(position.at or now, position.status)
    alarms = position.alarms
    # One frame is one answer, so one event: the most urgent alarm it raises.
    if WatchAlarm.SOS in alarms:
        return position, Press(
            device_id=device_id, boot=boot, seq=seq, pattern=Pattern.SINGLE, button=SOS_BUTTON
        )
    if WatchAlarm.FALL in alarms:
        return position, Fall(device_id=device_id, boot=boot, seq=seq)
    if WatchAlarm.LOW_BATTERY in alarms:
        level = LEVEL_LOW if position.battery is None else min(position.battery, LEVEL_LOW)
        return position, Battery(device_id=device_id, boot=boot, seq=seq, level=level)
    return position, None


class WatchOffline(ValueError):
    """The watch has no open connection to this receiver: a command cannot reach it now."""


class _Connection:
    """One watch's TCP connection; answers are written under a lock from pipeline workers."""

    def __init__(self, sock: socket.socket, host: str, peer: str, now: float) -> None:
        self.sock = sock
        self.host = host
        self.peer = peer
        self.reader = FrameReader()
        self.watch_id: str | None = None
        self.maker = ""
        self.index: int | None = None  # the last index it sent: commands carry one too
        self.last_heard = now
        self.closing = False
        self._lock = threading.Lock()

    def write(self, data: bytes) -> bool:
        with self._lock:
            if self.closing:
                return False
            try:
                # Answers are a few dozen bytes on a socket nobody else writes to: the
                # kernel buffer takes them whole, or the connection is broken anyway.
                sent = self.sock.send(data)
            except OSError as exc:
                log.info("watch answer to %s dropped: %s", self.peer, exc)
                return False
        return sent == len(data)

    def kill(self) -> None:
        """Close from any thread: the selector thread sees the end and forgets it."""
        with self._lock:
            self.closing = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


@dataclass(slots=True, eq=False)
class WatchReceipt:
    """A frame as a connection cut it; `key` is set once decoded into an event."""

    connection: _Connection
    frame: WatchFrame
    key: tuple[str, int, int] | None = field(default=None)


class WatchTransport(Listening):
    """The gateway's watch receiver: frames in, `LK`/`AL` answers out on the same connection."""

    def __init__(
        self,
        listen: str,
        *,
        max_connections: int = MAX_CONNECTIONS,
        max_per_source: int = MAX_PER_SOURCE,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host, self.port = parse_listen(listen)
        self._max_connections = max_connections
        self._max_per_source = max_per_source
        self._idle_timeout_s = idle_timeout_s
        self._monotonic = monotonic
        self._handler: InboundHandler | None = None
        self._server: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards _pending, _counts, _connections, _per_source
        self._pending = AwaitingAnswers[WatchReceipt](self._lock)
        self._connections: set[_Connection] = set()
        self._by_watch: dict[str, _Connection] = {}  # the newest connection of each watch
        self._per_source: dict[str, int] = {}
        self._counts = dict.fromkeys(
            (
                "frames_in",
                "bad_frames",
                "answers",
                "commands",
                "refused",
                "turned_away",
                "idle_closed",
            ),
            0,
        )

    carries_commands = True

    @property
    def source(self) -> str:
        return SOURCE

    def connected(self, watch_id: str) -> bool:
        """True while the watch holds a connection open to this receiver."""
        with self._lock:
            return watch_id in self._by_watch

    def listen(self) -> None:
        """Bind and listen; OSError when the address is taken. `start` does it if not done."""
        if self._server is not None:
            return
        server = open_listener(self.host, self.port, backlog=512)
        server.setblocking(False)
        self._server = server

    def start(self, handler: InboundHandler) -> None:
        """Listen (if not yet), then serve every watch from one background thread."""
        self._handler = handler
        self._stopping.clear()
        self.listen()
        self._thread = threading.Thread(target=self._loop, name="vnh-watch", daemon=True)
        self._thread.start()
        log.info("watch receiver listening on %s:%d", *self.address)

    def close(self) -> None:
        """Stop accepting, close every connection; bounded in time."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
            self._thread = None
        if self._server is not None:
            self._server.close()
            self._server = None

    # --- pipeline side (worker threads) ------------------------------------------------------

    def urgent(self, item: Inbound) -> bool:
        """An alarm frame (SOS, fall, fence, taken off); link, position and health are routine."""
        receipt = item.receipt
        return not isinstance(receipt, WatchReceipt) or watch_frame_is_urgent(receipt.frame.keyword)

    def decode(self, item: Inbound, now: datetime) -> Decoded | None:
        """What the frame asks: a position and event, a reading, or a command's answer.

        A frame whose fields do not decode is counted and left unanswered (None).
        """
        receipt = _receipt(item)
        frame = receipt.frame
        try:
            if frame.keyword in HEALTH_KEYWORDS:
                reading = Reading(frame.keyword, decode_health(frame))
                return Decoded(frame.watch_id, reading=reading)
            if frame.keyword in ANSWERED_COMMANDS:
                detail = ",".join((frame.keyword, *frame.fields))
                answer = CommandAnswer(ANSWERED_COMMANDS[frame.keyword], detail)
                return Decoded(frame.watch_id, answer=answer)
            position, event = event_of(frame, now)
        except WatchFrameError as exc:
            log.warning("bad frame on %s: %s", self.source, exc)  # no answer, no case
            with self._lock:
                self._counts["bad_frames"] += 1
            return None
        if event is not None:
            receipt.key = (event.device_id, event.boot, event.seq)
            self._pending.hold(receipt.key, receipt)
        alarms = position.alarms if position is not None else frozenset()
        # Only the alarm counts: positions repeat the taken-off bit for as long as it is off.
        taken_off = frame.keyword == ALARM_KEYWORD and WatchAlarm.TAKEN_OFF in alarms
        return Decoded(
            frame.watch_id,
            event=event,
            position=to_position(position, now) if position is not None else None,
            # The watch counted its own cancel window before it raised the fall alarm.
            fall_window_s=0 if event is not None else None,
            left_fence=WatchAlarm.LEFT_FENCE in alarms,
            taken_off_at=((position.at if position else None) or now) if taken_off else None,
            worn=position is not None and WatchAlarm.TAKEN_OFF not in alarms,
        )

    def answer(self, item: Inbound, *, refused: str | None) -> None:
        """Answer a frame with nothing to record; a watch that may not report is cut off."""
        receipt = _receipt(item)
        if refused is not None:
            self._refuse(receipt, refused)
            return
        self._reply(receipt)

    def send_ack(self, device_id: str, ack: Ack, *, urgent: bool = False) -> None:
        """Answer the frame intake just committed (or close, when intake refused the watch)."""
        key = (device_id, ack.boot or 0, ack.seq or 0)
        receipt = self._pending.take(key)
        if receipt is None:
            log.warning("watch answer for %s seq %s has no frame waiting", device_id, ack.seq)
            return
        if ack.status is AckStatus.REJECTED:
            self._refuse(receipt, ack.reason or "rejected")
            return
        self._reply(receipt)

    def settle(self, receipt: object) -> None:
        """Forget a frame left without an answer (the watch resends an alarm)."""
        if not isinstance(receipt, WatchReceipt) or receipt.key is None:
            return
        self._pending.forget(receipt.key, receipt)

    def send_news(self, device_id: str, news: CaseNews) -> None:
        # A watch shows nothing of its case: the answer to its alarm is all it takes.
        log.debug("no case news to watch %s: %s", device_id, news)

    def send_command(self, device_id: str, command: Command) -> None:
        # The command sender turns rows into typed watch commands (send_watch_command).
        raise ValueError(f"a watch cannot carry {command.cmd.value!r}")

    def send_watch_command(
        self, device_id: str, command: WatchCommand, region: str = DEFAULT_REGION
    ) -> None:
        """Write `command` on the watch's connection; the watch answers with its keyword.

        Raises:
            WatchOffline: the watch holds no connection open here (or it broke while sending).
        """
        with self._lock:
            conn = self._by_watch.get(device_id)
        if conn is None:
            raise WatchOffline(f"watch {device_id} is not connected")
        content = command_content(command, region)  # numbers as dialled there
        if not conn.write(encode_frame(conn.maker or "3G", device_id, content, conn.index)):
            raise WatchOffline(f"watch {device_id}: connection broke while sending")
        with self._lock:
            self._counts["commands"] += 1

    def _reply(self, receipt: WatchReceipt) -> None:
        answer = reply_to(receipt.frame)
        if answer is None:
            return
        with self._lock:
            self._counts["answers"] += 1
        receipt.connection.write(answer)

    def _refuse(self, receipt: WatchReceipt, reason: str) -> None:
        log.warning("watch %s refused, closing: %s", receipt.frame.watch_id, reason)
        with self._lock:
            self._counts["refused"] += 1
        receipt.connection.kill()

    # --- the selector thread -----------------------------------------------------------------

    def _loop(self) -> None:
        server = self._server
        if server is None:
            return
        selector = selectors.DefaultSelector()
        selector.register(server, selectors.EVENT_READ, None)
        next_sweep = self._monotonic() + SELECT_TIMEOUT_S
        try:
            while not self._stopping.is_set():
                for key, _ in selector.select(SELECT_TIMEOUT_S):
                    if key.data is None:
                        self._accept(server, selector)
                    else:
                        self._read(key.data, selector)
                if self._monotonic() >= next_sweep:
                    self._sweep_idle(selector)
                    next_sweep = self._monotonic() + SELECT_TIMEOUT_S
        except Exception:
            log.exception("watch receiver loop failed")
        finally:
            with self._lock:
                connections = list(self._connections)
            for conn in connections:
                self._drop(conn, selector)
            selector.close()

    def _accept(self, server: socket.socket, selector: selectors.BaseSelector) -> None:
        try:
            sock, addr = server.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("watch accept failed: %s", exc)
            return
        host = str(addr[0])
        peer = f"{host}:{addr[1]}"
        with self._lock:
            full = len(self._connections) >= self._max_connections
            crowded = self._per_source.get(host, 0) >= self._max_per_source
            if full or crowded:
                self._counts["turned_away"] += 1
            else:
                self._per_source[host] = self._per_source.get(host, 0) + 1
        if full or crowded:
            log.warning(
                "watch connection from %s turned away: %s",
                peer,
                "too many in all" if full else "too many from it",
            )
            _shut(sock)
            return
        sock.setblocking(False)
        conn = _Connection(sock, host, peer, self._monotonic())
        with self._lock:
            self._connections.add(conn)
        selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Connection, selector: selectors.BaseSelector) -> None:
        try:
            data = conn.sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.info("watch connection %s lost: %s", conn.peer, exc)
            data = b""
        if not data or conn.closing:
            self._drop(conn, selector)
            return
        conn.last_heard = self._monotonic()
        for piece in conn.reader.feed(data):
            if isinstance(piece, WatchFrameError):
                log.warning("bad watch frame from %s skipped: %s", conn.peer, piece)
                with self._lock:
                    self._counts["bad_frames"] += 1
                continue
            if conn.watch_id is None:
                conn.watch_id = piece.watch_id
                with self._lock:
                    self._by_watch[piece.watch_id] = conn
            elif piece.watch_id != conn.watch_id:
                # One connection is one watch: another ID on it is someone else speaking.
                log.warning(
                    "watch %s spoke as %s on %s, closing", conn.watch_id, piece.watch_id, conn.peer
                )
                self._drop(conn, selector)
                return
            conn.maker, conn.index = piece.maker, piece.index
            self._hand_over(conn, piece)

    def _hand_over(self, conn: _Connection, frame: WatchFrame) -> None:
        # The topic names the watch: the pipeline keeps one watch's frames in order.
        item = Inbound(f"{SOURCE}/{frame.watch_id}/frame", b"", WatchReceipt(conn, frame), self)
        with self._lock:
            self._counts["frames_in"] += 1
        try:
            if self._handler is None or not self._handler(item):
                log.error("inbox full; watch frame from %s dropped (alarms are resent)", conn.peer)
        except Exception:
            log.exception("watch frame from %s could not be handed over", conn.peer)

    def _sweep_idle(self, selector: selectors.BaseSelector) -> None:
        cutoff = self._monotonic() - self._idle_timeout_s
        with self._lock:
            idle = [c for c in self._connections if c.last_heard <= cutoff]
            self._counts["idle_closed"] += len(idle)
        for conn in idle:
            log.info("watch connection %s idle, closing", conn.peer)
            self._drop(conn, selector)

    def _drop(self, conn: _Connection, selector: selectors.BaseSelector) -> None:
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn.sock)
        with self._lock:
            if conn.watch_id is not None and self._by_watch.get(conn.watch_id) is conn:
                del self._by_watch[conn.watch_id]
            if conn in self._connections:
                self._connections.discard(conn)
                left = self._per_source.get(conn.host, 1) - 1
                if left > 0:
                    self._per_source[conn.host] = left
                else:
                    self._per_source.pop(conn.host, None)
        conn.closing = True
        _shut(conn.sock)


def _receipt(item: Inbound) -> WatchReceipt:
    if not isinstance(item.receipt, WatchReceipt):
        raise TypeError("not a watch frame")
    return item.receipt


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
