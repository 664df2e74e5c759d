"""The hub's end of a serial line: the master side of a pty pair, or a pyserial port."""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty
from pathlib import Path
from typing import Any, Protocol

import serial

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = 115_200  # PROTOCOL.md: 115200 8N1
READ_CHUNK_BYTES = 4096
READ_POLL_S = 0.2  # the longest a read waits, so the hub's reader sees its stop flag
WRITE_TIMEOUT_S = 1.0
REOPEN_S = 1.0  # a pyserial port that failed is reopened this often
_HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


class HubLine(Protocol):
    """What the hub needs of its line; `read` and `write` are called from different threads."""

    @property
    def name(self) -> str:
        """The line as a person would name it (a path or URL)."""
        ...

    @property
    def peer_present(self) -> bool:
        """False while nobody can be at the other end (a pty nobody opened)."""
        ...

    def read(self) -> bytes:
        """The bytes that came within READ_POLL_S; b"" if none (or nobody is there)."""
        ...

    def write(self, data: bytes) -> bool:
        """Send `data`; False when it could not go out whole."""
        ...

    def close(self) -> None:
        """Release the line (after the reading thread has stopped)."""
        ...


class PtyLine:
    """A pty pair: the hub keeps the master, the gateway opens `gateway_path` (the slave).

    Nobody holds the slave open until the gateway does, so the master reports a hang-up
    until then, and again after the gateway lets go: `peer_present` follows it. With
    `link`, that path is made a symlink to the slave (a name that outlives the pty) and
    removed on close, so it never points at a pty number the system hands out again.
    """

    def __init__(self, link: Path | None = None) -> None:
        master, slave = os.openpty()
        # Raw before anyone opens it: no echo of our lines, no CR LF translation.
        tty.setraw(slave)
        self.gateway_path = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(master, False)
        self._fd = master
        self._closed = threading.Event()
        self._link = link
        if link is not None:
            try:
                point_link(link, self.gateway_path)
            except OSError:
                os.close(master)
                raise

    @property
    def name(self) -> str:
        return str(self._link) if self._link is not None else self.gateway_path

    @property
    def peer_present(self) -> bool:
        if self._closed.is_set():
            return False
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        return not any(event & _HANGUP for _, event in poller.poll(0))

    def read(self) -> bytes:
        if self._closed.is_set():
            return b""
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        events = poller.poll(READ_POLL_S * 1000)
        if any(event & select.POLLIN for _, event in events):
            try:
                return os.read(self._fd, READ_CHUNK_BYTES)
            except OSError:  # EIO: the gateway closed its end just now
                return b""
        if events:  # a hang-up returns at once: wait out the poll time, do not spin
            self._closed.wait(READ_POLL_S)
        return b""

    def write(self, data: bytes) -> bool:
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        view = memoryview(data)
        poller = select.poll()
        poller.register(self._fd, select.POLLOUT)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0 or not poller.poll(left * 1000):
                    return False
            except OSError:
                return False
        return True

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            os.close(self._fd)
            if self._link is not None and os.path.realpath(self._link) == self.gateway_path:
                self._link.unlink(missing_ok=True)


def point_link(link: Path, target: str) -> None:
    """Make `link` a symlink to `target`, replacing what was there in one step."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    os.replace(temporary, link)  # atomic: a reader never finds the link missing


class PyserialLine:
    """A real serial port or pyserial URL, reopened every REOPEN_S after it fails."""

    def __init__(self, port: str, baudrate: int = DEFAULT_BAUDRATE) -> None:
        self._port_name = port
        self._baudrate = baudrate
        self._lock = threading.Lock()  # guards _port
        self._closed = threading.Event()
        self._port: Any = self._open()
        self._failed_at = 0.0

    @property
    def name(self) -> str:
        return self._port_name

    @property
    def peer_present(self) -> bool:
        with self._lock:
            return self._port is not None

    def _open(self) -> Any:  # noqa: ANN401 (pyserial has no types)
        return serial.serial_for_url(
            self._port_name,
            baudrate=self._baudrate,
            timeout=READ_POLL_S,
            write_timeout=WRITE_TIMEOUT_S,
        )

    def _current(self) -> Any:  # noqa: ANN401 (pyserial has no types)
        with self._lock:
            if self._port is None and time.monotonic() - self._failed_at >= REOPEN_S:
                try:
                    self._port = self._open()
                    log.info("hub line %s open again", self._port_name)
                except (serial.SerialException, OSError) as exc:
                    self._failed_at = time.monotonic()
                    log.debug("hub line %s still down: %s", self._port_name, exc)
            return self._port

    def _fail(self, port: Any, exc: Exception) -> None:  # noqa: ANN401
        with self._lock:
            if self._port is port:
                self._port = None
                self._failed_at = time.monotonic()
                log.warning("hub line %s failed: %s; reopening", self._port_name, exc)
                port.close()

    def read(self) -> bytes:
        port = None if self._closed.is_set() else self._current()
        if port is None:
            self._closed.wait(READ_POLL_S)
            return b""
        try:
            data: bytes = port.read(port.in_waiting or 1)
        except (serial.SerialException, OSError) as exc:
            self._fail(port, exc)
            return b""
        return data

    def write(self, data: bytes) -> bool:
        port = None if self._closed.is_set() else self._current()
        if port is None:
            return False
        try:
            port.write(data)
        except serial.SerialTimeoutException:
            return False
        except (serial.SerialException, OSError) as exc:
            self._fail(port, exc)
            return False
        return True

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            port.close()
