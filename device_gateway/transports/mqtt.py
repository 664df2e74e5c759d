"""MqttTransport: paho-mqtt with a persistent session and PUBACK only after commit."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MessageState, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from device_gateway.mqtt_url import MqttAddress
from device_gateway.ports import Decoded, Inbound, InboundHandler
from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.json_codec import (
    decode_uplink,
    encode_ack,
    encode_command,
    encode_news,
)
from device_gateway.protocol.model import Ack, CaseNews, Command
from device_gateway.protocol.topics import (
    STATUS_FILTER,
    STATUS_LEAF,
    UP_FILTER,
    UP_LEAF,
    down_topic,
    parse_topic,
    shared_filter,
)
from device_gateway.protocol.urgency import json_uplink_is_urgent

log = logging.getLogger(__name__)

KEEPALIVE_S = 60
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# paho's default of 20 un-PUBACKed downlinks would throttle acks to a burst of presses.
OUTGOING_INFLIGHT = 1000
# MQTT 5 only: how many un-PUBACKed messages the broker may have out to us (Receive Maximum).
# Keep it at or below the pipeline's inbox size, so a full inbox means a bug, not load.
RECEIVE_MAXIMUM = 1000
# MQTT 5 only: keep the session (subscriptions, queued presses) this long while we are away.
SESSION_EXPIRY_S = 7 * 24 * 3600
UPLINK_QOS = 1
DOWNLINK_QOS = 1
PRESENCE = {"online": True, "offline": False}
# A storm refused by a full inbox is told in one line per this many seconds, not one per
# message: thousands of ERROR lines a second cost the network thread more than the storm.
REFUSED_LOG_EVERY_S = 1.0
UP_TOPIC_END = f"/{UP_LEAF}"


@dataclass(frozen=True, slots=True)
class MqttReceipt:
    """What `settle` needs to PUBACK one message, and which connection delivered it."""

    mid: int
    qos: int
    connection: int


def worker_client_id() -> str:
    """`vnh-gw-<host>-<pid>`: a client id no other gateway process uses at the same time."""
    return f"vnh-gw-{socket.gethostname()}-{os.getpid()}"


class _Client(mqtt.Client):
    """paho's client, without a walk over every message in flight on each PUBACK.

    paho looks through all its unacknowledged messages on every PUBACK for one queued
    behind the in-flight limit. At 1,000 presses/s (an ack and a case news each) hundreds
    are in flight, and that walk took a third of the process's interpreter time.
    """

    def _update_inflight(self) -> MQTTErrorCode:
        # Every message kept is either in flight (counted) or queued / waiting for a
        # connection; none of the latter, nothing for paho to send. Called under paho's lock.
        if len(self._out_messages) <= self._inflight_messages:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._update_inflight()

    def publish_first(self, topic: str, payload: bytes, qos: int) -> mqtt.MQTTMessageInfo:
        """`publish`, ahead of every message still waiting for a slot in flight or a connection.

        paho sends in the order messages were published: behind a storm's thousands of acks
        waiting for the broker's PUBACKs, a press's ack reached the broker 18 s after its
        commit (`vnh bench storm --storm-s 5 --restore`, seen by a second subscriber).
        """
        info = self.publish(topic, payload, qos=qos)
        with self._out_message_mutex:
            message = self._out_messages.get(info.mid)
            if message is not None and message.state != MessageState.MQTT_MS_WAIT_FOR_PUBACK:
                # First in order is sent first: when a slot frees, and after a reconnect.
                self._out_messages.move_to_end(info.mid, last=False)
        return info


class MqttTransport:
    """The gateway's one MQTT client: subscribes to every terminal's `up` and `status`.

    Works the same against Mosquitto and the embedded amqtt broker. The session is
    persistent (fixed client id, clean session off), so presses published while the
    gateway is away are delivered when it is back; with `manual_ack` a message is
    PUBACKed only when the pipeline settles it, after its case is committed.

    With `shared_group`, several gateway processes split the terminals through an MQTT 5
    shared subscription (`$share/{group}/…`). Their sessions are clean: Mosquitto keeps
    handing a group's messages round-robin to a member that is away with a kept session,
    where they would wait for it; terminals resend until acked, so a clean session loses
    nothing and a live member takes the resend.
    """

    def __init__(
        self,
        address: MqttAddress,
        *,
        client_id: str,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
        filters: Sequence[str] = (UP_FILTER, STATUS_FILTER),
        keepalive_s: int = KEEPALIVE_S,
        shared_group: str | None = None,
    ) -> None:
        self._address = address
        self._shared = shared_group is not None
        # Shared subscriptions are MQTT 5 only.
        self._protocol = MQTTProtocolVersion.MQTTv5 if self._shared else protocol
        self._filters = tuple(
            shared_filter(shared_group, f) if shared_group is not None else f for f in filters
        )
        self._keepalive_s = keepalive_s
        self._handler: InboundHandler | None = None
        # Bumped on every connect and disconnect: a PUBACK must go out on the connection
        # that delivered the message, or it could acknowledge a different one.
        self._connection = 0
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._started = False
        self._client_id = client_id
        self._refused = 0  # messages the inbox refused, since start (network thread only)
        self._refused_logged = 0
        self._refused_logged_at = 0.0
        self._client = self._make_client(client_id)

    @property
    def source(self) -> str:
        return "mqtt"

    @property
    def refused(self) -> int:
        """Messages a full inbox refused (PUBACKed without an app ack) since start."""
        return self._refused

    @property
    def is_connected(self) -> bool:
        """True while connected and subscribed."""
        return self._ready.is_set()

    def _make_client(self, client_id: str) -> _Client:
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=None if v5 else self._shared,
            protocol=self._protocol,
            manual_ack=True,
        )
        if self._address.username is not None:
            client.username_pw_set(self._address.username, self._address.password)
        if self._address.tls:
            client.tls_set_context(ssl.create_default_context())
        client.max_inflight_messages_set(OUTGOING_INFLIGHT)
        client.max_queued_messages_set(0)  # downlinks wait for a reconnect instead of failing
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self, handler: InboundHandler) -> None:
        """Connect in the background (retrying with backoff) and deliver to `handler`."""
        self._handler = handler
        if self._protocol == MQTTProtocolVersion.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 0 if self._shared else SESSION_EXPIRY_S
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
            self._client.connect_async(
                self._address.host,
                self._address.port,
                keepalive=self._keepalive_s,
                clean_start=self._shared,
                properties=properties,
            )
        else:  # 3.1.1: the session is kept through clean_session=False in the constructor
            self._client.connect_async(
                self._address.host, self._address.port, keepalive=self._keepalive_s
            )
        self._client.loop_start()
        self._started = True
        log.info("mqtt connecting to %s as %s", self._address, self._client_id)

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until connected and subscribed, or `timeout_s` passed; True if ready."""
        return self._ready.wait(timeout_s)

    def settle(self, receipt: object) -> None:
        """PUBACK the message of `receipt`, unless the connection that brought it is gone."""
        if not isinstance(receipt, MqttReceipt):
            raise TypeError(f"not an MQTT receipt: {receipt!r}")
        with self._lock:
            if receipt.connection != self._connection:
                # The broker redelivers it on the new connection; intake answers duplicate.
                log.debug("not acking mid=%d of an earlier connection", receipt.mid)
                return
            self._client.ack(receipt.mid, receipt.qos)

    def urgent(self, item: Inbound) -> bool:
        """An `up` message naming a press, fall, cancel or SOS; presence is routine."""
        return item.topic.endswith(UP_TOPIC_END) and json_uplink_is_urgent(item.payload)

    def decode(self, item: Inbound, now: datetime) -> Decoded | None:
        """The event of an `up` message or the flag of a `status` one; None: answered here.

        A frame that does not decode is answered with a rejecting ack naming why; a
        message on a topic the gateway does not read is dropped. Both are settled.
        """
        parsed = parse_topic(item.topic)
        if parsed is None or parsed[1] not in (UP_LEAF, STATUS_LEAF):
            log.warning("message on %r dropped: not a topic the gateway reads", item.topic)
            self.settle(item.receipt)
            return None
        device_id, leaf = parsed
        if leaf == STATUS_LEAF:
            text = item.payload.decode("utf-8", "replace").strip()
            if text in PRESENCE:
                return Decoded(device_id, online=PRESENCE[text])
            if text:  # empty: a retained flag being cleared
                log.warning("status of %s not online/offline: %r", device_id, text[:32])
            self.settle(item.receipt)
            return None
        try:
            return Decoded(device_id, event=decode_uplink(device_id, item.payload))
        except FrameError as exc:
            log.warning("rejected frame device=%s via mqtt: %s", device_id, exc)
            self.send_ack(device_id, Ack.rejecting(device_id, exc))
            self.settle(item.receipt)
            return None

    def answer(self, item: Inbound, *, refused: str | None) -> None:
        """Every MQTT message carries an event or a flag: nothing to answer but the PUBACK."""
        self.settle(item.receipt)

    def send_ack(self, device_id: str, ack: Ack, *, urgent: bool = False) -> None:
        if urgent:
            info = self._client.publish_first(down_topic(device_id), encode_ack(ack), DOWNLINK_QOS)
            self._check_queued(device_id, info)
            return
        self._publish(device_id, encode_ack(ack))

    def send_news(self, device_id: str, news: CaseNews) -> None:
        self._publish(device_id, encode_news(news))

    def send_command(self, device_id: str, command: Command) -> None:
        self._publish(device_id, encode_command(command))

    def _publish(self, device_id: str, payload: bytes) -> None:
        # paho's publish only queues (thread-safe); QoS 1 messages wait out a disconnect.
        info = self._client.publish(down_topic(device_id), payload, qos=DOWNLINK_QOS)
        self._check_queued(device_id, info)

    @staticmethod
    def _check_queued(device_id: str, info: mqtt.MQTTMessageInfo) -> None:
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("downlink to %s not queued: %s", device_id, mqtt.error_string(info.rc))

    def close(self) -> None:
        """Disconnect cleanly (queued downlinks go first) and stop the network thread."""
        if not self._started:
            return
        self._started = False
        if self._refused > self._refused_logged:
            log.warning(
                "inbox full: %d more messages refused", self._refused - self._refused_logged
            )
        self._client.disconnect()
        self._client.loop_stop()
        self._ready.clear()
        log.info("mqtt transport closed")

    # paho network thread from here on: log and hand off, never raise (paho would die).

    def _on_socket_open(self, client: mqtt.Client, userdata: object, sock: Any) -> None:  # noqa: ANN401
        # paho never sets TCP_NODELAY; without it a QoS 1 round trip waits on Nagle (~40 ms).
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            log.debug("TCP_NODELAY not available on %r", sock)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt broker %s refused the connection: %s", self._address, reason)
            return
        with self._lock:
            self._connection += 1
        log.info("mqtt connected to %s (session present: %s)", self._address, flags.session_present)
        # Subscribing again is harmless with a kept session and restores a lost one.
        client.subscribe([(topic_filter, UPLINK_QOS) for topic_filter in self._filters])

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        log.warning("mqtt broker %s unreachable; retrying", self._address)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        failed = [f for f, r in zip(self._filters, reasons, strict=False) if r.is_failure]
        if failed:
            log.error("mqtt broker refused subscriptions %s: %s", failed, reasons)
            return
        self._ready.set()
        log.info("mqtt subscribed to %s", ", ".join(self._filters))

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._ready.clear()
        with self._lock:
            self._connection += 1
        if reason.is_failure:
            log.warning("mqtt connection to %s lost (%s); reconnecting", self._address, reason)
        else:
            log.info("mqtt disconnected from %s", self._address)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        # Enqueue only: no parsing, no database, no publishing here. Nothing is PUBACKed
        # until the pipeline settles the message after its commit.
        try:
            item = Inbound(
                msg.topic,
                bytes(msg.payload),
                MqttReceipt(msg.mid, msg.qos, self._connection),
                transport=self,
                retained=bool(msg.retain),
            )
            if self._handler is None or not self._handler(item):
                self._refuse(item)
        except Exception:
            log.exception("mqtt message mid=%d could not be handed over", msg.mid)

    def _refuse(self, item: Inbound) -> None:
        """A full inbox: PUBACK without an app ack, so the terminal sends the event again.

        Left without its PUBACK, the message would hold one of the few slots the broker
        keeps in flight to us (Mosquitto's max_inflight_messages, MQTT 5 Receive Maximum)
        until we reconnect, since the broker resends nothing on a live connection; once
        they were all held, nothing reached the gateway, presses included. The terminal
        resends every event until its app ack (PROTOCOL.md), so nothing is lost.
        """
        self.settle(item.receipt)
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged_at >= REFUSED_LOG_EVERY_S:
            log.warning(
                "inbox full: %d messages refused since the last report (last on %s); "
                "PUBACKed without an app ack, their terminals send them again",
                self._refused - self._refused_logged,
                item.topic,
            )
            self._refused_logged = self._refused
            self._refused_logged_at = now
