"""The gateway's paho client past its in-flight limit: what waits still goes out, in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.transports.mqtt import _Client
from tests.mosquitto import run_mosquitto

WAIT_S = 10.0
MESSAGES = 60
INFLIGHT = 5  # far fewer than the messages: most wait behind the limit


@contextmanager
def reader_and_writer(
    tmp_path: Path, expected: int
) -> Iterator[tuple[_Client, list[bytes], threading.Event]]:
    """A writer limited to INFLIGHT, connected but not yet looping, and what a reader got."""
    with run_mosquitto(tmp_path) as broker:
        got: list[bytes] = []
        all_in = threading.Event()

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            got.append(msg.payload)
            if len(got) == expected:
                all_in.set()

        subscribed = threading.Event()
        reader = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="reader")
        reader.on_message = on_message
        reader.on_subscribe = lambda *_: subscribed.set()
        reader.connect(broker.host, broker.port)
        reader.subscribe("t/down", qos=1)
        reader.loop_start()
        writer = _Client(CallbackAPIVersion.VERSION2, client_id="writer")
        writer.max_inflight_messages_set(INFLIGHT)
        writer.connect(broker.host, broker.port)
        try:
            assert subscribed.wait(WAIT_S)
            yield writer, got, all_in
        finally:
            writer.loop_stop()
            writer.disconnect()
            reader.loop_stop()
            reader.disconnect()


def test_messages_queued_behind_the_inflight_limit_are_all_sent_in_order(
    tmp_path: Path,
) -> None:
    with reader_and_writer(tmp_path, MESSAGES) as (writer, got, all_in):
        infos = [writer.publish("t/down", str(n).encode(), qos=1) for n in range(MESSAGES)]
        writer.loop_start()
        # Without the fallback to paho's walk, all but the first few would never go out.
        assert all_in.wait(WAIT_S)
        deadline = time.monotonic() + WAIT_S
        for info in infos:  # their PUBACKs may still be on the way back
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        assert all(info.is_published() for info in infos)
    assert got == [str(n).encode() for n in range(MESSAGES)]


def test_an_urgent_message_goes_ahead_of_those_waiting_for_a_slot(tmp_path: Path) -> None:
    # A storm's acks wait for the broker's PUBACKs; a press's ack must not wait behind them.
    with reader_and_writer(tmp_path, MESSAGES + 1) as (writer, got, all_in):
        for n in range(MESSAGES):
            writer.publish("t/down", str(n).encode(), qos=1)
        writer.publish_first("t/down", b"urgent", qos=1)
        writer.loop_start()
        assert all_in.wait(WAIT_S)
    in_flight = [str(n).encode() for n in range(INFLIGHT)]  # already on their way
    waiting = [str(n).encode() for n in range(INFLIGHT, MESSAGES)]
    assert got == [*in_flight, b"urgent", *waiting]
