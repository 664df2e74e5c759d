"""firmware_sim's serial hub: against the real gateway over a pty, and against a silent peer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import serial
import typer
from pydantic import SecretStr
from sqlmodel import select
from typer.testing import CliRunner

from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.tables import Device
from device_gateway.transports.serial import PortState, SerialTransport
from firmware_sim import wire
from firmware_sim.cli import sim
from firmware_sim.hub import Hub
from firmware_sim.provision import provision
from firmware_sim.serial_line import PtyLine
from tests.api.support import ADMIN_TOKEN, TestClient
from tests.fakes import FakeClock
from tests.helpers import seed_elder
from tests.serial_support import CASE_1, WAIT_S, cases, wait_until
from tests.serial_support import start_serial as start_serial  # a fixture, used by name

SHORT_ACK_S = 0.2  # instead of PROTOCOL.md's 2 s
NO_HEARTBEAT_S = 3600.0


@pytest.fixture
def make_hub() -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def make(device_ids: tuple[str, ...] = ("T1001", "T1002"), **options: Any) -> Hub:
        options = {"ack_timeout_s": SHORT_ACK_S, "heartbeat_s": NO_HEARTBEAT_S, **options}
        hub = Hub(PtyLine(), list(device_ids), boot=7, **options)
        hubs.append(hub)
        hub.start()
        return hub

    yield make
    for hub in hubs:
        hub.stop()


@pytest.fixture
def silent_gateway() -> Iterator[Callable[[Hub], Any]]:
    """Open a hub's pty as the gateway would, but answer only when the test says so."""
    ports: list[Any] = []

    def open_port(hub: Hub) -> Any:
        port = serial.serial_for_url(hub.line_name, baudrate=115200, timeout=WAIT_S)
        ports.append(port)
        return port

    yield open_port
    for port in ports:
        port.close()


# --- against the gateway ----------------------------------------------------------------------


def test_hub_presses_are_acked_by_the_gateway_over_a_pty(
    services: Services,
    make_hub: Callable[..., Hub],
    start_serial: Callable[[str], SerialTransport],
) -> None:
    hub = make_hub()
    seed_elder(services, "T1001", hub_port=hub.line_name)
    seed_elder(services, "T1002", name="Li Wei", hub_port=hub.line_name)
    assert start_serial(hub.line_name).wait_state(PortState.OPEN, WAIT_S)

    first = hub.press("T1001", "long").wait(WAIT_S)
    second = hub.press("T1002", "double").wait(WAIT_S)

    assert first is not None and second is not None
    assert (first["status"], first["case"]) == ("accepted", CASE_1)
    assert (second["status"], second["case"]) == ("accepted", "C-20261122-0002")
    stats = hub.stats()
    assert (stats.accepted, stats.resends, stats.lost, stats.pending) == (2, 0, 0, 0)
    assert sorted(c.kind for c in cases(services)) == ["care", "emergency"]


def test_hub_resends_after_a_dropped_ack_and_gets_the_same_case(
    services: Services,
    make_hub: Callable[..., Hub],
    start_serial: Callable[[str], SerialTransport],
) -> None:
    hub = make_hub(("T1001",))
    seed_elder(services, "T1001", hub_port=hub.line_name)
    assert start_serial(hub.line_name).wait_state(PortState.OPEN, WAIT_S)
    hub.drop_next_replies(1)  # the first $ACK is lost on the line

    ack = hub.press("T1001", "long").wait(WAIT_S)

    assert ack is not None
    assert (ack["status"], ack["case"]) == ("duplicate", CASE_1)
    stats = hub.stats()
    assert (stats.dropped_replies, stats.duplicate, stats.accepted) == (1, 1, 0)
    assert stats.resends >= 1
    assert [c.id for c in cases(services)] == [CASE_1]


def test_hub_terminals_provisioned_through_the_api_with_hub_port_are_served(
    db_url: str,
    clock: FakeClock,
    make_hub: Callable[..., Hub],
    start_serial: Callable[[str], SerialTransport],
) -> None:
    settings = Settings(
        database_url=db_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        _env_file=None,  # type: ignore[call-arg]
    )
    services = build_services(settings, clock=clock)
    try:
        hub = make_hub(("HUB0001", "HUB0002"))
        with TestClient(create_app(services)) as client:
            provision(
                "http://testserver", ADMIN_TOKEN, 2, "HUB", client=client, hub_port=hub.line_name
            )
        with services.uow() as uow:
            devices = uow.session.exec(select(Device)).all()
            assert {(d.device_id, d.hub_port) for d in devices} == {
                ("HUB0001", hub.line_name),
                ("HUB0002", hub.line_name),
            }
        assert start_serial(hub.line_name).wait_state(PortState.OPEN, WAIT_S)

        ack = hub.press("HUB0002", "single").wait(WAIT_S)

        assert ack is not None
        assert (ack["status"], ack["case"]) == ("accepted", CASE_1)
    finally:
        services.close()


def test_a_hub_cannot_report_for_a_terminal_not_provisioned_behind_it(
    services: Services,
    make_hub: Callable[..., Hub],
    start_serial: Callable[[str], SerialTransport],
) -> None:
    hub = make_hub(("T1001", "T2002", "T3003"))
    seed_elder(services, "T1001", hub_port=hub.line_name)
    seed_elder(services, "T2002", name="Li Wei")  # an MQTT-only terminal
    seed_elder(services, "T3003", name="Chen Hua", hub_port="/dev/ttyUSB9")  # another hub's
    assert start_serial(hub.line_name).wait_state(PortState.OPEN, WAIT_S)

    mqtt_only = hub.press("T2002", "long").wait(WAIT_S)
    elsewhere = hub.press("T3003", "long").wait(WAIT_S)
    behind = hub.press("T1001", "long").wait(WAIT_S)

    assert mqtt_only is not None and elsewhere is not None and behind is not None
    for nak in (mqtt_only, elsewhere):
        assert (nak["status"], nak["case"], nak["reason"]) == (
            "nak",
            None,
            "device not behind this hub",
        )
    assert (behind["status"], behind["case"]) == ("accepted", CASE_1)
    assert [(c.id, c.device_id) for c in cases(services)] == [(CASE_1, "T1001")]
    stats = hub.stats()
    assert (stats.naks, stats.accepted, stats.resends) == (2, 1, 0)


# --- against a peer that does not answer ------------------------------------------------------


def read_lines(port: Any, count: int) -> list[bytes]:
    lines = [port.readline() for _ in range(count)]
    assert all(line.endswith(b"\r\n") for line in lines), lines
    return [line.rstrip() for line in lines]


def test_hub_gives_up_after_five_resends_and_counts_the_line_lost(
    make_hub: Callable[..., Hub], silent_gateway: Callable[[Hub], Any]
) -> None:
    hub = make_hub(("T1001",), ack_timeout_s=0.05)
    port = silent_gateway(hub)

    outcome = hub.press("T1001", "long").wait(WAIT_S)

    assert outcome is not None and outcome["status"] == "lost"
    lines = read_lines(port, 6)  # sent once, resent five times, all the same line
    assert len(set(lines)) == 1
    assert wire.decode_line(lines[0]).seq == 0
    stats = hub.stats()
    assert (stats.sent, stats.resends, stats.lost, stats.pending) == (1, 5, 1, 0)


def test_hub_keeps_one_line_in_flight_per_terminal(
    make_hub: Callable[..., Hub], silent_gateway: Callable[[Hub], Any]
) -> None:
    hub = make_hub(("T1001", "T1002"))
    port = silent_gateway(hub)
    first = hub.press("T1001", "long")
    second = hub.press("T1001", "single")
    hub.press("T1002", "double")

    # Both terminals' first lines go out at once; T1001's second waits for its ack, so
    # the next line of T1001 on the wire is the resend of its first.
    out = [wire.decode_line(line) for line in read_lines(port, 3)]
    assert [(e.device_id, e.seq) for e in out] == [("T1001", 0), ("T1002", 0), ("T1001", 0)]

    port.write(wire.encode_reply("ACK", "T1001", 7, 0, "accepted", {"case": "C-X-1"}))
    assert first.wait(WAIT_S) == {
        "ack": 0,
        "boot": 7,
        "case": "C-X-1",
        "status": "accepted",
        "reason": None,
    }
    # Resends already on the wire may come first; then T1001's second line goes out.
    while (event := wire.decode_line(read_lines(port, 1)[0])).seq == 0:
        pass
    assert (event.device_id, event.seq, event.fields["pattern"]) == ("T1001", 1, "single")
    assert not second.done


def test_hub_settles_a_nak_naming_its_line_and_ignores_garbage(
    make_hub: Callable[..., Hub], silent_gateway: Callable[[Hub], Any]
) -> None:
    hub = make_hub(("T1001",))
    port = silent_gateway(hub)
    event = hub.send("T1001", "dance")
    read_lines(port, 1)

    port.write(b"\x00noise\r\n$ACK,garbled*00\r\n")
    port.write(wire.encode_reply("NAK", "T1001", 7, 0, "unknown type 'dance'"))

    assert event.wait(WAIT_S) == {
        "ack": 0,
        "boot": 7,
        "case": None,
        "status": "nak",
        "reason": "unknown type 'dance'",
    }
    stats = hub.stats()
    assert (stats.naks, stats.extra_replies, stats.pending) == (1, 1, 0)


# --- vnh sim --serial-pty ---------------------------------------------------------------------


def test_sim_command_serial_pty_runs_a_hub_the_gateway_serves(
    services: Services,
    tmp_path: Path,
    start_serial: Callable[[str], SerialTransport],
) -> None:
    link = tmp_path / "hub0"
    for i, device_id in enumerate(("SIM0001", "SIM0002")):
        seed_elder(services, device_id, name=f"Elder {i}", hub_port=str(link))
    creds = tmp_path / "creds.csv"
    creds.write_text("device_id,secret\nSIM0001,-\nSIM0002,-\n")
    # The gateway is configured first and waits for the link the sim makes.
    transport = start_serial(str(link))
    app = typer.Typer()
    app.command()(sim)

    result = CliRunner().invoke(
        app,
        [
            *("--credentials", str(creds), "--serial-pty", "--pty-link", str(link)),
            *("--rate", "20", "--duration", "0.5", "--heartbeat", "3600", "--seed", "3"),
            *("--ack-timeout", str(SHORT_ACK_S)),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "the gateway's end is /dev/pts/" in result.output
    assert f"VNH_SERIAL_PORTS={link} vnh serve" in result.output
    assert "2 terminals behind the hub" in result.output
    assert cases(services), result.output  # the random presses opened cases
    assert not link.exists()  # removed with the pty: never left pointing at a reused number
    assert wait_until(lambda: transport.state is PortState.RETRYING)
    boots = transport.health()["lines_in"]
    assert isinstance(boots, int) and boots >= 2  # at least each terminal's boot line
