"""The DC-09 receiver over a real TCP socket: a panel (spec-written sender) → gateway → case."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlmodel import select

from care_api.http.app import create_app
from care_api.services import Services
from care_api.settings import Settings
from care_api.store.tables import Device, DeviceEvent
from device_gateway.downlink import DownlinkRouter
from device_gateway.pipeline import Pipeline
from device_gateway.runtime import GatewayComponent
from device_gateway.transports.dc09 import Dc09Transport
from tests import dc09_sender
from tests.api.support import TestClient
from tests.dc09_sender import Panel, answer_id, contact_id
from tests.fakes import FakeClock
from tests.fleet.support import CONTACT, history, settle, twilio_alerts
from tests.helpers import operator_header, seed_elder
from tests.mosquitto import free_port
from tests.serial_support import cases, wait_until
from tests.twilio_server import RecordingTwilioServer

ACCOUNT = "1234"
DEVICE = "dc09-1234"


@pytest.fixture
def receiver(services: Services) -> Iterator[Dc09Transport]:
    seed_elder(services, DEVICE)
    transport = Dc09Transport("127.0.0.1:0")  # a free port, never a fixed one
    pipeline = Pipeline(services, DownlinkRouter(transport))
    pipeline.start()
    transport.start(pipeline.offer)
    yield transport
    pipeline.stop()
    transport.close()


@pytest.fixture
def panel(receiver: Dc09Transport) -> Iterator[Panel]:
    end = Panel(receiver.address)
    yield end
    end.close()


def _events(services: Services) -> list[DeviceEvent]:
    with services.uow() as uow:
        return list(uow.session.exec(select(DeviceEvent)).all())


def _device(services: Services) -> Device:
    with services.uow() as uow:
        device = uow.session.get(Device, DEVICE)
        assert device is not None
        return device


def test_personal_emergency_opens_an_emergency_and_is_acked_after_commit(
    panel: Panel, services: Services
) -> None:
    panel.send(contact_id(7, ACCOUNT, "1101"))

    answer = panel.answer()
    assert answer_id(answer) == "ACK"
    assert b'"ACK"0007R1L1#1234[]' in answer  # seq, receiver, line, account echoed
    (case,) = cases(services)  # committed before the ACK went out
    assert (case.kind, case.device_id) == ("emergency", DEVICE)


def test_medical_alarm_1100_opens_an_emergency(panel: Panel, services: Services) -> None:
    panel.send(contact_id(3, ACCOUNT, "1100"))
    assert answer_id(panel.answer()) == "ACK"
    assert [c.kind for c in cases(services)] == ["emergency"]


def test_resent_message_is_a_duplicate_with_one_case(panel: Panel, services: Services) -> None:
    frame = contact_id(8, ACCOUNT, "1101")
    panel.send(frame)
    assert answer_id(panel.answer()) == "ACK"  # the ACK the panel "lost"
    panel.send(frame)

    assert answer_id(panel.answer()) == "ACK"
    assert len(cases(services)) == 1
    assert len(_events(services)) == 1


def test_resend_on_a_new_connection_is_still_one_case(
    receiver: Dc09Transport, panel: Panel, services: Services
) -> None:
    frame = contact_id(9, ACCOUNT, "1101")
    panel.send(frame)
    panel.answer()
    panel.close()
    again = Panel(receiver.address)
    try:
        again.send(frame)
        assert answer_id(again.answer()) == "ACK"
    finally:
        again.close()
    assert len(cases(services)) == 1


def test_corrupted_frame_is_naked_and_the_connection_stays_usable(
    panel: Panel, services: Services
) -> None:
    good = contact_id(10, ACCOUNT, "1101")
    bad = good[:-3] + (b"6" if good[-3:-2] != b"6" else b"7") + good[-2:]  # CRC no longer fits
    panel.send(bad)
    nak = panel.answer()
    assert answer_id(nak) == "NAK"
    assert b'"NAK"0000' in nak
    assert cases(services) == []

    panel.send(good)
    assert answer_id(panel.answer()) == "ACK"
    assert len(cases(services)) == 1


def test_noise_and_over_long_frames_are_naked(panel: Panel) -> None:
    panel.send(b"\n" + b"Z" * 2000 + b"\r")
    assert answer_id(panel.answer()) == "NAK"
    panel.send(b"\x00\xffgarbage" + contact_id(11, ACCOUNT, "1602"))
    assert answer_id(panel.answer()) == "ACK"


def test_unknown_account_is_duhed_and_nothing_changes(panel: Panel, services: Services) -> None:
    panel.send(contact_id(12, "9999", "1101"))

    answer = panel.answer()
    assert answer_id(answer) == "DUH"
    assert b"#9999[]" in answer
    assert cases(services) == []
    assert _events(services) == []


def test_unknown_account_is_duhed_whatever_it_sends(panel: Panel, services: Services) -> None:
    panel.send(contact_id(22, "9999", "1130"))  # an event the service does not act on
    assert answer_id(panel.answer()) == "DUH"
    panel.send(dc09_sender.block("NULL", 23, "9999", ""))  # a link poll
    assert answer_id(panel.answer()) == "DUH"
    assert _events(services) == []


def test_encrypted_message_is_duhed(panel: Panel, services: Services) -> None:
    panel.send(dc09_sender.block("*ADM-CID", 13, ACCOUNT, "0123456789ABCDEF"))
    assert answer_id(panel.answer()) == "DUH"
    assert cases(services) == []


def test_low_battery_and_power_loss_open_the_device_case(panel: Panel, services: Services) -> None:
    panel.send(contact_id(14, ACCOUNT, "1302"))
    assert answer_id(panel.answer()) == "ACK"
    assert _device(services).battery_low
    panel.send(contact_id(15, ACCOUNT, "1301"))
    assert answer_id(panel.answer()) == "ACK"
    assert _device(services).power_lost
    assert [c.kind for c in cases(services)] == ["device"]

    panel.send(contact_id(16, ACCOUNT, "3301"))
    assert answer_id(panel.answer()) == "ACK"
    assert not _device(services).power_lost


def test_periodic_test_and_link_poll_count_as_heartbeats(panel: Panel, services: Services) -> None:
    panel.send(contact_id(17, ACCOUNT, "1602", group="00", zone="000"))
    assert answer_id(panel.answer()) == "ACK"
    assert services.heartbeats.latest(DEVICE) is not None or _device(services).last_seen_at
    panel.send(dc09_sender.block("NULL", 18, ACCOUNT, ""))
    assert answer_id(panel.answer()) == "ACK"
    assert cases(services) == []


def test_sia_dcs_medical_alarm_opens_an_emergency(panel: Panel, services: Services) -> None:
    panel.send(dc09_sender.block("SIA-DCS", 19, ACCOUNT, f"#{ACCOUNT}|Nri1/MA501"))
    assert answer_id(panel.answer()) == "ACK"
    assert [c.kind for c in cases(services)] == ["emergency"]


def test_event_the_service_does_not_act_on_is_acked_and_changes_nothing(
    panel: Panel, services: Services
) -> None:
    panel.send(contact_id(20, ACCOUNT, "1130"))  # burglary
    assert answer_id(panel.answer()) == "ACK"
    assert cases(services) == []
    assert _events(services) == []


def test_health_counts_answers(receiver: Dc09Transport, panel: Panel) -> None:
    panel.send(contact_id(21, ACCOUNT, "1101"))
    panel.answer()
    panel.send(b"\n0000" + b"\r")
    panel.answer()
    assert wait_until(lambda: receiver.health()["acks"] == 1 and receiver.health()["naks"] == 1)
    assert receiver.health()["connections"] == 1


def test_dc09_spt_dialler_reports_an_emergency(receiver: Dc09Transport, services: Services) -> None:
    """An independent open-source sender (dc09-spt), when it is installed."""
    dc09_msg = pytest.importorskip("dc09_spt.msg.dc09_msg")
    dc05_msg = pytest.importorskip("dc09_spt.msg.dc05_msg")
    msg = dc09_msg.dc09_msg(ACCOUNT, receiver=1, line=1)
    payload = dc05_msg.dc05_msg.dc05event(ACCOUNT, {"code": "101", "q": "1", "zone": "1"})
    block = msg.dc09block(5, "ADM-CID", payload)
    end = Panel(receiver.address)
    try:
        end.send(block.encode("ascii"))
        answer = end.answer().decode("ascii")
    finally:
        end.close()
    assert msg.dc09answer(5, answer)[0] == "ACK"
    assert [c.kind for c in cases(services)] == ["emergency"]


def test_vnh_dc09_listen_starts_the_receiver_in_the_gateway(services: Services) -> None:
    seed_elder(services, DEVICE)
    port = free_port()
    settings = Settings(
        database_url=services.settings.database_url,
        embedded_mqtt_port=free_port(),
        mqtt_client_id="gw-dc09",
        dc09_listen=f"127.0.0.1:{port}",
        _env_file=None,  # type: ignore[call-arg]
    )
    gateway = GatewayComponent(settings, services)
    app = create_app(services, components=[gateway], health_checks={"gateway": gateway.health})
    with TestClient(app) as client:
        end = Panel(("127.0.0.1", port))
        try:
            end.send(contact_id(30, ACCOUNT, "1101"))
            assert answer_id(end.answer()) == "ACK"
        finally:
            end.close()
        shown = client.get("/healthz", headers=operator_header(services)).json()["gateway"]["dc09"]
    assert shown["listen"] == f"127.0.0.1:{port}"
    assert shown["acks"] == 1
    assert [c.kind for c in cases(services)] == ["emergency"]


def test_receiver_is_off_by_default() -> None:
    assert Settings(_env_file=None).dc09_listen is None  # type: ignore[call-arg]


def test_a_taken_address_stops_the_gateway_before_anything_runs(services: Services) -> None:
    taken = Dc09Transport("127.0.0.1:0")
    taken.listen()
    try:
        host, port = taken.address
        settings = Settings(
            database_url=services.settings.database_url,
            embedded_mqtt_port=free_port(),
            dc09_listen=f"{host}:{port}",
            _env_file=None,  # type: ignore[call-arg]
        )
        gateway = GatewayComponent(settings, services)
        with pytest.raises(OSError):
            gateway.start()
        assert gateway.health()["broker_running"] is None  # the broker never started
    finally:
        taken.close()


@contextmanager
def _capped_receiver(services: Services, **caps: Any) -> Iterator[Dc09Transport]:
    seed_elder(services, DEVICE)
    transport = Dc09Transport("127.0.0.1:0", **caps)
    pipeline = Pipeline(services, DownlinkRouter(transport))
    pipeline.start()
    transport.start(pipeline.offer)
    try:
        yield transport
    finally:
        pipeline.stop()
        transport.close()


def _open(receiver: Dc09Transport, count: int, source: str | None = None) -> list[Panel]:
    return [Panel(receiver.address, source=source) for _ in range(count)]


IDLE_FLOOD = 30  # idle connections tried beyond the cap (bounded: each is one socket)


def test_connections_beyond_the_cap_are_refused_and_an_open_panels_alarm_is_acked(
    services: Services,
) -> None:
    with _capped_receiver(services, max_connections=6, max_per_source=100) as receiver:
        panel, *idle = _open(receiver, 6)
        extra: list[Panel] = []
        try:
            assert wait_until(lambda: receiver.health()["connections"] == 6)
            extra = _open(receiver, IDLE_FLOOD)
            assert all(end.closed_by_receiver() for end in extra)
            assert receiver.health()["refused"] == IDLE_FLOOD
            assert receiver.health()["connections"] == 6
            # The panel that was in first is still heard, and its alarm makes its case.
            panel.send(contact_id(11, ACCOUNT, "1101"))
            assert answer_id(panel.answer()) == "ACK"
            assert [c.kind for c in cases(services)] == ["emergency"]
            # A freed place is taken again.
            idle.pop().close()
            assert wait_until(lambda: receiver.health()["connections"] == 5)
            (late,) = _open(receiver, 1)
            idle.append(late)
            late.send(contact_id(12, ACCOUNT, "1101"))
            assert answer_id(late.answer()) == "ACK"
        finally:
            for end in (panel, *idle, *extra):
                end.close()


def test_one_source_cannot_take_every_place(services: Services) -> None:
    with _capped_receiver(services, max_connections=100, max_per_source=3) as receiver:
        crowd = _open(receiver, 3, source="127.0.0.1")
        try:
            (refused,) = _open(receiver, 1, source="127.0.0.1")
            crowd.append(refused)
            assert refused.closed_by_receiver()
            # Another address still gets in, and its alarm is acked.
            (other,) = _open(receiver, 1, source="127.0.0.2")
            crowd.append(other)
            other.send(contact_id(13, ACCOUNT, "1101"))
            assert answer_id(other.answer()) == "ACK"
            assert receiver.health()["refused"] == 1
        finally:
            for end in crowd:
                end.close()


def test_an_idle_connection_is_closed_and_a_busy_one_stays(
    services: Services, clock: FakeClock
) -> None:
    def seconds() -> float:
        return clock.now().timestamp()

    with _capped_receiver(services, idle_timeout_s=60, clock=seconds) as receiver:
        quiet, busy = _open(receiver, 2)
        try:
            assert wait_until(lambda: receiver.health()["connections"] == 2)
            clock.advance(seconds=50)
            busy.send(contact_id(14, ACCOUNT, "1101"))
            assert answer_id(busy.answer()) == "ACK"
            clock.advance(seconds=11)  # quiet: 61 s silent; busy: 11 s since its ACK
            assert quiet.closed_by_receiver()
            assert wait_until(lambda: receiver.health()["idle_closed"] == 1)
            busy.send(contact_id(15, ACCOUNT, "3101"))
            assert answer_id(busy.answer()) == "ACK"
            assert receiver.health()["connections"] == 1
        finally:
            quiet.close()
            busy.close()


def test_mains_flapping_makes_one_device_case_and_two_messages(
    panel: Panel, services: Services, clock: FakeClock
) -> None:
    with RecordingTwilioServer() as twilio:
        alerts = twilio_alerts(services, twilio)
        try:
            seq = 0
            for _ in range(15):  # lost and restored every 10 s, no secret needed
                for code in ("1301", "3301"):
                    seq += 1
                    panel.send(contact_id(seq, ACCOUNT, code))
                    assert answer_id(panel.answer()) == "ACK"
                    settle(alerts)
                    clock.advance(seconds=5)
            # Before: a case per flap, each with an alert and a "works again" (30 SMS).
            [case] = cases(services)
            assert case.state != "resolved"  # still flapping moments ago: not settled yet
            assert len(twilio.received) == 1
            clock.advance(minutes=5)  # the supply held
            settle(alerts)
        finally:
            alerts.stop()
        received = twilio.received

    [case] = cases(services)
    assert (case.kind, case.state) == ("device", "resolved")
    assert [r.form["To"] for r in received] == [CONTACT, CONTACT]
    assert "may not be working" in received[0].form["Body"]
    assert "works again" in received[1].form["Body"]
    notes = [why for _, why in history(services, case.id)]
    assert sum("mains power lost" in why for why in notes) == 15
    assert notes[-1] == "fine for 5 min; resolved by itself"
