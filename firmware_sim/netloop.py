"""One thread driving the sockets of many paho clients through a selector (epoll on Linux).

paho's own loop (`loop_start`) calls `select()`, which fails for file descriptors above 1023,
and it opens a socket pair per client: a process stops connecting at about 340 terminals
(eclipse-paho/paho.mqtt.python#238, #819). paho's external-loop API (`loop_read`, `loop_write`,
`loop_misc` and the `on_socket_*` callbacks) has no such limit.
"""

from __future__ import annotations

import contextlib
import logging
import random
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

log = logging.getLogger(__name__)

MISC_INTERVAL_S = 0.25  # keepalive pings and reconnect checks
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 30.0
CONNECT_TIMEOUT_S = 5.0
CONNECT_WORKERS = 8  # a TCP connect (and TLS handshake) blocks, so it runs off the I/O thread
READ_PACKETS = 100  # per readable event; the selector is level-triggered, so nothing is lost

ConnectFailed = Callable[[Exception], None]


@dataclass
class _Entry:
    client: mqtt.Client
    on_fail: ConnectFailed | None
    want: bool = True  # reconnect whenever the connection is gone
    connecting: bool = False
    attempts: int = 0
    next_attempt_at: float = 0.0


class NetLoop:
    """Connects, reconnects (with backoff) and services many paho clients from one thread."""

    def __init__(self, name: str = "sim-net") -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # a connect attempt has finished
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        # epoll applies interest changes to a wait in progress; select() and poll() do not.
        self._wake_on_change = not isinstance(self._selector, selectors.EpollSelector)
        self._entries: dict[mqtt.Client, _Entry] = {}
        self._rng = random.Random()
        self._connector = ThreadPoolExecutor(CONNECT_WORKERS, thread_name_prefix=f"{name}-connect")
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def add(
        self,
        client: mqtt.Client,
        host: str,
        port: int,
        keepalive: int,
        on_fail: ConnectFailed | None = None,
    ) -> None:
        """Take over `client`'s sockets and connect it; reconnects until `release`d."""
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.connect_async(host, port, keepalive)
        entry = _Entry(client, on_fail)
        with self._lock:
            if self._closing:
                raise RuntimeError("network loop is closed")
            self._entries[client] = entry
        self._start_connect(entry)

    def release(self, client: mqtt.Client) -> None:
        """Stop reconnecting `client`, waiting out a connect attempt already under way."""
        with self._lock:
            entry = self._entries.get(client)
            if entry is not None:
                entry.want = False
                self._settled.wait_for(lambda: not entry.connecting, CONNECT_TIMEOUT_S * 2)

    def remove(self, client: mqtt.Client) -> None:
        """Forget `client`, closing its socket if paho has not (a stuck disconnect)."""
        with self._lock:
            entry = self._entries.pop(client, None)
            if entry is not None:
                entry.want = False
            sock = client.socket()
            if sock is not None:
                # A stale registration would refuse the next socket that reuses this fd.
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """Stop the thread and the connector pool; clients should be removed first."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._wake()
        self._thread.join()
        self._connector.shutdown(wait=True)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # --- connecting (connector threads) -------------------------------------------------------

    def _start_connect(self, entry: _Entry) -> None:
        with self._lock:
            if entry.connecting or not entry.want or self._closing:
                return
            entry.connecting = True
            entry.attempts += 1
            delay = min(RECONNECT_MIN_S * 2 ** (entry.attempts - 1), RECONNECT_MAX_S)
            # Jitter, so that a broker restart is not met by every terminal at once.
            entry.next_attempt_at = time.monotonic() + delay * self._rng.uniform(0.5, 1.0)
        self._connector.submit(self._connect, entry)

    def _connect(self, entry: _Entry) -> None:
        try:
            if entry.want:
                entry.client.reconnect()
        except (OSError, ValueError) as exc:
            log.debug("connect failed: %s", exc)
            if entry.on_fail is not None:
                entry.on_fail(exc)
        except Exception:
            log.exception("connect crashed")
        finally:
            with self._lock:
                entry.connecting = False
                self._settled.notify_all()

    # --- paho socket callbacks (any thread) ---------------------------------------------------

    def _on_socket_open(self, client: mqtt.Client, userdata: object, sock: SocketLike) -> None:
        # paho never sets TCP_NODELAY; without it a QoS 1 round trip takes ~44 ms, not ~1 ms.
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._selector.register(sock, selectors.EVENT_READ, client)
        if self._wake_on_change:
            self._wake()

    def _on_socket_close(self, client: mqtt.Client, userdata: object, sock: SocketLike) -> None:
        with self._lock:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                log.debug("socket of %s was not registered", client)

    def _on_register_write(self, client: mqtt.Client, userdata: object, sock: SocketLike) -> None:
        self._set_events(client, sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        if self._wake_on_change:
            self._wake()

    def _on_unregister_write(self, client: mqtt.Client, userdata: object, sock: SocketLike) -> None:
        self._set_events(client, sock, selectors.EVENT_READ)
        # paho's register/unregister flag races with publish() on another thread: a packet
        # queued while loop_write was finishing would sit unsent until the broker's keepalive
        # timeout. Looking again after dropping the interest closes that window.
        if client.want_write():
            self._set_events(client, sock, selectors.EVENT_READ | selectors.EVENT_WRITE)

    def _set_events(self, client: mqtt.Client, sock: SocketLike, events: int) -> None:
        with self._lock:
            try:
                self._selector.modify(sock, events, client)
            except (KeyError, ValueError):
                log.debug("socket of %s is gone", client)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full: already awake; closed: closing
            self._wake_w.send(b"\0")

    # --- the I/O thread -----------------------------------------------------------------------

    def _run(self) -> None:
        next_misc = time.monotonic()
        while not self._closing:
            timeout = max(0.0, next_misc - time.monotonic())
            try:
                ready = self._selector.select(timeout)
            except (OSError, ValueError):
                # A socket was closed between registration and select: retry with the rest.
                log.debug("select failed; retrying", exc_info=True)
                continue
            for key, mask in ready:
                if key.data is None:
                    self._drain_wake()
                    continue
                self._service(key.data, mask)
            if time.monotonic() >= next_misc:
                self._misc()
                next_misc = time.monotonic() + MISC_INTERVAL_S

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError: drained
            while self._wake_r.recv(4096):
                pass

    @staticmethod
    def _service(client: mqtt.Client, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ:
                client.loop_read(READ_PACKETS)
            if mask & selectors.EVENT_WRITE:
                client.loop_write()
        except Exception:
            log.exception("servicing an MQTT client failed")

    def _misc(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
        now = time.monotonic()
        for entry in entries:
            client = entry.client
            if client.socket() is not None:
                try:
                    client.loop_misc()
                except Exception:
                    log.exception("keepalive of an MQTT client failed")
                if client.is_connected():
                    with self._lock:
                        entry.attempts = 0
            elif entry.want and not entry.connecting and now >= entry.next_attempt_at:
                self._start_connect(entry)
