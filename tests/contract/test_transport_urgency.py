"""Each transport tells which of its messages are urgent, as they arrive from outside.

A press, a fall, an SOS or a cancel is taken before a storm's technical reports; the
transport that received a message says which it is (`Transport.urgent`), in its own
protocol, on its own thread. Here each real transport (MQTT on a real Mosquitto, a serial
hub on a real pty, DC-09 and watch receivers on real TCP connections) receives frames
written by the tests' own encoders, and hands them to a recording handler that asks it.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_gateway.mqtt_url import parse_mqtt_url
from device_gateway.ports import Inbound, Transport
from device_gateway.transports.dc09 import Dc09Transport
from device_gateway.transports.mqtt import MqttTransport
from device_gateway.transports.serial import PortState, SerialTransport
from device_gateway.transports.watch import WatchTransport
from firmware_sim.wire import encode_event, encode_line
from tests.dc09_sender import Panel, block, contact_id
from tests.integration.test_gateway_mqtt import TestTerminal
from tests.mosquitto import run_mosquitto
from tests.serial_support import FAST_RETRY_S, HubEnd
from tests.watch_sender import FALL_BIT, SOS_BIT, Watch, frame, located

WAIT_S = 10.0
AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

# (what a terminal says, urgent?) — the same events on every transport that carries them.
EVENTS: tuple[tuple[str, dict[str, object], bool], ...] = (
    ("press", {"pattern": "long"}, True),
    ("press", {"pattern": "single", "button": "sos"}, True),
    ("fall", {"confidence": 0.9}, True),
    ("cancel", {"ref_seq": 1}, True),
    ("power", {"state": "lost"}, False),
    ("power", {"state": "restored"}, False),
    ("battery", {"level": 15}, False),
    ("heartbeat", {"battery": 80, "rssi": -70}, False),
    ("boot", {"fw": "1.2"}, False),
)
ACCOUNT = "1234"
DC09: tuple[tuple[bytes, bool], ...] = (
    (contact_id(1, ACCOUNT, "1101"), True),  # personal emergency
    (contact_id(2, ACCOUNT, "1100"), True),  # medical
    (contact_id(3, ACCOUNT, "1120"), True),  # panic
    (block("SIA-DCS", 4, ACCOUNT, f"#{ACCOUNT}|NMA01"), True),  # SIA medical alarm
    (contact_id(5, ACCOUNT, "1301"), False),  # AC loss: a storm's report
    (contact_id(6, ACCOUNT, "3301"), False),  # AC restore
    (contact_id(7, ACCOUNT, "1302"), False),  # low system battery
    (contact_id(8, ACCOUNT, "1602"), False),  # periodic test
    (block("SIA-DCS", 9, ACCOUNT, f"#{ACCOUNT}|NAT"), False),  # SIA AC trouble
    (block("NULL", 10, ACCOUNT, ""), False),  # link supervision
)
WATCH_ID = "8800000001"
WATCH: tuple[tuple[bytes, bool], ...] = (
    (frame(WATCH_ID, located("AL", AT, status=SOS_BIT)), True),
    (frame(WATCH_ID, located("AL", AT, status=FALL_BIT)), True),
    (frame(WATCH_ID, "LK,0,0,80"), False),
    (frame(WATCH_ID, located("UD", AT)), False),
    (frame(WATCH_ID, "bphrt,120,79,73"), False),
)


class Recorder:
    """A pipeline stand-in: asks each message's transport whether it is urgent, in order."""

    def __init__(self) -> None:
        self.seen: queue.Queue[tuple[Inbound, bool]] = queue.Queue()

    def __call__(self, item: Inbound) -> bool:
        self.seen.put((item, item.transport.urgent(item)))
        return True

    def next(self, keep: Callable[[Inbound], bool] = lambda _: True) -> bool:
        while True:
            item, urgent = self.seen.get(timeout=WAIT_S)
            if keep(item):
                return urgent


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def started(transport: Transport, recorder: Recorder) -> Iterator[Transport]:
    transport.start(recorder)
    try:
        yield transport
    finally:
        transport.close()


def test_mqtt_marks_presses_falls_sos_and_cancels_urgent(
    tmp_path: Path, recorder: Recorder
) -> None:
    with run_mosquitto(tmp_path) as server:
        transport = MqttTransport(
            parse_mqtt_url(server.url), client_id=f"vnh-gw-{uuid.uuid4().hex[:8]}"
        )
        for _ in started(transport, recorder):
            assert transport.wait_ready(WAIT_S)
            terminal = TestTerminal(server.url, ("T1",))
            try:
                for seq, (kind, fields, _) in enumerate(EVENTS, start=1):
                    terminal.publish(encode_event(1, seq, kind, fields), "T1")
                terminal.publish(b"offline", "T1", leaf="status")
                urgent = [recorder.next() for _ in range(len(EVENTS) + 1)]
            finally:
                terminal.close()
    assert urgent == [want for _, _, want in EVENTS] + [False]  # presence: routine


def test_a_serial_hub_line_is_urgent_by_its_type(recorder: Recorder) -> None:
    hub = HubEnd()
    transport = SerialTransport(hub.path, retry_first_s=FAST_RETRY_S, retry_max_s=FAST_RETRY_S)
    try:
        for _ in started(transport, recorder):
            assert transport.wait_state(PortState.OPEN, WAIT_S)  # lines before are not read
            for seq, (kind, fields, _) in enumerate(EVENTS, start=1):
                hub.send(encode_line("T1", 1, seq, kind, fields))
            hub.send(b"$VNH,T1,1,99,pre*00\r\n")  # unreadable (NAKed later): urgent
            urgent = [recorder.next() for _ in range(len(EVENTS) + 1)]
    finally:
        hub.close()
    assert urgent == [want for _, _, want in EVENTS] + [True]


def test_a_dc09_alarm_is_urgent_and_ac_battery_and_link_reports_are_not(
    recorder: Recorder,
) -> None:
    transport = Dc09Transport("127.0.0.1:0")
    for _ in started(transport, recorder):
        panel = Panel(transport.address)
        try:
            for data, _ in DC09:
                panel.send(data)
            panel.send(b"\n0000" + b'0010"ADM-CID"0001' + b"\r")  # broken: NAKed later, urgent
            urgent = [recorder.next() for _ in range(len(DC09) + 1)]
        finally:
            panel.close()
    assert urgent == [want for _, want in DC09] + [True]


def test_a_watch_alarm_is_urgent_and_links_positions_and_readings_are_not(
    recorder: Recorder,
) -> None:
    transport = WatchTransport("127.0.0.1:0")
    for _ in started(transport, recorder):
        watch = Watch(transport.address)
        try:
            for data, _ in WATCH:
                watch.send(data)
            urgent = [recorder.next() for _ in range(len(WATCH))]
        finally:
            watch.close()
    assert urgent == [want for _, want in WATCH]
