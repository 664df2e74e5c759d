"""4G watches over real TCP: commands and their answers, health readings, safe zones, tracks.

The watch end is tests/watch_sender.py (written from the makers' documents); the service
end is the real receiver, pipeline, command sender and API on SQLite (and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.tables import Case, DeviceCommand, Notification
from care_api.store.watch_tables import HealthReading, PositionPoint
from device_gateway.commands import NO_WATCH, CommandSender
from device_gateway.downlink import DownlinkRouter
from device_gateway.pipeline import Pipeline
from device_gateway.protocol.model import Ack, CaseNews, Command
from device_gateway.transports.watch import WatchTransport
from firmware_sim.watch import SimWatch
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient, mint
from tests.fakes import FakeClock
from tests.helpers import seed_elder
from tests.serial_support import cases, wait_until
from tests.watch_sender import SOS_BIT, Watch, frame, located

WATCH = "8800000042"
OTHER = "8800000043"
HOME = (29.079000, 119.647000)
HOTLINE = "+8657188888888"  # the centre's hotline (VNH_HOTLINE_NUMBER)
LEFT_FENCE_BIT = 1 << 18
TAKEN_OFF_BIT = 1 << 20
# About 1.1 km north of home, and 100 m north of it.
AWAY = (29.089000, 119.647000)
NEAR = (29.079900, 119.647000)


class MqttStandIn:
    """The router's default downlink, as MQTT is in the gateway: keeps what it was given."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, Command]] = []

    def send_ack(self, device_id: str, ack: Ack, *, urgent: bool = False) -> None:
        pass

    def send_news(self, device_id: str, news: CaseNews) -> None:
        pass

    def send_command(self, device_id: str, command: Command) -> None:
        self.commands.append((device_id, command))


@pytest.fixture
def services(db_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = Settings(
        database_url=db_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        hotline_number=HOTLINE,
        _env_file=None,  # type: ignore[call-arg]
    )
    svc = build_services(settings, clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def svc(services: Services) -> Services:
    return services  # the alerts fixture's name for it


@pytest.fixture
def elder_id(services: Services) -> int:
    elder, _ = seed_elder(services, WATCH, lat=HOME[0], lon=HOME[1])
    return elder


@pytest.fixture
def receiver(services: Services, elder_id: int) -> Iterator[WatchTransport]:
    transport = WatchTransport("127.0.0.1:0")  # a free port, never a fixed one
    router = DownlinkRouter(MqttStandIn())  # watches are routed once they speak
    pipeline = Pipeline(services, router)
    sender = CommandSender(services, router)
    pipeline.start()
    sender.start()
    transport.start(pipeline.offer)
    yield transport
    sender.stop()
    pipeline.stop()
    transport.close()


@pytest.fixture
def api(services: Services, receiver: WatchTransport) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as client:
        yield client


@pytest.fixture
def watch(receiver: WatchTransport) -> Iterator[Watch]:
    end = Watch(receiver.address)
    end.send(frame(WATCH, "LK,0,0,90"))
    assert end.answer() == frame(WATCH, "LK")  # connected, known, routed
    yield end
    end.close()


def _post(api: TestClient, cmd: str, device_id: str = WATCH, **params: Any) -> Any:
    return api.post(
        f"/api/v1/devices/{device_id}/commands",
        json={"cmd": cmd, "params": params},
        headers=ADMIN,
    )


def _command(api: TestClient, command_id: int, device_id: str = WATCH) -> dict[str, Any]:
    resp = api.get(f"/api/v1/devices/{device_id}/commands/{command_id}", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _settled(api: TestClient, command_id: int, device_id: str = WATCH) -> dict[str, Any]:
    assert wait_until(
        lambda: _command(api, command_id, device_id)["status"] not in ("pending", "sent")
    )
    return _command(api, command_id, device_id)


def _now(services: Services) -> datetime:
    return services.clock.now()


@pytest.mark.parametrize(
    ("cmd", "params", "sent", "answer"),
    [
        ("locate", {}, "CR", "CR"),
        ("ring", {}, "FIND", "FIND"),
        ("power_off", {}, "POWEROFF", "POWEROFF"),
        ("call", {"number": "+8613800138000"}, "CALL,13800138000", "CALL"),
        ("monitor", {"number": "13800138000"}, "MONITOR,13800138000", "MONITOR"),
        ("upload", {"seconds": 60}, "UPLOAD,60", "UPLOAD"),
        (
            "sos_numbers",
            {"numbers": ["+8613800138000", "+442079460000"]},
            "SOS,13800138000,00442079460000,",
            "SOS",
        ),
    ],
)
def test_a_command_reaches_the_watch_and_its_answer_settles_it(
    api: TestClient, watch: Watch, cmd: str, params: dict[str, Any], sent: str, answer: str
) -> None:
    resp = _post(api, cmd, **params)
    assert resp.status_code == 201, resp.text
    assert watch.answer() == frame(WATCH, sent)  # on the watch's own open connection
    watch.send(frame(WATCH, answer))
    done = _settled(api, resp.json()["id"])
    assert (done["status"], done["detail"]) == ("ok", answer)
    assert done["round_trip_ms"] is not None


def test_sos_numbers_default_to_the_elders_contacts_in_order(api: TestClient, watch: Watch) -> None:
    resp = _post(api, "sos_numbers")
    assert resp.status_code == 201, resp.text
    assert resp.json()["params"] == {"numbers": ["+8613900000000", "+8613900000001"]}
    assert watch.answer() == frame(WATCH, "SOS,13900000000,13900000001,")


def test_sos_numbers_set_to_the_centres_hotline(api: TestClient, watch: Watch) -> None:
    resp = _post(api, "sos_numbers", hotline=True)
    assert resp.status_code == 201, resp.text
    assert resp.json()["params"] == {"numbers": [HOTLINE]}
    assert watch.answer() == frame(WATCH, "SOS,057188888888,,")  # the other slots cleared
    for bad in ({"hotline": False}, {"hotline": True, "numbers": ["13800138000"]}):
        assert _post(api, "sos_numbers", **bad).status_code == 422


def test_call_back_rings_the_phone_the_operator_set(api: TestClient, watch: Watch) -> None:
    li_na = mint(api, "operator", "Li Na")
    no_phone = api.post(
        f"/api/v1/devices/{WATCH}/commands", json={"cmd": "monitor", "params": {}}, headers=li_na
    )
    assert no_phone.status_code == 422 and "PUT /api/v1/me/phone" in no_phone.text
    mine = api.put("/api/v1/me/phone", json={"phone": "13700000077"}, headers=li_na)
    assert mine.status_code == 200, mine.text
    resp = api.post(
        f"/api/v1/devices/{WATCH}/commands", json={"cmd": "monitor", "params": {}}, headers=li_na
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["params"] == {"number": "+8613700000077"}
    assert watch.answer() == frame(WATCH, "MONITOR,13700000077")


def test_an_indexed_watch_gets_its_commands_indexed(
    api: TestClient, receiver: WatchTransport, services: Services
) -> None:
    seed_elder(services, OTHER)
    end = Watch(receiver.address)
    try:
        end.send(frame(OTHER, "LK", index=0x1A))
        assert end.answer() == frame(OTHER, "LK", index=0x1A)
        command_id = _post(api, "locate", OTHER).json()["id"]
        assert end.answer() == frame(OTHER, "CR", index=0x1A)
        end.send(frame(OTHER, "CR", index=0x1B))
        assert _settled(api, command_id, OTHER)["status"] == "ok"
    finally:
        end.close()


@pytest.mark.parametrize(
    ("cmd", "params"),
    [
        ("upload", {"seconds": "sixty"}),
        ("upload", {"seconds": 1}),
        ("call", {"number": "not a number"}),
        ("call", {}),
        ("monitor", {"number": 13800138000}),
        ("sos_numbers", {"numbers": ["13800138000"] * 4}),
        ("sos_numbers", {"numbers": "13800138000"}),
    ],
)
def test_bad_command_parameters_are_refused_and_send_nothing(
    api: TestClient, services: Services, cmd: str, params: dict[str, Any]
) -> None:
    resp = _post(api, cmd, **params)
    assert resp.status_code == 422, resp.text
    with services.uow() as uow:
        assert uow.session.exec(select(DeviceCommand)).all() == []


def test_a_command_to_a_watch_that_is_not_connected_fails_at_once_and_says_why(
    api: TestClient, watch: Watch
) -> None:
    watch.close()
    resp = _post(api, "locate")
    assert resp.status_code == 201
    done = _settled(api, resp.json()["id"])
    assert done["status"] == "failed"
    assert "not connected" in done["detail"]


def test_a_watch_command_to_a_terminal_that_is_no_watch_fails(
    api: TestClient, services: Services
) -> None:
    seed_elder(services, "T1001")
    done = _settled(api, _post(api, "locate", "T1001").json()["id"], "T1001")
    assert (done["status"], done["detail"]) == ("failed", NO_WATCH)


def test_a_terminal_command_a_watch_cannot_carry_fails(api: TestClient, watch: Watch) -> None:
    done = _settled(api, _post(api, "ping").json()["id"])
    assert done["status"] == "failed"
    assert "cannot carry" in done["detail"]


def test_only_staff_command_a_watch(api: TestClient, elder_id: int) -> None:
    family = mint(api, "caregiver", elder_ids=[elder_id])
    resp = api.post(f"/api/v1/devices/{WATCH}/commands", json={"cmd": "locate"}, headers=family)
    assert resp.status_code == 403


def test_an_answer_nobody_asked_for_changes_nothing(api: TestClient, watch: Watch) -> None:
    watch.send(frame(WATCH, "CR"))
    watch.send(frame(WATCH, "LK"))
    assert watch.answer() == frame(WATCH, "LK")  # handled in order, receiver lives on
    assert api.get(f"/api/v1/devices/{WATCH}/commands", headers=ADMIN).json() == []


def test_health_frames_are_kept_as_readings_and_open_nothing(
    api: TestClient, watch: Watch, services: Services, elder_id: int
) -> None:
    watch.send(frame(WATCH, "heart,78"))
    assert watch.answer() == frame(WATCH, "heart")
    watch.send(frame(WATCH, "bphrt,128,82,75,,,,"))
    assert watch.answer() == frame(WATCH, "bphrt")
    watch.send(frame(WATCH, "btemp2,1,36.6"))
    assert watch.answer() == frame(WATCH, "btemp2")
    watch.send(frame(WATCH, "heart,900"))  # a sensor error: kept nowhere, not answered
    watch.send(frame(WATCH, "LK"))
    assert watch.answer() == frame(WATCH, "LK")
    assert cases(services) == []
    resp = api.get(f"/api/v1/elders/{elder_id}/readings", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    got = [
        (r["keyword"], r["heart_rate"], r["systolic"], r["diastolic"], r["temperature_c"])
        for r in reversed(resp.json())
    ]
    assert got == [
        ("heart", 78, None, None, None),
        ("bphrt", 75, 128, 82, None),
        ("btemp2", None, None, None, 36.6),
    ]


def test_readings_are_for_staff_and_the_elders_own_family(
    api: TestClient, watch: Watch, services: Services, elder_id: int
) -> None:
    other, _ = seed_elder(services, OTHER)
    watch.send(frame(WATCH, "heart,70"))
    assert watch.answer() == frame(WATCH, "heart")
    own = mint(api, "caregiver", elder_ids=[elder_id])
    stranger = mint(api, "caregiver", elder_ids=[other])
    volunteer = mint(api, "volunteer")
    url = f"/api/v1/elders/{elder_id}/readings"
    assert len(api.get(url, headers=own).json()) == 1
    assert api.get(url, headers=stranger).status_code == 404
    assert api.get(url, headers=volunteer).status_code == 403


def test_an_unknown_watchs_health_frame_is_kept_nowhere(
    receiver: WatchTransport, services: Services
) -> None:
    end = Watch(receiver.address)
    try:
        end.send(frame("9999999999", "heart,70"))
        assert end.closed_by_peer()
    finally:
        end.close()
    with services.uow() as uow:
        assert uow.session.exec(select(HealthReading)).all() == []


def _flag(api: TestClient, elder_id: int, **flags: bool) -> None:
    resp = api.patch(f"/api/v1/elders/{elder_id}", json=flags, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    for name, value in flags.items():
        assert resp.json()[name] is value


def _zone(api: TestClient, elder_id: int, radius_m: int = 500, *, wanders: bool = True) -> None:
    body = {"lat": HOME[0], "lon": HOME[1], "radius_m": radius_m}
    resp = api.put(f"/api/v1/elders/{elder_id}/safe-zone", json=body, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    _flag(api, elder_id, wanders=wanders)


def _at(watch: Watch, at: datetime, where: tuple[float, float], **more: Any) -> None:
    watch.send(frame(WATCH, located("UD", at, lat=where[0], lon=where[1], **more)))
    watch.send(frame(WATCH, "LK"))
    assert watch.answer() == frame(WATCH, "LK")  # the position before it was handled


def test_leaving_the_safe_zone_opens_one_care_case_with_the_position(
    api: TestClient, watch: Watch, services: Services, elder_id: int
) -> None:
    _zone(api, elder_id)
    start = _now(services)
    _at(watch, start, NEAR)
    assert cases(services) == []
    _at(watch, start + timedelta(minutes=10), AWAY)
    _at(watch, start + timedelta(minutes=20), AWAY)  # still away: the same departure
    (case,) = cases(services)
    assert (case.kind, case.device_id) == ("care", WATCH)
    assert "left the safe zone" in case.summary and "m from home" in case.summary
    zone = api.get(f"/api/v1/elders/{elder_id}/safe-zone", headers=ADMIN).json()
    assert zone["case_id"] == case.id and zone["outside_since"] is not None
    _at(watch, start + timedelta(minutes=30), HOME)  # home again, then away again
    _at(watch, start + timedelta(minutes=40), AWAY)
    assert len(cases(services)) == 2


def test_a_cell_only_position_far_away_is_no_departure(
    api: TestClient, watch: Watch, services: Services, elder_id: int
) -> None:
    _zone(api, elder_id)
    _at(watch, _now(services), AWAY, fix=False)  # cell towers only: kilometres of error
    assert cases(services) == []


def test_the_watchs_own_left_fence_alarm_opens_the_case(
    api: TestClient, watch: Watch, services: Services, elder_id: int
) -> None:
    _zone(api, elder_id)
    alarm = frame(
        WATCH, located("AL", _now(services), status=LEFT_FENCE_BIT, lat=NEAR[0], lon=NEAR[1])
    )
    watch.send(alarm)
    assert watch.answer() == frame(WATCH, "AL")
    watch.send(alarm)  # resent: still one departure
    assert watch.answer() == frame(WATCH, "AL")
    (case,) = cases(services)
    assert case.kind == "care" and "fence" in case.summary


def test_an_elder_without_a_zone_may_go_anywhere(
    watch: Watch, services: Services, elder_id: int
) -> None:
    _at(watch, _now(services), AWAY)
    assert cases(services) == []


def test_only_staff_set_a_safe_zone(api: TestClient, elder_id: int) -> None:
    family = mint(api, "caregiver", elder_ids=[elder_id])
    body = {"lat": HOME[0], "lon": HOME[1], "radius_m": 500}
    url = f"/api/v1/elders/{elder_id}/safe-zone"
    assert api.put(url, json=body, headers=family).status_code == 403
    assert api.put(url, json={**body, "radius_m": 5}, headers=ADMIN).status_code == 422
    assert api.get(url, headers=family).json() is None  # none set
    _zone(api, elder_id)
    assert api.get(url, headers=family).json()["radius_m"] == 500
    assert api.delete(url, headers=family).status_code == 403
    assert api.delete(url, headers=ADMIN).status_code == 204


def test_the_case_track_shows_where_the_elder_went(
    api: TestClient, watch: Watch, services: Services, elder_id: int
) -> None:
    other, _ = seed_elder(services, OTHER)
    start = _now(services)
    _at(watch, start - timedelta(hours=2), NEAR)  # long before the case: not on its track
    _at(watch, start - timedelta(minutes=5), NEAR)
    watch.send(frame(WATCH, located("AL", start, status=SOS_BIT, lat=AWAY[0], lon=AWAY[1])))
    assert watch.answer() == frame(WATCH, "AL")
    services.clock.advance(minutes=10)  # type: ignore[attr-defined]
    _at(watch, start + timedelta(minutes=5), HOME)
    (case,) = cases(services)
    resp = api.get(f"/api/v1/cases/{case.id}/track", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    track = resp.json()
    assert [(p["lat"], p["lon"]) for p in track["points"]] == [NEAR, AWAY, HOME]
    assert (track["last"]["lat"], track["last"]["lon"]) == HOME
    position = api.get(f"/api/v1/elders/{elder_id}/position", headers=ADMIN).json()
    assert (position["lat"], position["lon"], position["source"]) == (*HOME, "gps")
    stranger = mint(api, "caregiver", elder_ids=[other])
    assert api.get(f"/api/v1/cases/{case.id}/track", headers=stranger).status_code == 404
    assert api.get(f"/api/v1/elders/{elder_id}/position", headers=stranger).status_code == 404
    with services.uow() as uow:
        assert len(uow.session.exec(select(PositionPoint)).all()) == 4


def test_bad_and_binary_frames_do_not_stop_commands(
    api: TestClient, watch: Watch, services: Services
) -> None:
    watch.send(b"garbage[3G*" + WATCH.encode() + b"*zz*LK]")
    watch.send(frame(WATCH, b"TK," + bytes(range(256)) + b"]]["))
    watch.send(frame(WATCH, "UD,short"))
    command_id = _post(api, "locate").json()["id"]
    assert watch.answer() == frame(WATCH, "CR")
    watch.send(frame(WATCH, "CR"))
    assert _settled(api, command_id)["status"] == "ok"
    assert cases(services) == []
    with services.uow() as uow:
        assert uow.session.exec(select(Case)).all() == []


def test_a_zone_of_an_elder_not_flagged_for_wandering_opens_nothing(
    api: TestClient, watch: Watch, services: Services, elder_id: int
) -> None:
    _zone(api, elder_id, wanders=False)
    _at(watch, _now(services), AWAY)
    assert cases(services) == []
    _flag(api, elder_id, wanders=True)  # flagged (dementia): the next position away counts
    _at(watch, _now(services) + timedelta(minutes=10), AWAY)
    assert [c.kind for c in cases(services)] == ["care"]


def _take_off(watch: Watch, at: datetime) -> None:
    watch.send(frame(WATCH, located("AL", at, status=TAKEN_OFF_BIT)))
    assert watch.answer() == frame(WATCH, "AL")


def _wait(services: Services, alerts: AlertsComponent, minutes: int) -> None:
    services.clock.advance(minutes=minutes)  # type: ignore[attr-defined]
    alerts.tick()


def test_a_watch_left_off_the_wrist_past_the_set_time_opens_a_care_case_for_a_flagged_elder(
    api: TestClient, watch: Watch, services: Services, alerts: AlertsComponent, elder_id: int
) -> None:
    _flag(api, elder_id, taken_off_case=True)
    _take_off(watch, _now(services))
    _wait(services, alerts, 29)
    assert cases(services) == []  # VNH_WATCH_TAKEN_OFF_CASE_S: 30 minutes by default
    _wait(services, alerts, 2)
    (case,) = cases(services)
    assert (case.kind, case.device_id) == ("care", WATCH)
    assert "off the wrist for 31 min" in case.summary


def test_a_watch_worn_again_in_time_opens_no_case(
    api: TestClient, watch: Watch, services: Services, alerts: AlertsComponent, elder_id: int
) -> None:
    _flag(api, elder_id, taken_off_case=True)
    start = _now(services)
    _take_off(watch, start)
    _at(watch, start + timedelta(minutes=5), HOME, status=TAKEN_OFF_BIT)  # still off
    _wait(services, alerts, 10)
    _at(watch, start + timedelta(minutes=10), HOME)  # the bit cleared: on the wrist again
    _wait(services, alerts, 60)
    assert cases(services) == []


def test_a_watch_off_the_wrist_of_an_elder_not_flagged_is_only_a_notice(
    watch: Watch, services: Services, alerts: AlertsComponent
) -> None:
    _take_off(watch, _now(services))
    _wait(services, alerts, 120)
    assert cases(services) == []


def _track(services: Services) -> list[datetime]:
    with services.uow() as uow:
        points = uow.session.exec(select(PositionPoint).order_by(col(PositionPoint.id))).all()
        return [p.received_at for p in points]


def test_positions_older_than_the_retention_are_deleted_by_the_periodic_job(
    watch: Watch, services: Services, alerts: AlertsComponent
) -> None:
    clock: FakeClock = services.clock  # type: ignore[assignment]
    first = _now(services)
    _at(watch, first, NEAR)
    clock.advance(days=29)
    _at(watch, _now(services), HOME)
    kept = _now(services)
    alerts.fleet.watch()
    assert _track(services) == [first, kept]  # 29 days: within VNH_POSITION_RETENTION_DAYS
    clock.advance(days=2)
    alerts.fleet.watch()
    assert _track(services) == [kept]  # the first is 31 days old: gone; the other stays


def test_taken_off_the_wrist_tells_the_first_contact_and_the_centre_once(
    watch: Watch, services: Services, alerts: AlertsComponent
) -> None:
    alarm = frame(WATCH, located("AL", _now(services), status=TAKEN_OFF_BIT))
    watch.send(alarm)
    assert watch.answer() == frame(WATCH, "AL")
    watch.send(alarm)  # resent: the same alarm
    assert watch.answer() == frame(WATCH, "AL")
    watch.send(frame(WATCH, located("UD", _now(services), status=TAKEN_OFF_BIT)))
    watch.send(frame(WATCH, "LK"))  # positions repeat the bit: no new notice
    assert watch.answer() == frame(WATCH, "LK")
    with services.uow() as uow:
        rows = uow.session.exec(select(Notification).order_by(col(Notification.id))).all()
    assert [(n.channel, n.to, n.status) for n in rows] == [
        ("console", "console", "delivered"),
        ("sms", "+8613900000000", "pending"),
    ]
    assert "taken off the wrist" in rows[1].body
    assert cases(services) == []  # a notice, not a case
    services.clock.advance(seconds=5)  # type: ignore[attr-defined]
    alerts.tick()
    alerts.run_pending()
    with services.uow() as uow:
        sms = uow.session.get(Notification, rows[1].id)
        assert sms is not None and sms.status in ("queued", "sent", "delivered"), sms.status


def test_the_simulated_watch_answers_commands(
    api: TestClient, receiver: WatchTransport, services: Services
) -> None:
    sim = SimWatch(WATCH, receiver.address, seed=3)
    try:
        sim.connect()
        command_id = _post(api, "locate").json()["id"]
        assert wait_until(lambda: sim.poll() > 0)
        assert _settled(api, command_id)["status"] == "ok"
        assert sim.commands == ["CR"]
        with services.uow() as uow:  # CR is followed by where it is
            assert wait_until(lambda: len(uow.session.exec(select(PositionPoint)).all()) == 1)
    finally:
        sim.close()
