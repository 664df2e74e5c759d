"""A TCP proxy a test can cut: the database "goes away" for the service and comes back."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

BUFFER = 65536
POLL_S = 0.05


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; `cut()` drops every connection, refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL_S)
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []
        self._cut = threading.Event()
        self._closing = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._acceptor.start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def cut(self) -> None:
        """Break every open connection; new ones are closed as soon as they are accepted."""
        self._cut.set()
        self._drop_all()

    def restore(self) -> None:
        """Forward again."""
        self._cut.clear()

    def close(self) -> None:
        """Stop accepting, drop every connection, join the threads."""
        self._closing.set()
        self._drop_all()
        self._acceptor.join()
        self._listener.close()
        for thread in self._threads:
            thread.join()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            thread = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        with selectors.DefaultSelector() as selector:
            selector.register(a, selectors.EVENT_READ)
            selector.register(b, selectors.EVENT_READ)
            try:
                while not self._closing.is_set():
                    for key, _ in selector.select(POLL_S):
                        sock = key.fileobj
                        assert isinstance(sock, socket.socket)
                        data = sock.recv(BUFFER)
                        if not data:
                            return
                        peer[sock].sendall(data)
            except (OSError, ValueError):
                return  # cut, or the peer went away
            finally:
                self._forget(a, b)

    def _forget(self, a: socket.socket, b: socket.socket) -> None:
        with self._lock:
            if (a, b) in self._pairs:
                self._pairs.remove((a, b))
        for sock in (a, b):
            with contextlib.suppress(OSError):
                sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            pairs = list(self._pairs)
        for a, b in pairs:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
