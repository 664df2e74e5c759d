"""One pipeline path for every transport: the same events over MQTT and over a serial hub
write the same rows and get the same answers.

The frames go through the real transports' decoders (JSON on `vnh/v1/dev/<id>/up`, NMEA
lines of PROTOCOL.md) and the gateway's own worker, on two databases seeded alike. Every
column of every row intake writes must match, once the transport's name in `source` is
set aside; a frame that does not decode writes nothing on either and is refused in the
transport's own words (a rejecting ack, a `$NAK`).
"""

from __future__ import annotations

from typing import Any

from care_api.services import Services
from device_gateway.downlink import DownlinkRouter
from device_gateway.mqtt_url import parse_mqtt_url
from device_gateway.pipeline import Pipeline
from device_gateway.ports import Inbound
from device_gateway.protocol.model import Ack, AckStatus, Nak
from device_gateway.transports.mqtt import MqttReceipt, MqttTransport
from device_gateway.transports.serial import SerialReceipt, SerialTransport
from firmware_sim.wire import encode_event, encode_line, up_topic
from tests.contract.test_intake_paths import everything, twins  # noqa: F401 (a fixture)
from tests.fakes import FakeClock
from tests.helpers import seed_elder

HUB = "/dev/ttyUSB0"
SERIAL_SOURCE = f"serial:{HUB}"

# (device, boot, seq, type, fields): what a terminal sends, whichever way it reaches us.
EVENTS: tuple[tuple[str, int, int, str, dict[str, Any]], ...] = (
    ("T1", 3, 1, "press", {"button": "main", "pattern": "long"}),  # opens an emergency
    ("T1", 3, 2, "press", {"button": "main", "pattern": "triple"}),  # joins it
    ("T1", 3, 1, "press", {"button": "main", "pattern": "long"}),  # resent: duplicate
    ("T2", 3, 1, "press", {"button": "main", "pattern": "single"}),  # a service case
    ("T2", 3, 2, "cancel", {"ref_seq": 1}),  # cancels it: nobody took it yet
    ("T3", 3, 1, "heartbeat", {"battery": 14}),  # low battery
    ("NOPE", 3, 1, "press", {"button": "main", "pattern": "long"}),  # unknown terminal
)


class MqttEnd(MqttTransport):
    """The real MQTT transport's decoding, with its answers recorded instead of published."""

    def __init__(self) -> None:
        super().__init__(parse_mqtt_url("mqtt://127.0.0.1:1"), client_id="contract")
        self.answers: list[Ack | Nak] = []
        self.urgent_acks: dict[tuple[str, int | None], bool] = {}

    def send_ack(self, device_id: str, ack: Ack, *, urgent: bool = False) -> None:
        self.answers.append(ack)
        self.urgent_acks[(ack.device_id, ack.seq)] = urgent

    def settle(self, receipt: object) -> None:
        pass


class SerialEnd(SerialTransport):
    """The real serial transport's decoding, with its answers recorded instead of written."""

    def __init__(self) -> None:
        super().__init__(HUB)
        self.answers: list[Ack | Nak] = []

    def send_ack(self, device_id: str, ack: Ack, *, urgent: bool = False) -> None:
        self.answers.append(ack)

    def send_nak(self, nak: Nak) -> None:
        self.answers.append(nak)


def mqtt_items(transport: MqttEnd) -> list[Inbound]:
    items = [
        Inbound(
            up_topic(device), encode_event(boot, seq, kind, fields), MqttReceipt(n, 1, 0), transport
        )
        for n, (device, boot, seq, kind, fields) in enumerate(EVENTS)
    ]
    return [*items, Inbound(up_topic("T1"), b'{"boot":3,"seq":', MqttReceipt(99, 1, 0), transport)]


def serial_items(transport: SerialEnd) -> list[Inbound]:
    topic = f"{SERIAL_SOURCE}/line"
    items = [
        Inbound(topic, encode_line(device, boot, seq, kind, fields), SerialReceipt(), transport)
        for device, boot, seq, kind, fields in EVENTS
    ]
    return [*items, Inbound(topic, b"$VNH,T1,3,9,press*00\r\n", SerialReceipt(), transport)]


def run(services: Services, items: list[Inbound]) -> None:
    """Hand `items` to one gateway worker, in order, and let it finish them."""
    transport = items[0].transport
    pipeline = Pipeline(services, DownlinkRouter(transport))
    for item in items:
        assert pipeline.offer(item)
    pipeline.start()
    pipeline.stop(drain_s=30)
    assert pipeline.depth == 0


def seed(services: Services) -> None:
    for device, name in (("T1", "Zhang Xiuying"), ("T2", "Li Wei"), ("T3", "Chen Hua")):
        seed_elder(services, device, name=name, hub_port=HUB)


def without_source(rows: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        table: [
            [(k, "<transport>" if v in ("mqtt", SERIAL_SOURCE) else v) for k, v in row]
            for row in table_rows
        ]
        for table, table_rows in rows.items()
    }


def answered(answers: list[Ack | Nak]) -> list[tuple[Any, ...]]:
    return [
        (a.device_id, a.seq, a.status, a.case, a.reason) if isinstance(a, Ack) else ("nak",)
        for a in answers
    ]


def test_mqtt_and_serial_frames_write_the_same_and_answer_the_same(
    twins: tuple[Services, Services],  # noqa: F811 (the fixture)
    clock: FakeClock,
) -> None:
    over_mqtt, over_serial = twins
    for services in twins:
        seed(services)
    mqtt, serial = MqttEnd(), SerialEnd()

    run(over_mqtt, mqtt_items(mqtt))
    run(over_serial, serial_items(serial))

    assert without_source(everything(over_mqtt)) == without_source(everything(over_serial))
    written = everything(over_mqtt)
    assert written["care_case"], "the presses opened no case"
    assert written["device_event"], "no event was recorded"
    # Each event answered once, alike; the broken frame refused in each transport's words
    # (as it is decoded, before the events recorded with it are answered).
    broken_mqtt = [a for a in mqtt.answers if isinstance(a, Ack) and a.seq is None]
    broken_serial = [a for a in serial.answers if isinstance(a, Nak)]
    assert len(broken_mqtt) == 1 and broken_mqtt[0].status is AckStatus.REJECTED
    assert len(broken_serial) == 1
    events_mqtt = [a for a in mqtt.answers if a not in broken_mqtt]
    events_serial = [a for a in serial.answers if a not in broken_serial]
    # Per terminal in the order sent; across terminals the urgent lane may reorder them
    # (a hub's lines are not looked into, so all go first; an MQTT heartbeat waits).
    assert sorted(answered(events_mqtt), key=repr) == sorted(answered(events_serial), key=repr)
    assert len(events_mqtt) == len(EVENTS)
    assert [s[2] for s in answered(events_mqtt)].count(AckStatus.DUPLICATE) == 1


def test_the_acks_of_what_a_person_waits_on_go_out_first(services: Services) -> None:
    # Presses and cancels are answered ahead of what waits in the outgoing queue (a storm's
    # acks); a heartbeat's answer takes its turn.
    seed(services)
    mqtt = MqttEnd()
    run(services, mqtt_items(mqtt))
    assert mqtt.urgent_acks == {
        ("T1", 1): True,
        ("T1", 2): True,
        ("T2", 1): True,
        ("T2", 2): True,
        ("T3", 1): False,
        ("NOPE", 1): True,
        ("T1", None): False,  # the broken frame, refused as it is decoded
    }
