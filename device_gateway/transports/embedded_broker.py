"""EmbeddedBroker: an amqtt MQTT 3.1.1 broker on its own thread and asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session
from amqtt.utils import gen_client_id

from device_gateway.transports.broker_access import BrokerAccess

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
# A terminal away longer than this loses the acks and news queued for it; it resends anyway.
SESSION_EXPIRY_S = 7 * 24 * 3600

LATE_PUBACK_SAY = "broker: a client did not PUBACK a delivery within amqtt's 5 s; not resent"
_AMQTT_BROKER_LOG = logging.getLogger("amqtt.broker")

Authenticator = Callable[[str | None, str | None], bool]


class EmbeddedAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped here
    """Lets a client in when the `BrokerAccess` (or a bare `authenticate`) says so.

    Without either everyone is let in. Unlike amqtt's AnonymousAuthPlugin it never marks
    a session anonymous: amqtt drops the queued messages of anonymous sessions, and the
    gateway's persistent session must keep presses while it is away.
    """

    @dataclass
    class Config:
        """Plugin options; amqtt fills them from the broker configuration."""

        # Any, because amqtt type-checks Config against the values it is given.
        authenticate: Any = None  # an Authenticator
        access: Any = None  # a BrokerAccess

    async def authenticate(self, *, session: Session) -> bool:
        access: BrokerAccess | None = self.config.access
        check: Authenticator | None = self.config.authenticate
        # Both checks may read the database: keep them off the broker's event loop.
        if access is not None:
            will = session.will_topic if session.will_flag else None
            return await asyncio.to_thread(
                access.admits,
                session.client_id,
                session.username,
                session.password,
                will,
                session.remote_address,
            )
        if check is not None:
            return bool(await asyncio.to_thread(check, session.username, session.password))
        return True


class EmbeddedTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt is untyped here
    """The topic ACL of `BrokerAccess` on every publish, subscribe and delivery."""

    @dataclass
    class Config:
        """Plugin options; amqtt fills them from the broker configuration."""

        access: Any = None  # a BrokerAccess

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool:
        access: BrokerAccess | None = self.config.access
        if access is None:
            return True
        if session is None or topic is None:
            return False
        # Trustworthy: _Broker checks a CONNECT before it touches the session of its client id.
        username = session.username
        if action == Action.PUBLISH:
            allowed = access.may_publish(username, topic)
        elif action == Action.SUBSCRIBE:
            allowed = access.may_subscribe(username, topic)
        else:
            allowed = access.may_receive(username, topic)
        if not allowed and action != Action.RECEIVE:
            log.warning("broker: %s may not %s %s", username, action, topic)
        return allowed


class _Snapshots(dict[str, Any]):
    """A dict whose iteration walks a copy of its keys.

    amqtt 0.12 awaits inside loops over its subscriptions; a client subscribing meanwhile
    made the loop raise ("dictionary changed size during iteration") and the message being
    broadcast was dropped.
    """

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        return list(super().items())


class _LatePubackIsAWarning(logging.Filter):
    """amqtt's "Task failed" ERROR for a QoS 1 delivery not PUBACKed within its fixed 5 s.

    The gateway PUBACKs a press only after its commit, which a loaded or locked database
    can hold past 5 s: amqtt then stops retrying that delivery, but the gateway has the
    message and acks it once committed, and a terminal resends what it has no app ack
    for. Nothing is lost; it is worth a warning, not an error.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.levelno >= logging.ERROR and isinstance(exc, TimeoutError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args, record.exc_info = LATE_PUBACK_SAY, (), None
        return True


class _Broker(Broker):  # type: ignore[misc]  # amqtt is untyped here
    """amqtt's broker, checking logins before anything else and closing every socket.

    amqtt merges a CONNECT into the live session of the same client id (credentials, last
    will; a clean session even deletes it) and takes that session over *before* it asks the
    auth plugins: a stranger could unsubscribe the gateway, or have a forged will published
    in a terminal's name. Here the plugins answer first, and a refused CONNECT touches no
    session.
    """

    _ADMITTED = "_vnh_admitted"

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._subscriptions: dict[str, Any] = _Snapshots(self._subscriptions)

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        peer = f"{remote_address}:{remote_port}"
        try:
            handler, incoming = await BrokerProtocolHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except MQTTError as exc:
            await writer.close()
            raise MQTTError(f"invalid CONNECT from {peer}: {exc}") from exc
        except (AMQTTError, NoDataError) as exc:
            raise AMQTTError(f"no CONNECT from {peer}: {exc}") from exc
        if not await super()._authenticate(incoming, None):
            await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await writer.close()
            raise AMQTTError(f"client {incoming.client_id!r} from {peer} not authorised")
        session = await self._adopt(incoming)
        setattr(session, self._ADMITTED, True)
        return handler, session

    async def _adopt(self, incoming: Session) -> Session:
        # amqtt 0.12's own merge (Broker._initialize_client_session), for an admitted CONNECT.
        if incoming.clean_session:
            if incoming.client_id:
                await self._delete_session(incoming.client_id)
            else:
                incoming.client_id = gen_client_id()
            incoming.parent = 0
            session = incoming
        elif incoming.client_id in self._sessions:
            session, _ = self._sessions[incoming.client_id]
            for name in (
                "will_flag",
                "will_message",
                "will_topic",
                "will_qos",
                "will_retain",
                "keep_alive",
                "username",
                "password",
            ):
                setattr(session, name, getattr(incoming, name))
            session.parent = 1
        else:
            incoming.parent = 0
            session = incoming
        delay = self.config.get("timeout-disconnect-delay", 0)
        if session.keep_alive > 0 and isinstance(delay, int):
            session.keep_alive += delay
        return session

    async def _authenticate(self, session: Session, listener: object) -> bool:
        # Checked already when the CONNECT came in; once per CONNECT, not twice.
        admitted = bool(getattr(session, self._ADMITTED, False))
        setattr(session, self._ADMITTED, False)
        return admitted

    async def end_session(self, client_id: str) -> bool:
        """Drop the client's connection as if it had gone away (its will is published)."""
        session, handler = self._sessions.get(client_id, (None, None))
        if session is None or handler is None or not session.transitions.is_connected():
            return False
        # The client's own message loop then publishes the will and closes the socket.
        await handler.handle_connection_closed()
        return True

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        try:
            await super().stream_connected(reader, writer, listener_name)
        except asyncio.CancelledError:
            # The loop is ending with this connection still open. Python 3.11's stream
            # callback asks a cancelled task for its exception() and logs an ERROR for it
            # (fixed in 3.12); nothing awaits this task, so ending it quietly loses nothing.
            pass
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

    def __init__(
        self,
        host: str,
        port: int,
        *,
        authenticate: Authenticator | None = None,
        access: BrokerAccess | None = None,
    ) -> None:
        """A broker on `host:port`, not started yet.

        Args:
            host: address to listen on.
            port: TCP port to listen on.
            authenticate: a bare `(username, password) -> bool` check, no topic ACL.
            access: the gateway's and terminals' logins and the topic ACL of PROTOCOL.md;
                without it (and without `authenticate`) anyone may connect and do anything.
        """
        if authenticate is not None and access is not None:
            raise ValueError("give the embedded broker either authenticate or access, not both")
        self.host = host
        self.port = port
        self._authenticate = authenticate
        self._access = access
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._amqtt: _Broker | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def is_running(self) -> bool:
        """True between a successful start() and stop()."""
        return self._thread is not None and self._thread.is_alive() and self._started.is_set()

    def config(self) -> dict[str, Any]:
        """The amqtt configuration: one TCP listener, our auth and ACL plugins, nothing else."""
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "session_expiry_interval": SESSION_EXPIRY_S,
            "plugins": {
                f"{__name__}.EmbeddedAuthPlugin": {
                    "authenticate": self._authenticate,
                    "access": self._access,
                },
                f"{__name__}.EmbeddedTopicPlugin": {"access": self._access},
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

    def end_session(self, client_id: str) -> None:
        """Disconnect `client_id` (a terminal whose login was revoked); returns at once.

        Safe from any thread; a client not connected is left alone.
        """
        loop, broker = self._loop, self._amqtt
        if loop is None or broker is None or loop.is_closed():
            return
        try:
            future = asyncio.run_coroutine_threadsafe(broker.end_session(client_id), loop)
        except RuntimeError:  # the loop closed meanwhile: no session is left to end
            return
        future.add_done_callback(partial(_log_ended, client_id))

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
        if not any(isinstance(f, _LatePubackIsAWarning) for f in _AMQTT_BROKER_LOG.filters):
            _AMQTT_BROKER_LOG.addFilter(_LatePubackIsAWarning())
        broker = self._amqtt = _Broker(self.config())
        await broker.start()
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await broker.shutdown()
            # One more turn of the loop lets the transports closed above release their sockets.
            await asyncio.sleep(0)


def _log_ended(client_id: str, future: Future[bool]) -> None:
    if future.cancelled():
        return
    if (exc := future.exception()) is not None:
        log.warning("broker: session of %s not ended: %s", client_id, exc)
    elif future.result():
        log.info("broker: session of %s ended: its login was revoked", client_id)
