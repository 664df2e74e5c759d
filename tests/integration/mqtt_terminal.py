"""A bare MQTT client acting as a terminal (or an intruder) in broker-auth tests."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

WAIT_S = 10.0  # generous: the suite must pass on a loaded 2-core machine
POLL_S = 0.02


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    """Poll a condition (a database row, a received message) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def up(device_id: str) -> str:
    return f"vnh/v1/dev/{device_id}/up"


def down(device_id: str) -> str:
    return f"vnh/v1/dev/{device_id}/down"


def status(device_id: str) -> str:
    return f"vnh/v1/dev/{device_id}/status"


class Terminal:
    """One MQTT 3.1.1 connection: `connect()` returns the CONNACK's reason code."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        username: str | None,
        password: str | None,
        will: tuple[str, bytes] | None = None,
        clean_session: bool = False,
    ) -> None:
        self._host, self._port = host, port
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            # A refused or dropped client must not retry in the background while the test
            # goes on; and without a reconnect to wait for, its loop thread ends at once
            # (waiting for one, closing it took up to a second for each refused login).
            reconnect_on_failure=False,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1)
        self._connack: queue.Queue[ReasonCode] = queue.Queue()
        self._subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.received: list[tuple[str, bytes]] = []
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._connack.put(reason)

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, reasons: Any, props: Any) -> None:
        self._subacks.put(list(reasons))

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.received.append((msg.topic, bytes(msg.payload)))

    def connect(self) -> ReasonCode:
        """Connect and wait for the CONNACK."""
        self.client.connect(self._host, self._port, keepalive=60)
        self.client.loop_start()
        return self._connack.get(timeout=WAIT_S)

    def subscribe(self, topic: str) -> ReasonCode:
        """Subscribe at QoS 1 and return the SUBACK's code for it."""
        self.client.subscribe(topic, qos=1)
        [reason] = self._subacks.get(timeout=WAIT_S)
        return reason

    def publish(self, topic: str, body: dict[str, Any] | bytes) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)

    def acks(self, device_id: str) -> list[dict[str, Any]]:
        """The application acks received on `device_id`'s downlink."""
        return [json.loads(p) for t, p in self.received if t == down(device_id) and b"ack" in p]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
