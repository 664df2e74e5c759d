"""Dc09Transport: a SIA DC-09 receiver on TCP, so alarm panels and PERS units report in.

A panel's account `#1234` is the provisioned device `dc09-1234` (account in upper case).
Its messages become the same wire events as a terminal's (a 1101 is an SOS press), go
through the same pipeline, and are answered ACK only once intake has committed them;
DUH when intake refuses (unknown or retired device), NAK when the frame is bad.

Each connection has a thread, so their number is bounded, in all and per source address:
a connection beyond either cap is closed at once (the panel retries, or turns to its
backup receiver) and counted; connections already open, and the alarms on them, are never
given up for a new one. A connection silent for `idle_timeout_s` is closed.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from care_api.domain.fleet import LOW_BATTERY_PERCENT
from device_gateway.ports import Decoded, Inbound, InboundHandler
from device_gateway.protocol.dc09_codec import (
    Dc09Error,
    Dc09Message,
    FrameSplitter,
    Signal,
    Token,
    decode_frame,
    encode_answer,
    encode_nak,
    signal_of,
)
from device_gateway.protocol.model import (
    Ack,
    AckStatus,
    Battery,
    CaseNews,
    Command,
    Heartbeat,
    Pattern,
    Power,
    PowerState,
    Press,
    WireEvent,
)
from device_gateway.protocol.urgency import dc09_frame_is_urgent
from device_gateway.transports.tcp import AwaitingAnswers, Listening, open_listener, parse_listen

log = logging.getLogger(__name__)

SOURCE = "dc09"
DEVICE_PREFIX = "dc09-"
SOS_BUTTON = "sos"  # the default keymap makes any sos press an emergency
# A panel says "battery low" or "restored", not a level: the level is set just across
# the service's low-battery line so the same crossing rules apply.
LEVEL_LOW = LOW_BATTERY_PERCENT - 1
LEVEL_OK = LOW_BATTERY_PERCENT + 1
READ_TIMEOUT_S = 0.5  # how often a quiet connection looks at the stop flag
WRITE_TIMEOUT_S = 2.0
# A connection silent this long is closed: panels connect per event (or poll more often).
IDLE_TIMEOUT_S = 60.0
MAX_CONNECTIONS = 256  # one thread each
MAX_PER_SOURCE = 16  # one address (a panel, or a NAT in front of several) cannot take them all
JOIN_TIMEOUT_S = 5.0
REFUSAL_LOG_EVERY = 100  # a flood of refusals logs one line in this many


def _message(receipt: Dc09Receipt, payload: bytes) -> Dc09Message:
    # A frame the reader already found broken (length, CRC) is refused like one that
    # does not decode.
    if receipt.error is not None:
        raise Dc09Error(receipt.error)
    return decode_frame(payload)


def device_id_for(account: str) -> str:
    """The device id a DC-09 account reports as: `dc09-` + the account in upper case."""
    return DEVICE_PREFIX + account.upper()


def event_of(message: Dc09Message, received_at: datetime) -> WireEvent | None:
    """The wire event a message stands for, or None when the service does not act on it.

    Key: `dc09-<account>`, boot = the UTC day it was received (YYYYMMDD), seq = the
    message's 4-digit sequence read as hex, so a resend of the same message is a duplicate.
    """
    signal = signal_of(message)
    if signal is None:
        return None
    device_id = device_id_for(message.account)
    boot = int(received_at.astimezone(UTC).strftime("%Y%m%d"))
    seq = int(message.seq, 16)
    match signal:
        case Signal.EMERGENCY:
            return Press(
                device_id=device_id, boot=boot, seq=seq, pattern=Pattern.SINGLE, button=SOS_BUTTON
            )
        case Signal.BATTERY_LOW | Signal.BATTERY_OK:
            level = LEVEL_LOW if signal is Signal.BATTERY_LOW else LEVEL_OK
            return Battery(device_id=device_id, boot=boot, seq=seq, level=level)
        case Signal.POWER_LOST | Signal.POWER_RESTORED:
            state = PowerState.LOST if signal is Signal.POWER_LOST else PowerState.RESTORED
            return Power(device_id=device_id, boot=boot, seq=seq, state=state)
        case Signal.ALIVE:
            return Heartbeat(device_id=device_id, boot=boot, seq=seq)


class _Connection:
    """One panel's TCP connection; replies are written under a lock from pipeline workers."""

    def __init__(
        self, sock: socket.socket, peer: str, source: str, clock: Callable[[], float]
    ) -> None:
        self.sock = sock
        self.peer = peer
        self.source = source  # the peer's address, without its port
        self._clock = clock
        self.last_active = clock()  # a frame in or an answer out
        self._lock = threading.Lock()

    def touch(self) -> None:
        """Something went over the connection: its idle time starts again."""
        self.last_active = self._clock()

    def idle_for(self) -> float:
        """Seconds since anything went over the connection."""
        return self._clock() - self.last_active

    def write(self, data: bytes) -> bool:
        with self._lock:
            try:
                self.sock.sendall(data)
            except OSError as exc:
                log.info("DC-09 reply to %s dropped: %s", self.peer, exc)
                return False
        self.touch()
        return True


@dataclass(slots=True, eq=False)
class Dc09Receipt:
    """A frame as a connection cut it; `key` is set once decoded into an event."""

    connection: _Connection
    error: str | None = None
    message: Dc09Message | None = None
    key: tuple[str, int, int] | None = field(default=None)


class Dc09Transport(Listening):
    """The gateway's DC-09 receiver: frames in, ACK / NAK / DUH out, on the same connection."""

    def __init__(
        self,
        listen: str,
        *,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        max_per_source: int = MAX_PER_SOURCE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A receiver for `listen` ("host:port"), not listening yet.

        Args:
            listen: the address to listen on; port 0 picks a free one.
            idle_timeout_s: a connection silent this long is closed.
            max_connections: connections open at once, in all; more are closed at once.
            max_per_source: connections open at once from one address.
            clock: monotonic seconds, for the idle time.
        """
        self.host, self.port = parse_listen(listen)
        if max_connections < 1 or max_per_source < 1 or idle_timeout_s <= 0:
            raise ValueError("DC-09 connection caps and idle timeout must be positive")
        self._idle_timeout_s = idle_timeout_s
        self._max_connections = max_connections
        self._max_per_source = max_per_source
        self._clock = clock
        self._handler: InboundHandler | None = None
        self._server: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()  # guards _pending, _counts, _connections
        self._pending = AwaitingAnswers[Dc09Receipt](self._lock)
        self._connections: set[_Connection] = set()
        self._per_source: Counter[str] = Counter()
        self._counts = dict.fromkeys(
            ("frames_in", "acks", "naks", "duhs", "refused", "idle_closed"), 0
        )

    @property
    def source(self) -> str:
        return SOURCE

    def listen(self) -> None:
        """Bind and listen; OSError when the address is taken. `start` does it if not done."""
        if self._server is not None:
            return
        server = open_listener(self.host, self.port, backlog=16)
        server.settimeout(READ_TIMEOUT_S)
        self._server = server

    def start(self, handler: InboundHandler) -> None:
        """Listen (if not yet), then accept panels in the background; frames go to `handler`."""
        self._handler = handler
        self._stopping.clear()
        self.listen()
        self._spawn(self._accept, "vnh-dc09-accept")
        log.info("DC-09 receiver listening on %s:%d", *self.address)

    def close(self) -> None:
        """Stop accepting, close every connection; bounded in time."""
        self._stopping.set()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            _shut(conn.sock)
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)
        self._threads = []
        if self._server is not None:
            self._server.close()
            self._server = None

    # --- pipeline side (worker threads) ------------------------------------------------------

    def urgent(self, item: Inbound) -> bool:
        """An alarm frame (or one the glance cannot read); AC, battery and link are routine."""
        return dc09_frame_is_urgent(item.payload)

    def decode(self, item: Inbound, now: datetime) -> Decoded | None:
        """The event of one frame (None in `Decoded`: nothing to record, see `answer`).

        A frame that cannot be taken is answered NAK or DUH here, and None returned.
        """
        receipt = _receipt(item)
        try:
            message = _message(receipt, item.payload)
        except Dc09Error as exc:
            log.warning("%s on %s: %s", exc.answer, self.source, exc)
            self.refuse(item, exc, now)
            return None
        receipt.message = message
        event = event_of(message, now)
        if event is not None:
            receipt.key = (event.device_id, event.boot, event.seq)
            self._pending.hold(receipt.key, receipt)
        return Decoded(device_id_for(message.account), event=event)

    def answer(self, item: Inbound, *, refused: str | None) -> None:
        """Answer a message with nothing to record: ACK, or DUH naming why it is `refused`."""
        receipt = _receipt(item)
        message = receipt.message
        if message is None:  # never decoded: nothing to echo
            log.warning("DC-09 frame on %s answered before it was decoded", self.source)
            return
        if refused is not None:
            log.warning("DC-09 account %s refused: %s", message.account, refused)
            self._reply(receipt.connection, Token.DUH, encode_answer(Token.DUH, message))
            return
        log.info(
            "DC-09 %s from %s taken, nothing to do: %r",
            message.token,
            message.account,
            message.data,
        )
        self._reply(receipt.connection, Token.ACK, encode_answer(Token.ACK, message))

    def refuse(self, item: Inbound, error: Dc09Error, now: datetime) -> None:
        """Answer a frame that could not be taken: DUH echoing it, or NAK."""
        receipt = _receipt(item)
        message = error.message
        if error.answer is Token.DUH and message is not None:
            self._reply(receipt.connection, Token.DUH, encode_answer(Token.DUH, message))
        else:
            self._reply(receipt.connection, Token.NAK, encode_nak(now, message))

    def send_ack(self, device_id: str, ack: Ack, *, urgent: bool = False) -> None:
        """ACK (accepted, duplicate) or DUH (rejected) the message intake just answered."""
        receipt = self._pending.take((device_id, ack.boot or 0, ack.seq or 0))
        if receipt is None or receipt.message is None:
            log.warning("DC-09 answer for %s seq %s has no message waiting", device_id, ack.seq)
            return
        answer = Token.DUH if ack.status is AckStatus.REJECTED else Token.ACK
        if answer is Token.DUH:
            log.warning("DC-09 account %s refused: %s", receipt.message.account, ack.reason)
        self._reply(receipt.connection, answer, encode_answer(answer, receipt.message))

    def settle(self, receipt: object) -> None:
        """Forget a frame left without an answer (the panel resends it)."""
        if not isinstance(receipt, Dc09Receipt) or receipt.key is None:
            return
        self._pending.forget(receipt.key, receipt)

    def send_news(self, device_id: str, news: CaseNews) -> None:
        # DC-09 has no way back to a panel but the answer to its message.
        log.debug("no case news over DC-09 for %s: %s", device_id, news)

    def send_command(self, device_id: str, command: Command) -> None:
        log.warning("command %s for %s dropped: DC-09 carries no commands", command.cmd, device_id)

    def _reply(self, conn: _Connection, answer: Token, frame: bytes) -> None:
        key = {Token.ACK: "acks", Token.NAK: "naks", Token.DUH: "duhs"}[answer]
        with self._lock:
            self._counts[key] += 1
        conn.write(frame)

    # --- network threads ---------------------------------------------------------------------

    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        server = self._server
        while server is not None and not self._stopping.is_set():
            try:
                sock, addr = server.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if not self._stopping.is_set():
                    log.warning("DC-09 accept failed: %s", exc)
                    self._stopping.wait(READ_TIMEOUT_S)
                continue
            peer = f"{addr[0]}:{addr[1]}"
            conn = _Connection(sock, peer, str(addr[0]), self._clock)
            if self._admit(conn):
                self._spawn(self._read, f"vnh-dc09-{peer}", conn)
            else:
                _shut(sock)

    def _admit(self, conn: _Connection) -> bool:
        # Refusing the newcomer, never dropping an open connection: an alarm may be on it.
        with self._lock:
            if len(self._connections) >= self._max_connections:
                why = f"{self._max_connections} connections open"
            elif self._per_source[conn.source] >= self._max_per_source:
                why = f"{self._max_per_source} connections open from {conn.source}"
            else:
                self._connections.add(conn)
                self._per_source[conn.source] += 1
                return True
            self._counts["refused"] += 1
            refused = self._counts["refused"]
        if refused % REFUSAL_LOG_EVERY == 1:
            log.warning("DC-09 connection from %s refused: %s (%d so far)", conn.peer, why, refused)
        return False

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            if conn in self._connections:
                self._connections.discard(conn)
                self._per_source[conn.source] -= 1
                if self._per_source[conn.source] <= 0:
                    del self._per_source[conn.source]

    def _read(self, conn: _Connection) -> None:
        sock = conn.sock
        sock.settimeout(READ_TIMEOUT_S)
        splitter = FrameSplitter()
        topic = f"{SOURCE}/{conn.peer}/frame"  # the pipeline keeps one connection's frames in order
        try:
            while not self._stopping.is_set():
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    if conn.idle_for() >= self._idle_timeout_s:
                        log.info("DC-09 connection %s idle, closing", conn.peer)
                        with self._lock:
                            self._counts["idle_closed"] += 1
                        break
                    continue
                if not data:
                    break
                conn.touch()
                for piece in splitter.feed(data):
                    self._hand_over(conn, topic, piece)
        except OSError as exc:
            log.info("DC-09 connection %s lost: %s", conn.peer, exc)
        finally:
            self._forget(conn)
            _shut(sock)

    def _hand_over(self, conn: _Connection, topic: str, piece: bytes | Dc09Error) -> None:
        if isinstance(piece, Dc09Error):
            item = Inbound(topic, b"", Dc09Receipt(conn, error=piece.reason), transport=self)
        else:
            item = Inbound(topic, piece, Dc09Receipt(conn), transport=self)
        with self._lock:
            self._counts["frames_in"] += 1
        try:
            if self._handler is None or not self._handler(item):
                log.error("inbox full; DC-09 frame from %s dropped (the panel resends)", conn.peer)
        except Exception:
            log.exception("DC-09 frame from %s could not be handed over", conn.peer)


def _receipt(item: Inbound) -> Dc09Receipt:
    if not isinstance(item.receipt, Dc09Receipt):
        raise TypeError("not a DC-09 frame")
    return item.receipt


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
