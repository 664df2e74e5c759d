"""The gateway inbox's two lanes: presses, falls and cancels before a storm's reports."""

from __future__ import annotations

import json
import queue
from typing import Any

import pytest

from device_gateway.batching import PriorityInbox, is_urgent
from device_gateway.mqtt_url import parse_mqtt_url
from device_gateway.ports import Inbound
from device_gateway.transports.mqtt import MqttTransport

# Never connected: only its glance at a message is used.
_MQTT = MqttTransport(parse_mqtt_url("mqtt://127.0.0.1:1"), client_id="inbox-test")


BODIES: dict[str, dict[str, Any]] = {
    "press": {"type": "press", "pattern": "single"},
    "fall": {"type": "fall"},
    "cancel": {"type": "cancel", "ref_seq": 1},
    "power": {"type": "power", "state": "lost"},
    "heartbeat": {"type": "heartbeat", "battery": 80},
    "battery": {"type": "battery", "level": 15},
}


def _mqtt(kind: str, seq: int) -> Inbound:
    payload = json.dumps({"boot": 1, "seq": seq, **BODIES[kind]}).encode()
    return Inbound("vnh/v1/dev/T1001/up", payload, seq, _MQTT)


def test_presses_falls_and_cancels_are_urgent_technical_reports_are_not() -> None:
    assert [is_urgent(_mqtt(k, 1)) for k in ("press", "fall", "cancel")] == [True] * 3
    assert [is_urgent(_mqtt(k, 1)) for k in ("power", "heartbeat", "battery")] == [False] * 3
    presence = Inbound("vnh/v1/dev/T1001/status", b"offline", 1, _MQTT)
    assert not is_urgent(presence)


def test_an_urgent_item_is_taken_before_the_routine_ones_queued_earlier() -> None:
    inbox = PriorityInbox(100)
    storm = [_mqtt("power", seq) for seq in range(50)]
    for item in storm:
        inbox.put_nowait(item, is_urgent(item))
    press, cancel = _mqtt("press", 99), _mqtt("cancel", 100)
    inbox.put_nowait(press, True)
    inbox.put_nowait(cancel, True)
    assert inbox.get(timeout=0) == (press, True)
    assert inbox.take(True, 10) == [cancel]  # the cancel after its press, in order
    assert inbox.take(False, 100) == storm  # the storm after, in its own order
    with pytest.raises(queue.Empty):
        inbox.get(timeout=0)


def test_a_full_inbox_refuses_routine_items_but_still_takes_a_press() -> None:
    inbox = PriorityInbox(3)
    for seq in range(3):
        inbox.put_nowait(_mqtt("power", seq), False)
    with pytest.raises(queue.Full):
        inbox.put_nowait(_mqtt("power", 9), False)
    inbox.put_nowait(_mqtt("press", 10), True)
    assert inbox.qsize() == 4 and inbox.urgent_waiting
