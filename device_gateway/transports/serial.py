"""SerialTransport: one hub's serial line (pyserial), reopened with backoff when it vanishes."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import serial

from care_api.domain.model import NOT_BEHIND_HUB
from device_gateway.ports import Decoded, Inbound, InboundHandler
from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.model import Ack, AckStatus, CaseNews, Command, Nak, WireEvent
from device_gateway.protocol.nmea_codec import LineSplitter, decode_line, encode_ack, encode_nak
from device_gateway.protocol.urgency import nmea_line_is_urgent

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = 115_200  # PROTOCOL.md: 115200 8N1 (pyserial's defaults for the rest)
BAUD_SEPARATOR = "@"  # "/dev/ttyUSB0@9600": "@", not ":", which URLs like socket:// use
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0
# How often a quiet reader looks at its stop flag; close() also cancels the read at once.
READ_TIMEOUT_S = 0.5
# A reply that cannot be written in this time is dropped (the hub resends), so a stuck
# line never holds a pipeline worker for long.
WRITE_TIMEOUT_S = 1.0
JOIN_TIMEOUT_S = 5.0
# Our own replies coming back (a loopback, an echoing hub): answering them would start a
# NAK storm, so they are ignored.
_REPLY_PREFIXES = (b"$ACK,", b"$NAK,")
_PORT_ERRORS = (serial.SerialException, OSError, ValueError)


class PortState(StrEnum):
    """What `health()` says of a port."""

    OPEN = "open"
    RETRYING = "retrying"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SerialReceipt:
    """A line as the reader cut it; `error` when the splitter refused it (too long)."""

    error: str | None = None


def parse_port_spec(spec: str) -> tuple[str, int]:
    """Split `"/dev/ttyUSB0@9600"` into `("/dev/ttyUSB0", 9600)`; no `@<digits>`: 115200.

    Raises:
        ValueError: the spec names no port, or the baud rate is 0.
    """
    port, sep, baud = spec.strip().rpartition(BAUD_SEPARATOR)
    if not sep or not baud.isdigit():
        port, baud = spec.strip(), ""
    if not port:
        raise ValueError(f"serial port spec {spec!r} names no port")
    baudrate = int(baud) if baud else DEFAULT_BAUDRATE
    if baudrate <= 0:
        raise ValueError(f"serial port spec {spec!r}: baud rate must be positive")
    return port, baudrate


class SerialTransport:
    """The gateway's end of one serial hub line: `$VNH` lines in, `$ACK` / `$NAK` out.

    A reader thread opens the port, cuts the byte stream into lines and hands each one,
    undecoded, to the pipeline; decoding and replies happen on the pipeline's workers.
    A port that cannot be opened or fails (USB unplugged) is reopened with backoff while
    the rest of the service goes on; `health()` tells its state.
    """

    def __init__(
        self,
        port_spec: str,
        *,
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.port, self.baudrate = parse_port_spec(port_spec)
        self._retry_first_s = retry_first_s
        self._retry_max_s = max(retry_first_s, retry_max_s)
        self._read_timeout_s = read_timeout_s
        self._topic = f"{self.source}/line"  # the pipeline keeps one port's lines in order
        self._handler: InboundHandler | None = None
        self._serial: Any = None  # a pyserial port while open; guarded by _write_lock
        self._write_lock = threading.Lock()
        self._write_failure: Exception | None = None
        self._changed = threading.Condition()  # guards the state and counters below
        self._state = PortState.CLOSED
        self._last_error: str | None = None
        self._counts = dict.fromkeys(("lines_in", "lines_out", "naks", "replies_dropped"), 0)
        self._stopping = threading.Event()
        self._received = False  # bytes came since the port was last opened (reader thread)
        self._thread: threading.Thread | None = None

    @property
    def source(self) -> str:
        return f"serial:{self.port}"

    @property
    def state(self) -> PortState:
        """The port's state now."""
        with self._changed:
            return self._state

    def health(self) -> dict[str, object]:
        """State, last error and line counts of this port, for /healthz."""
        with self._changed:
            return {
                "state": str(self._state),
                "baudrate": self.baudrate,
                "last_error": self._last_error,
                **self._counts,
            }

    def wait_state(self, state: PortState, timeout_s: float) -> bool:
        """Block until the port is in `state`, or `timeout_s` passed; True if it is."""
        with self._changed:
            return self._changed.wait_for(lambda: self._state is state, timeout_s)

    def start(self, handler: InboundHandler) -> None:
        """Open the port in the background (retrying) and hand each line to `handler`."""
        if self._thread is not None:
            raise RuntimeError(f"{self.source} already started")
        self._handler = handler
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"vnh-serial-{self.port}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop reading and close the port; bounded in time."""
        self._stopping.set()
        with self._write_lock:
            self._cancel_read()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("serial reader of %s did not stop in time", self.port)

    def settle(self, receipt: object) -> None:
        """Nothing to do: on serial the `$ACK` is the only acknowledgement."""

    def urgent(self, item: Inbound) -> bool:
        """A line of a press, fall or cancel (or one not read as a technical report)."""
        return nmea_line_is_urgent(item.payload)

    def decode(self, item: Inbound, now: datetime) -> Decoded | None:
        """The event of one line; None for an echo of our own replies or a line `$NAK`ed."""
        try:
            event = self.decode_line(item)
        except FrameError as exc:
            log.warning("NAK on %s: %s", self.source, exc)
            self.send_nak(Nak.from_error(exc))
            return None
        return None if event is None else Decoded(event.device_id, event=event)

    def decode_line(self, item: Inbound) -> WireEvent | None:
        """The event of one line; None for an echo of our own replies.

        Raises:
            FrameError: the line is to be answered `$NAK` with its reason.
        """
        if isinstance(item.receipt, SerialReceipt) and item.receipt.error is not None:
            raise FrameError(item.receipt.error)
        if item.payload.startswith(_REPLY_PREFIXES):
            log.debug("ignoring a reply line on %s: %r", self.port, item.payload[:40])
            return None
        return decode_line(item.payload)

    def answer(self, item: Inbound, *, refused: str | None) -> None:
        """Every line that decodes carries an event: nothing else is ever answered."""

    def send_ack(self, device_id: str, ack: Ack, *, urgent: bool = False) -> None:
        if ack.status is AckStatus.REJECTED and ack.reason == NOT_BEHIND_HUB:
            # The hub is not trusted for this terminal: its line is refused, not acked.
            self.send_nak(Nak(device_id=device_id, boot=ack.boot, seq=ack.seq, reason=ack.reason))
            return
        try:
            line = encode_ack(ack)
        except ValueError:  # a rejection naming no event: only a $NAK can say it
            line = encode_nak(Nak(device_id=device_id, reason=ack.reason or str(ack.status)))
        self._write(line)

    def send_nak(self, nak: Nak) -> None:
        """Answer a line that could not be taken."""
        with self._changed:
            self._counts["naks"] += 1
        self._write(encode_nak(nak))

    def send_news(self, device_id: str, news: CaseNews) -> None:
        # PROTOCOL.md gives serial lines no case-news sentence; the terminal has its ack.
        log.debug("no case news over serial for %s: %s", device_id, news)

    def send_command(self, device_id: str, command: Command) -> None:
        log.warning(
            "command %s for %s dropped: PROTOCOL.md has no serial command sentence",
            command.cmd,
            device_id,
        )

    def _write(self, line: bytes) -> None:
        # Pipeline workers write; the lock keeps their lines whole and the port open meanwhile.
        with self._write_lock:
            port = self._serial
            if port is None:
                self._count_dropped("port not open", line, written=False)
                return
            with self._changed:  # counted first: the hub may read the line before we return
                self._counts["lines_out"] += 1
            try:
                port.write(line)
            except serial.SerialTimeoutException:
                self._count_dropped("write timed out", line)
            except _PORT_ERRORS as exc:
                # The reader owns the port: it closes and reopens it.
                self._write_failure = exc
                self._cancel_read()
                self._count_dropped(str(exc), line)

    def _count_dropped(self, why: str, line: bytes, *, written: bool = True) -> None:
        with self._changed:
            self._counts["replies_dropped"] += 1
            if written:
                self._counts["lines_out"] -= 1
        log.debug("reply on %s dropped (%s): %r", self.port, why, line)

    def _cancel_read(self) -> None:
        port = self._serial
        if port is not None and hasattr(port, "cancel_read"):
            port.cancel_read()

    # --- reader thread ------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._retry_first_s
        while not self._stopping.is_set():
            try:
                port = serial.serial_for_url(
                    self.port,
                    baudrate=self.baudrate,
                    timeout=self._read_timeout_s,
                    write_timeout=WRITE_TIMEOUT_S,
                )
            except _PORT_ERRORS as exc:
                self._set_state(PortState.RETRYING, exc)
            else:
                with self._write_lock:
                    self._serial, self._write_failure = port, None
                self._set_state(PortState.OPEN)
                opened_at = time.monotonic()
                self._received = False
                try:
                    self._read_lines(port)
                except _PORT_ERRORS as exc:
                    self._set_state(PortState.RETRYING, exc)
                finally:
                    self._release(port)
                # A port that worked is retried soon; one that fails as soon as it opens
                # keeps backing off instead of flapping.
                if self._received or time.monotonic() - opened_at >= self._retry_max_s:
                    delay = self._retry_first_s
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, self._retry_max_s)
        self._set_state(PortState.CLOSED)

    def _read_lines(self, port: Any) -> None:  # noqa: ANN401 (pyserial has no types)
        """Read until stopped, or until the port fails (raises)."""
        splitter = LineSplitter()  # a line cut short by a reopen is dropped, not glued on
        while not self._stopping.is_set():
            failure = self._write_failure
            if failure is not None:
                raise failure
            data: bytes = port.read(port.in_waiting or 1)
            if data:
                self._received = True
                for piece in splitter.feed(data):
                    self._hand_over(piece)

    def _hand_over(self, piece: bytes | FrameError) -> None:
        # Enqueue only: decoding, intake and the reply happen on a pipeline worker.
        if isinstance(piece, FrameError):
            item = Inbound(self._topic, b"", SerialReceipt(piece.reason), transport=self)
        else:
            item = Inbound(self._topic, piece, SerialReceipt(), transport=self)
        with self._changed:
            self._counts["lines_in"] += 1
        try:
            if self._handler is None or not self._handler(item):
                log.error("inbox full; line on %s dropped (the hub resends it)", self.port)
        except Exception:
            log.exception("line on %s could not be handed over", self.port)

    def _release(self, port: Any) -> None:  # noqa: ANN401 (pyserial has no types)
        with self._write_lock:
            self._serial = None
            try:
                port.close()
            except _PORT_ERRORS as exc:
                log.debug("closing %s: %s", self.port, exc)

    def _set_state(self, state: PortState, error: Exception | None = None) -> None:
        with self._changed:
            before, self._state = self._state, state
            if error is not None:
                self._last_error = str(error) or type(error).__name__
            self._changed.notify_all()
        if state is before:
            log.debug("serial port %s still %s: %s", self.port, state, error)
        elif state is PortState.OPEN:
            log.info("serial port %s open at %d baud", self.port, self.baudrate)
        elif state is PortState.RETRYING:
            what = "lost" if before is PortState.OPEN else "cannot be opened"
            log.warning("serial port %s %s (%s); retrying with backoff", self.port, what, error)
        else:
            log.info("serial port %s closed", self.port)
