"""The embedded broker under churn: clients subscribing while messages are broadcast."""

from __future__ import annotations

import logging
import socket
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.transports.embedded_broker import EmbeddedBroker
from tests.mosquitto import free_port

pytestmark = pytest.mark.external_service

MESSAGES = 400
CHURNING_CLIENTS = 40
WAIT_S = 30.0


def _client(name: str, broker: EmbeddedBroker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, clean_session=False)
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def test_embedded_broker_delivers_every_message_while_terminals_come_and_subscribe() -> None:
    broker = EmbeddedBroker("127.0.0.1", free_port(), authenticate=lambda user, password: True)
    broker.start()
    clients: list[mqtt.Client] = []
    try:
        received: set[int] = set()
        subscribed, all_in = threading.Event(), threading.Event()

        def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
            received.add(int(msg.payload))
            if len(received) == MESSAGES:
                all_in.set()

        gateway = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gw", clean_session=False)
        gateway.on_message = on_message
        gateway.on_subscribe = lambda *_: subscribed.set()
        gateway.on_connect = lambda c, *_: c.subscribe("vnh/v1/dev/+/up", 1)
        gateway.connect(broker.host, broker.port)
        gateway.loop_start()
        clients.append(gateway)
        assert subscribed.wait(WAIT_S)

        publisher = _client("T0000", broker)
        clients.append(publisher)

        def churn() -> None:
            # Each new terminal adds a subscription while the broadcasts go on.
            for i in range(CHURNING_CLIENTS):
                client = _client(f"T{i + 1:04d}", broker)
                client.subscribe(f"vnh/v1/dev/T{i + 1:04d}/down", 1)
                clients.append(client)

        churner = threading.Thread(target=churn)
        churner.start()
        for n in range(MESSAGES):
            publisher.publish("vnh/v1/dev/T0000/up", str(n), qos=1)
        churner.join(WAIT_S)

        assert all_in.wait(WAIT_S), f"{MESSAGES - len(received)} messages never arrived"
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
        broker.stop()


def test_embedded_broker_tells_a_late_puback_as_a_warning_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What amqtt logs when a client (a gateway waiting on its commit) PUBACKs after 5 s.
    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start()
    try:
        amqtt_log = logging.getLogger("amqtt.broker")
        late = TimeoutError("Timeout waiting for PUBACK for packet ID 1")
        amqtt_log.error("Task failed and will be skipped", exc_info=late)
        amqtt_log.error("Broadcast loop stopped by exception", exc_info=RuntimeError("a bug"))
    finally:
        broker.stop()
    late, failure = [r for r in caplog.records if r.name == "amqtt.broker"]
    assert (late.levelname, late.exc_info) == ("WARNING", None)
    assert "PUBACK" in late.getMessage()
    assert failure.levelname == "ERROR"  # anything else stays an error
    caplog.clear()  # the error above was this test's own


def test_embedded_broker_stops_cleanly_while_a_client_is_still_connecting() -> None:
    # A socket open without its CONNECT yet (a terminal mid-handshake, a port scanner) when
    # the service stops: Python 3.11 logged an ERROR for the cancelled connection task.
    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start()
    with socket.create_connection((broker.host, broker.port), timeout=5) as half_open:
        half_open.sendall(b"\x10")  # the first byte of a CONNECT, then nothing
        broker.stop()
    assert not broker.is_running
