"""A terminal's MQTT connection: one paho client set up as PROTOCOL.md asks, on a NetLoop."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from firmware_sim import wire
from firmware_sim.address import BrokerAddress
from firmware_sim.netloop import NetLoop

if TYPE_CHECKING:
    from paho.mqtt.client import ConnectFlags, DisconnectFlags
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

KEEPALIVE_S = 60
MAX_INFLIGHT = 100  # paho's default of 20 throttles a terminal that resends while acks lag
STOP_PUBLISH_TIMEOUT_S = 2.0
DISCONNECT_TIMEOUT_S = 2.0


class MqttLink:
    """One connection of one terminal; `on_up(bool)` reports readiness, `on_down(bytes)` messages.

    Both callbacks run on the NetLoop's thread and must only hand work off.
    """

    def __init__(
        self,
        device_id: str,
        secret: str,
        broker: BrokerAddress,
        on_up: Callable[[bool], None],
        on_down: Callable[[bytes], None],
        netloop: NetLoop,
    ) -> None:
        self.device_id = device_id
        self._broker = broker
        self._loop = netloop
        self._down = threading.Event()
        self._on_up = on_up
        self._on_down = on_down
        self._topic_up = wire.up_topic(device_id)
        self._topic_down = wire.down_topic(device_id)
        self._topic_status = wire.status_topic(device_id)
        self._ready = threading.Event()
        self._sub_mid: int | None = None
        self.last_error: str | None = None

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=device_id,
            clean_session=False,  # acks queued while the terminal was away still reach it
            protocol=mqtt.MQTTv311,  # the embedded broker speaks 3.1.1 only
        )
        client.username_pw_set(device_id, secret)
        client.will_set(self._topic_status, "offline", qos=1, retain=True)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        if broker.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    @property
    def ready(self) -> bool:
        """True while connected and subscribed to `down`."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None) -> bool:
        """Block until connected and subscribed; False on timeout."""
        return self._ready.wait(timeout)

    def open(self) -> None:
        """Connect in the background; the NetLoop retries until the broker answers."""
        self._loop.add(
            self._client, self._broker.host, self._broker.port, KEEPALIVE_S, self._on_connect_fail
        )

    def publish_up(self, payload: bytes) -> bool:
        """Queue one event at QoS 1; False when not connected (the caller resends later)."""
        info = self._client.publish(self._topic_up, payload, qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("%s publish deferred: %s", self.device_id, mqtt.error_string(info.rc))
            return False
        return True

    def close(self) -> None:
        """Publish `offline` (a clean disconnect fires no will), then disconnect."""
        if self._ready.is_set():
            info = self._client.publish(self._topic_status, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(STOP_PUBLISH_TIMEOUT_S)
            except (RuntimeError, ValueError):
                log.debug("%s: offline flag not confirmed", self.device_id)
        self._loop.release(self._client)
        self._down.clear()
        self._client.disconnect()
        self._await_down()

    def kill(self) -> None:
        """Drop the TCP connection without DISCONNECT, so the broker publishes the will."""
        self._loop.release(self._client)
        self._ready.clear()
        self._down.clear()
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                log.debug("%s: socket already gone", self.device_id)
        self._await_down()

    def _await_down(self) -> None:
        # The NetLoop thread sees the socket close and tells paho, which fires on_disconnect.
        if self._client.socket() is not None and not self._down.wait(DISCONNECT_TIMEOUT_S):
            log.warning("%s: connection did not close in time", self.device_id)
        self._loop.remove(self._client)

    # --- paho callbacks, on the network thread ------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: ConnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        if reason.is_failure:
            self.last_error = f"connect refused: {reason}"
            log.warning("%s: %s", self.device_id, self.last_error)
            return
        self.last_error = None
        _, self._sub_mid = client.subscribe(self._topic_down, qos=1)
        client.publish(self._topic_status, "online", qos=1, retain=True)
        log.debug("%s connected (session present=%s)", self.device_id, flags.session_present)

    def _on_connect_fail(self, exc: Exception) -> None:
        self.last_error = f"cannot reach {self._broker.url}: {exc}"
        log.debug("%s: %s", self.device_id, self.last_error)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        codes: list[ReasonCode],
        props: Properties | None,
    ) -> None:
        if mid != self._sub_mid:
            return
        if any(code.is_failure for code in codes):
            self.last_error = f"subscription to {self._topic_down} refused"
            log.warning("%s: %s", self.device_id, self.last_error)
            return
        # Ready only now: an ack published before the subscription exists would be lost.
        self._ready.set()
        self._on_up(True)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: DisconnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        self._ready.clear()
        self._down.set()
        self._on_up(False)
        log.debug("%s disconnected: %s", self.device_id, reason)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic != self._topic_down:
            # amqtt 0.12 replays retained messages of topics we never subscribed to
            # (our own `status`) when a persistent session reconnects.
            log.debug("%s: ignored message on %s", self.device_id, msg.topic)
            return
        self._on_down(bytes(msg.payload))
