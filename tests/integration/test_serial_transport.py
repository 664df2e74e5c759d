"""The serial path over a real pty pair: the test plays the hub, the gateway opens the slave."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_api.http.app import create_app
from care_api.services import Services
from care_api.settings import Settings
from care_api.store.tables import Device
from device_gateway.ports import Inbound
from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.model import Nak, WireEvent
from device_gateway.protocol.nmea_codec import MAX_LINE_BYTES
from device_gateway.runtime import GatewayComponent
from device_gateway.transports.serial import (
    PortState,
    SerialReceipt,
    SerialTransport,
    parse_port_spec,
)
from firmware_sim import wire
from firmware_sim.serial_line import point_link
from tests.api.support import TestClient
from tests.helpers import operator_header, seed_elder
from tests.mosquitto import free_port
from tests.serial_support import (
    CASE_1,
    FAST_RETRY_S,
    WAIT_S,
    HubEnd,
    ack_line,
    cases,
    nak_line,
    press_line,
    wait_until,
)
from tests.serial_support import start_serial as start_serial  # a fixture, used by name

# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def hub() -> Iterator[HubEnd]:
    end = HubEnd()
    yield end
    end.close()


@pytest.fixture
def gateway(
    services: Services, hub: HubEnd, start_serial: Callable[[str], SerialTransport]
) -> SerialTransport:
    seed_elder(services, hub_port=hub.path)
    transport = start_serial(hub.path)
    assert transport.wait_state(PortState.OPEN, WAIT_S)
    return transport


# --- presses, acks and NAKs -------------------------------------------------------------------


def test_serial_press_is_acked_accepted_with_its_case_after_commit(
    gateway: SerialTransport, hub: HubEnd, services: Services
) -> None:
    hub.send(press_line())

    assert hub.reply() == ack_line("T1001", 42, "accepted", case=CASE_1)
    (case,) = cases(services)  # committed before the ack went out
    assert (case.id, case.kind) == (CASE_1, "emergency")


def test_serial_resent_press_is_duplicate_with_the_same_case(
    gateway: SerialTransport, hub: HubEnd, services: Services
) -> None:
    hub.send(press_line())
    hub.reply()  # the ack the hub "lost"
    hub.send(press_line())

    assert hub.reply() == ack_line("T1001", 42, "duplicate", case=CASE_1)
    assert [c.id for c in cases(services)] == [CASE_1]


def test_serial_bad_checksum_is_naked_naming_nobody(
    gateway: SerialTransport, hub: HubEnd, services: Services
) -> None:
    good = press_line()
    wrong = b"00" if not good.rstrip().endswith(b"00") else b"01"
    hub.send(good.rstrip()[:-2] + wrong + b"\r\n")

    assert hub.reply() == nak_line("bad checksum")
    assert cases(services) == []


def test_serial_over_long_line_is_naked_and_the_next_line_is_served(
    gateway: SerialTransport, hub: HubEnd
) -> None:
    hub.send(b"$VNH,T1001,7,41,press," + b"x" * MAX_LINE_BYTES + b"*00\r\n")
    assert hub.reply() == nak_line("line too long")

    hub.send(press_line())
    assert hub.reply() == ack_line("T1001", 42, "accepted", case=CASE_1)


def test_serial_garbage_before_dollar_is_skipped(gateway: SerialTransport, hub: HubEnd) -> None:
    hub.send(b"\x00\xff line noise \r\n" + b"\x7f#!" + press_line())

    assert hub.reply() == ack_line("T1001", 42, "accepted", case=CASE_1)


def test_serial_unknown_type_is_naked_naming_the_event(
    gateway: SerialTransport, hub: HubEnd
) -> None:
    hub.send(wire.encode_line("T1001", 7, 44, "dance"))

    assert hub.reply() == nak_line("unknown type 'dance'", "T1001", 7, 44)
    assert gateway.health()["naks"] == 1


def test_serial_heartbeat_is_accepted_without_a_case(
    gateway: SerialTransport, hub: HubEnd, services: Services
) -> None:
    hub.send(wire.encode_line("T1001", 7, 1, "heartbeat", {"battery": 88, "rssi": -71}))

    assert hub.reply() == ack_line("T1001", 1, "accepted")
    with services.uow() as uow:
        device = uow.session.get(Device, "T1001")
        assert device is not None
        assert device.battery == 88


def test_serial_device_behind_another_hub_is_naked(
    gateway: SerialTransport, hub: HubEnd, services: Services
) -> None:
    seed_elder(services, "T2002", hub_port="/dev/ttyUSB9")
    seed_elder(services, "T3003", name="Li Wei", hub_port=hub.path)

    hub.send(press_line("T2002", seq=5))
    assert hub.reply() == nak_line("device not behind this hub", "T2002", 7, 5)
    hub.send(press_line("T3003", seq=6))
    assert hub.reply().startswith(b"$ACK,T3003,7,6,accepted,case=")
    assert [c.device_id for c in cases(services)] == ["T3003"]


def test_serial_unknown_device_is_rejected(gateway: SerialTransport, hub: HubEnd) -> None:
    hub.send(press_line("T9999", seq=5))

    assert hub.reply() == ack_line("T9999", 5, "rejected", reason="unknown device")


# --- a port that goes away --------------------------------------------------------------------


def test_serial_port_that_vanishes_is_reopened_without_a_restart(
    services: Services, tmp_path: Path, start_serial: Callable[[str], SerialTransport]
) -> None:
    link = tmp_path / "hub0"
    seed_elder(services, hub_port=str(link))
    first = HubEnd(link)
    transport = start_serial(str(link))
    assert transport.wait_state(PortState.OPEN, WAIT_S)
    first.send(press_line())
    assert first.reply() == ack_line("T1001", 42, "accepted", case=CASE_1)

    first.close()  # the USB hub is unplugged: the pty and its link go away
    assert transport.wait_state(PortState.RETRYING, WAIT_S)
    assert transport.health()["last_error"]

    second = HubEnd(link)  # plugged in again, under the same name
    try:
        assert transport.wait_state(PortState.OPEN, WAIT_S)
        second.send(press_line(seq=43, pattern="double"))
        assert second.reply().startswith(b"$ACK,T1001,7,43,accepted,case=")
        health = transport.health()
        assert (health["state"], health["lines_in"], health["lines_out"]) == ("open", 2, 2)
    finally:
        second.close()


def test_serial_port_missing_at_start_is_opened_once_it_appears(
    services: Services, tmp_path: Path, start_serial: Callable[[str], SerialTransport]
) -> None:
    link = tmp_path / "not-yet"
    seed_elder(services, hub_port=str(link))
    transport = start_serial(f"{link}@9600")
    assert transport.wait_state(PortState.RETRYING, WAIT_S)
    assert "No such file" in str(transport.health()["last_error"])

    hub = HubEnd()
    try:
        point_link(link, hub.line.gateway_path)
        assert transport.wait_state(PortState.OPEN, WAIT_S)
        hub.send(press_line())
        assert hub.reply() == ack_line("T1001", 42, "accepted", case=CASE_1)
        assert transport.health()["baudrate"] == 9600
    finally:
        hub.close()


def test_serial_health_shows_in_healthz_per_port(
    services: Services, hub: HubEnd, tmp_path: Path
) -> None:
    seed_elder(services, hub_port=hub.path)
    missing = str(tmp_path / "unplugged")
    settings = Settings(
        database_url=services.settings.database_url,
        embedded_mqtt_port=free_port(),
        mqtt_client_id="gw-serial-health",
        serial_ports=[hub.path, missing],
        _env_file=None,  # type: ignore[call-arg]
    )
    gateway = GatewayComponent(settings, services)
    app = create_app(services, components=[gateway], health_checks={"gateway": gateway.health})

    def ports() -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], gateway.health()["serial"])

    with TestClient(app) as client:
        assert wait_until(lambda: ports()[hub.path]["state"] == "open")
        hub.send(press_line())
        assert hub.reply() == ack_line("T1001", 42, "accepted", case=CASE_1)

        body: dict[str, Any] = client.get("/healthz", headers=operator_header(services)).json()

    shown = body["gateway"]["serial"]
    assert body["status"] == "ok"  # a port being retried does not stop the service
    assert shown[hub.path] == {
        "state": "open",
        "baudrate": 115200,
        "last_error": None,
        "lines_in": 1,
        "lines_out": 1,
        "naks": 0,
        "replies_dropped": 0,
    }
    assert shown[missing]["state"] == "retrying"
    assert "No such file" in shown[missing]["last_error"]
    assert {port["state"] for port in ports().values()} == {"closed"}


# --- loop:// and port specs -------------------------------------------------------------------


def test_serial_loop_url_echo_of_own_reply_is_ignored_not_answered() -> None:
    transport = SerialTransport("loop://@9600", retry_first_s=FAST_RETRY_S)
    taken: list[Inbound] = []

    def take(item: Inbound) -> bool:
        taken.append(item)
        return True

    transport.start(take)
    try:
        assert transport.wait_state(PortState.OPEN, WAIT_S)
        transport.send_nak(Nak(reason="bad checksum"))  # loop:// hands it straight back

        assert wait_until(lambda: len(taken) == 1)
        (item,) = taken
        assert item.payload == nak_line("bad checksum")
        assert item.transport is transport
        assert transport.decode_line(item) is None  # an echo: never NAK a NAK
        health = transport.health()
        assert (health["baudrate"], health["lines_in"], health["lines_out"]) == (9600, 1, 1)
    finally:
        transport.close()
    assert transport.state is PortState.CLOSED


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/dev/ttyUSB0", ("/dev/ttyUSB0", 115200)),
        ("/dev/ttyUSB0@9600", ("/dev/ttyUSB0", 9600)),
        (" loop:// ", ("loop://", 115200)),
        ("socket://localhost:7777@57600", ("socket://localhost:7777", 57600)),
        ("/dev/serial/by-id/odd@name", ("/dev/serial/by-id/odd@name", 115200)),
    ],
)
def test_serial_port_spec_splits_port_and_baud(spec: str, expected: tuple[str, int]) -> None:
    assert parse_port_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "@9600", "/dev/ttyUSB0@0"])
def test_serial_port_spec_refuses_nonsense(spec: str) -> None:
    with pytest.raises(ValueError, match="serial port spec"):
        parse_port_spec(spec)


def test_serial_unknown_url_scheme_is_retried_and_reported() -> None:
    transport = SerialTransport("nosuch://x", retry_first_s=FAST_RETRY_S)
    transport.start(lambda item: True)
    try:
        assert transport.wait_state(PortState.RETRYING, WAIT_S)
        assert "nosuch" in str(transport.health()["last_error"])
    finally:
        transport.close()


@given(st.binary(max_size=300) | st.builds(lambda b: b"$VNH," + b, st.binary(max_size=250)))
def test_serial_decode_of_any_line_gives_an_event_nothing_or_frame_error(line: bytes) -> None:
    transport = SerialTransport("loop://")  # never started: decode is pure
    item = Inbound("serial:loop:///line", line, SerialReceipt(), transport)
    reason = None
    try:
        event = transport.decode_line(item)
    except FrameError as exc:
        reason, event = exc.reason, None
    assert event is None or isinstance(event, WireEvent)
    assert reason is None or reason  # a $NAK always says why
