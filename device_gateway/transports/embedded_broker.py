"""EmbeddedBroker: an amqtt MQTT 3.1.1 broker on its own thread and asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
# A terminal away longer than this loses the acks and news queued for it; it resends anyway.
SESSION_EXPIRY_S = 7 * 24 * 3600

Authenticator = Callable[[str | None, str | None], bool]


class EmbeddedAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped here
    """Lets a client in when the configured `authenticate(username, password)` says so.

    Without an authenticator everyone is let in. Unlike amqtt's AnonymousAuthPlugin it
    never marks a session anonymous: amqtt drops the queued messages of anonymous
    sessions, and the gateway's persistent session must keep presses while it is away.
    """

    @dataclass
    class Config:
        """Plugin options; amqtt fills them from the broker configuration."""

        authenticate: Any = None  # an Authenticator; Any because amqtt type-checks Config

    async def authenticate(self, *, session: Session) -> bool:
        check: Authenticator | None = self.config.authenticate
        if check is None:
            # TODO(device auth): plug the device registry in through `authenticate`
            # (username = device_id, password = device secret) once devices carry it.
            return True
        # The check may read the database: keep it off the broker's event loop.
        return bool(await asyncio.to_thread(check, session.username, session.password))


class _Broker(Broker):  # type: ignore[misc]  # amqtt is untyped here
    """amqtt's broker, closing every client socket it accepted, whatever happened."""

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        try:
            await super().stream_connected(reader, writer, listener_name)
        finally:
            # amqtt skips the close when the peer went first (its drain() raises), and the
            # socket then leaks until garbage collection warns about it.
            writer.close()


class EmbeddedBroker:
    """The broker used when `VNH_MQTT_URL` is unset; the gateway connects to it like any other.

    Sessions and queued messages live in memory only: they survive the gateway
    reconnecting, not the process restarting. Terminals resend until acked, so nothing
    is lost, only delayed.
    """

    def __init__(self, host: str, port: int, *, authenticate: Authenticator | None = None) -> None:
        self.host = host
        self.port = port
        self._authenticate = authenticate
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def is_running(self) -> bool:
        """True between a successful start() and stop()."""
        return self._thread is not None and self._thread.is_alive() and self._started.is_set()

    def config(self) -> dict[str, Any]:
        """The amqtt configuration: one TCP listener, our auth plugin, nothing else."""
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "session_expiry_interval": SESSION_EXPIRY_S,
            "plugins": {
                f"{__name__}.EmbeddedAuthPlugin": {"authenticate": self._authenticate},
            },
        }

    def start(self) -> None:
        """Start the broker; returns once it accepts connections.

        Raises:
            RuntimeError: the broker did not start (port taken, bad configuration…).
        """
        if self._thread is not None:
            raise RuntimeError("embedded broker already started")
        self._started.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="vnh-mqtt-broker", daemon=True)
        self._thread.start()
        self._started.wait(START_TIMEOUT_S)
        if not self._started.is_set() or self._error is not None:
            error = self._error
            self.stop()
            raise RuntimeError(
                f"embedded MQTT broker did not start on {self.host}:{self.port}: {error}"
            ) from error
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        """Shut the broker down and close its loop; bounded by STOP_TIMEOUT_S."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed on its own meanwhile
                loop.call_soon_threadsafe(stop.set)
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            log.error("embedded MQTT broker did not stop within %.0f s", STOP_TIMEOUT_S)
        else:
            log.info("embedded MQTT broker stopped")

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(), or logged
            if self._started.is_set():
                log.exception("embedded MQTT broker failed")
            self._error = exc
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        broker = _Broker(self.config())
        await broker.start()
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await broker.shutdown()
            # One more turn of the loop lets the transports closed above release their sockets.
            await asyncio.sleep(0)
