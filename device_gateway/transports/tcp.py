"""What the TCP receivers (DC-09 panels, 4G watches) share: their listen address and socket."""

from __future__ import annotations

import socket


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
