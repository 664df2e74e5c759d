"""The 4G watch receiver over real TCP: a watch (makers'-document encoder) → gateway → family."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.http.app import create_app
from care_api.services import Services
from care_api.settings import Settings
from care_api.store.tables import Contact, Device, DeviceEvent, Notification, Timer
from device_gateway.downlink import DownlinkRouter
from device_gateway.pipeline import Pipeline
from device_gateway.runtime import GatewayComponent
from device_gateway.transports.watch import WatchTransport
from firmware_sim.watch import HOME, SimWatch
from tests.api.support import TestClient
from tests.helpers import operator_header, seed_elder
from tests.mosquitto import free_port
from tests.serial_support import cases, wait_until
from tests.watch_sender import FALL_BIT, LOW_BATTERY_BIT, SOS_BIT, Watch, frame, located

WATCH = "8800000015"
AT = datetime(2024, 5, 17, 8, 30, 15, tzinfo=UTC)
LK_ANSWER = f"[3G*{WATCH}*0002*LK]".encode()
AL_ANSWER = f"[3G*{WATCH}*0002*AL]".encode()


class Ticks:
    """A monotonic clock the test moves by hand (the receiver's idle timer reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def svc(services: Services) -> Services:
    return services


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def receiver(services: Services, ticks: Ticks) -> Iterator[WatchTransport]:
    seed_elder(services, WATCH)
    transport = WatchTransport(
        "127.0.0.1:0", max_per_source=3, idle_timeout_s=600, monotonic=ticks
    )  # a free port, never a fixed one
    pipeline = Pipeline(services, DownlinkRouter(transport))
    pipeline.start()
    transport.start(pipeline.offer)
    yield transport
    pipeline.stop()
    transport.close()


@pytest.fixture
def watch(receiver: WatchTransport) -> Iterator[Watch]:
    end = Watch(receiver.address)
    yield end
    end.close()


def _events(services: Services) -> list[DeviceEvent]:
    with services.uow() as uow:
        return list(uow.session.exec(select(DeviceEvent)).all())


def _device(services: Services) -> Device:
    with services.uow() as uow:
        device = uow.session.get(Device, WATCH)
        assert device is not None
        return device


def _notifications(services: Services, case_id: str) -> list[Notification]:
    with services.uow() as uow:
        query = select(Notification).where(Notification.case_id == case_id)
        return list(uow.session.exec(query.order_by(col(Notification.id))).all())


def _contacts(services: Services) -> set[str]:
    with services.uow() as uow:
        return {f"contact:{c.id}" for c in uow.session.exec(select(Contact)).all()}


def test_link_is_answered_and_counts_as_a_heartbeat(watch: Watch, services: Services) -> None:
    watch.send(frame(WATCH, "LK,120,3,76"))
    assert watch.answer() == LK_ANSWER
    assert services.heartbeats.latest(WATCH) is not None or _device(services).last_seen_at
    assert cases(services) == []


def test_sos_reaches_the_family_as_a_terminal_press_does(
    watch: Watch, services: Services, alerts: AlertsComponent
) -> None:
    watch.send(frame(WATCH, located("AL", AT, status=SOS_BIT)))

    assert watch.answer() == AL_ANSWER
    (case,) = cases(services)  # committed before the answer went out
    assert (case.kind, case.device_id) == ("emergency", WATCH)
    (event,) = _events(services)
    assert (event.type, event.fields["button"], event.source) == ("press", "sos", "watch")
    alerts.tick()
    alerts.run_pending()
    rows = _notifications(services, case.id)
    paged = {n.recipient for n in rows if n.channel in ("sms", "voice")}
    assert _contacts(services) & paged  # the ladder's first step reached the family
    assert all(n.status != "failed" for n in rows)


def test_resent_alarm_is_one_event_and_one_case(
    receiver: WatchTransport, watch: Watch, services: Services
) -> None:
    alarm = frame(WATCH, located("AL", AT, status=SOS_BIT, fix=False, cells=0))
    watch.send(alarm)
    assert watch.answer() == AL_ANSWER  # the answer the watch "lost"
    watch.send(alarm)
    assert watch.answer() == AL_ANSWER
    watch.close()
    again = Watch(receiver.address)  # and once more after reconnecting
    try:
        again.send(alarm)
        assert again.answer() == AL_ANSWER
    finally:
        again.close()
    assert len(cases(services)) == 1
    assert len(_events(services)) == 1


def test_a_later_sos_is_a_new_event_that_joins_the_running_emergency(
    watch: Watch, services: Services
) -> None:
    watch.send(frame(WATCH, located("AL", AT, status=SOS_BIT)))
    watch.answer()
    later = AT.replace(second=AT.second + 20)
    watch.send(frame(WATCH, located("AL", later, status=SOS_BIT)))
    assert watch.answer() == AL_ANSWER
    assert len(_events(services)) == 2
    assert len(cases(services)) == 1


def test_fall_opens_the_emergency_at_once(watch: Watch, services: Services) -> None:
    watch.send(frame(WATCH, located("AL", AT, status=FALL_BIT)))
    assert watch.answer() == AL_ANSWER
    (case,) = cases(services)  # the watch counted its own cancel window
    assert (case.kind, case.contact_id) == ("emergency", "1100")
    assert [e.type for e in _events(services)] == ["fall"]
    with services.uow() as uow:
        assert uow.session.exec(select(Timer).where(Timer.purpose == "fall_window")).all() == []


def test_low_battery_is_device_health(watch: Watch, services: Services) -> None:
    watch.send(frame(WATCH, located("AL", AT, status=LOW_BATTERY_BIT, battery=12)))
    assert watch.answer() == AL_ANSWER
    device = _device(services)
    assert (device.battery, device.battery_low) == (12, True)
    assert [c.kind for c in cases(services)] == ["device"]


def test_frames_as_the_makers_write_them_and_bad_frames_open_nothing(
    watch: Watch, services: Services
) -> None:
    watch.send(frame(WATCH, "LK", index=7))  # with the index field: answered with it
    assert watch.answer() == f"[3G*{WATCH}*0007*0002*LK]".encode()
    voice = b"TK," + bytes(range(256)) + b"]]][[*"  # binary voice between frames
    watch.send(frame(WATCH, voice) + frame(WATCH, located("UD", AT, fix=False, cells=0)))
    watch.send(frame(WATCH, located("UD2", AT, wifi=2)))
    watch.send(b"[3G*" + WATCH.encode() + b"*0001*LK]")  # the length lies
    watch.send(frame(WATCH, "UD,170524,083015,A,22.5"))  # too few fields
    watch.send(frame(WATCH, located("AL", AT, status=SOS_BIT).replace(",A,", ",Q,", 1)))
    watch.send(b"\x00\xffnoise]]" + frame(WATCH, "heart,72"))
    watch.send(frame(WATCH, "LK"))
    assert watch.answer() == frame(WATCH, "heart")  # a reading, kept and answered
    assert watch.answer() == LK_ANSWER  # still the same connection, nothing else answered
    assert cases(services) == []
    assert [e.type for e in _events(services)] == []


def test_unknown_watch_gets_no_answer_and_is_cut_off(
    receiver: WatchTransport, services: Services
) -> None:
    stranger = Watch(receiver.address)
    try:
        stranger.send(frame("9900000001", "LK"))
        assert stranger.closed_by_peer()
        again = Watch(receiver.address)
        again.send(frame("9900000001", located("AL", AT, status=SOS_BIT)))
        assert again.closed_by_peer()
        again.close()
    finally:
        stranger.close()
    assert cases(services) == []
    assert _events(services) == []
    assert wait_until(lambda: receiver.health()["connections"] == 0)


def test_retired_watch_is_cut_off(receiver: WatchTransport, services: Services) -> None:
    with services.uow() as uow:
        device = uow.session.get(Device, WATCH)
        assert device is not None
        device.status = "retired"
        uow.session.add(device)
        uow.commit()
    end = Watch(receiver.address)
    try:
        end.send(frame(WATCH, located("AL", AT, status=SOS_BIT)))
        assert end.closed_by_peer()
    finally:
        end.close()
    assert cases(services) == []


def test_a_connection_speaks_for_one_watch_only(watch: Watch, services: Services) -> None:
    seed_elder(services, "8800000016")
    watch.send(frame(WATCH, "LK"))
    assert watch.answer() == LK_ANSWER
    watch.send(frame("8800000016", located("AL", AT, status=SOS_BIT)))
    assert watch.closed_by_peer()
    assert cases(services) == []


def test_connections_are_capped_per_source(receiver: WatchTransport) -> None:
    ends = [Watch(receiver.address) for _ in range(3)]
    extra = Watch(receiver.address)
    try:
        assert extra.closed_by_peer()
        assert receiver.health()["turned_away"] == 1
        ends[0].send(frame(WATCH, "LK"))
        assert ends[0].answer() == LK_ANSWER
    finally:
        for end in [*ends, extra]:
            end.close()


def test_idle_connections_are_closed(receiver: WatchTransport, ticks: Ticks) -> None:
    end = Watch(receiver.address)
    try:
        end.send(frame(WATCH, "LK"))
        assert end.answer() == LK_ANSWER
        ticks.now += 601
        assert end.closed_by_peer()
        assert wait_until(lambda: receiver.health()["idle_closed"] == 1)
    finally:
        end.close()


def test_vnh_watch_listen_starts_the_receiver_in_the_gateway(services: Services) -> None:
    seed_elder(services, WATCH)
    port = free_port()
    settings = Settings(
        database_url=services.settings.database_url,
        embedded_mqtt_port=free_port(),
        mqtt_client_id="gw-watch",
        watch_listen=f"127.0.0.1:{port}",
        _env_file=None,  # type: ignore[call-arg]
    )
    gateway = GatewayComponent(settings, services)
    app = create_app(services, components=[gateway], health_checks={"gateway": gateway.health})
    with TestClient(app) as client:
        end = Watch(("127.0.0.1", port))
        try:
            end.send(frame(WATCH, located("AL", AT, status=SOS_BIT)))
            assert end.answer() == AL_ANSWER
        finally:
            end.close()
        # The parts' reports are for staff: anonymous /healthz says only up or down.
        health = client.get("/healthz", headers=operator_header(services)).json()
        shown = health["gateway"]["watch"]
    assert shown["listen"] == f"127.0.0.1:{port}"
    assert shown["answers"] == 1
    assert [c.kind for c in cases(services)] == ["emergency"]


def test_receiver_is_off_by_default() -> None:
    assert Settings(_env_file=None).watch_listen is None  # type: ignore[call-arg]


def test_last_position_is_kept_per_watch_and_an_older_one_does_not_replace_it(
    watch: Watch, services: Services
) -> None:
    watch.send(frame(WATCH, located("UD", AT, lat=22.5, lon=113.9)))
    later = AT.replace(minute=45)
    watch.send(frame(WATCH, located("UD_LTE", later, fix=False, lat=22.6, lon=114.0, wifi=3)))
    watch.send(frame(WATCH, "LK"))
    assert watch.answer() == LK_ANSWER  # frames of one watch are handled in order
    device = _device(services)
    assert (device.position_lat, device.position_lon) == (22.6, 114.0)
    assert (device.position_fix, device.position_source) == (False, "wifi")
    assert device.position_at == later
    # A resent alarm from before does not move the elder back.
    watch.send(frame(WATCH, located("AL", AT, status=SOS_BIT, lat=1.0, lon=1.0)))
    assert watch.answer() == AL_ANSWER
    assert _device(services).position_lat == 22.6


def test_the_sos_case_knows_where_the_watch_was(watch: Watch, services: Services) -> None:
    watch.send(frame(WATCH, located("AL", AT, status=SOS_BIT, lat=31.2304, lon=121.4737)))
    assert watch.answer() == AL_ANSWER
    device = _device(services)
    assert (device.position_lat, device.position_lon, device.position_source) == (
        31.2304,
        121.4737,
        "gps",
    )


def test_simulated_watch_wanders_near_home_and_its_sos_opens_the_emergency(
    receiver: WatchTransport, services: Services
) -> None:
    sim = SimWatch(WATCH, receiver.address, seed=7)
    try:
        sim.connect()  # LK answered
        for _ in range(3):
            sim.report_position(AT)
        assert sim.sos(AT.replace(minute=31))
    finally:
        sim.close()
    assert [c.kind for c in cases(services)] == ["emergency"]
    device = _device(services)
    assert device.position_lat is not None and device.position_lon is not None
    assert abs(device.position_lat - HOME[0]) < 0.01 and abs(device.position_lon - HOME[1]) < 0.01
