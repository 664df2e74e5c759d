"""What the TCP receivers (DC-09 panels, 4G watches) share: their socket and waiting frames."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sized
from typing import Generic, TypeVar

R = TypeVar("R")  # a receiver's receipt: a frame and the connection to answer on


def parse_listen(spec: str) -> tuple[str, int]:
    """`"127.0.0.1:7050"` → `("127.0.0.1", 7050)`; port 0 picks a free port.

    Raises:
        ValueError: not host:port with a port 0–65535.
    """
    host, sep, port = spec.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen address {spec!r} must be host:port")
    return host.strip("[]"), int(port)


def open_listener(host: str, port: int, *, backlog: int) -> socket.socket:
    """A bound, listening TCP socket; OSError (the socket closed) when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind((host, port))
        server.listen(backlog)
    except OSError:
        server.close()
        raise
    return server


def bound_address(server: socket.socket | None, host: str, port: int) -> tuple[str, int]:
    """Where a receiver listens: the real port once bound (port 0 picks one), else as asked."""
    if server is None:
        return host, port
    bound_host, bound_port = server.getsockname()[:2]
    return str(bound_host), int(bound_port)


Key = tuple[str, int, int]  # an event's (device_id, boot, seq)


class AwaitingAnswers(Generic[R]):
    """Frames decoded into events that wait for intake's answer, by event key, oldest first.

    A resend of one event waits behind the first: each is answered once, in order. Guarded
    by the receiver's own lock, which also guards its counters and connections.
    """

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._by_key: dict[Key, list[R]] = {}

    def hold(self, key: Key, receipt: R) -> None:
        """`receipt` waits for the answer to the event `key`."""
        with self._lock:
            self._by_key.setdefault(key, []).append(receipt)

    def take(self, key: Key) -> R | None:
        """The oldest frame waiting for `key`'s answer, no longer waiting; None if none."""
        with self._lock:
            waiting = self._by_key.get(key)
            receipt = waiting.pop(0) if waiting else None
            if waiting == []:
                del self._by_key[key]
        return receipt

    def forget(self, key: Key, receipt: R) -> None:
        """`receipt` is left without an answer (its device resends)."""
        with self._lock:
            waiting = self._by_key.get(key, [])
            if receipt in waiting:
                waiting.remove(receipt)
            if not waiting:
                self._by_key.pop(key, None)


class Listening:
    """A receiver's listening socket and what /healthz says of it (mixed into a transport)."""

    host: str
    port: int
    _server: socket.socket | None
    _lock: threading.Lock
    _connections: Sized
    _counts: dict[str, int]

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the real port once started with port 0)."""
        return bound_address(self._server, self.host, self.port)

    def health(self) -> dict[str, object]:
        """Listening address, open connections and counters, for /healthz."""
        with self._lock:
            host, port = self.address
            return {
                "listen": f"{host}:{port}",
                "listening": self._server is not None,
                "connections": len(self._connections),
                **self._counts,
            }
