"""Terminals over HTTP: provisioning shows the secret once and stores only its hash."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlmodel import select

from care_api.domain.fleet import DevicePosition, PositionSource
from care_api.domain.model import DeviceReport, EventKey, ReportType
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.tables import Device
from care_api.usecases.fleet.positions import record_position
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.credentials import hash_secret, secret_matches
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient, mint
from tests.fakes import FakeClock
from tests.helpers import seed_elder


def provision(api: TestClient, device_id: str, elder_id: int) -> dict[str, object]:
    resp = api.post(
        "/api/v1/devices", json={"device_id": device_id, "elder_id": elder_id}, headers=ADMIN
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, object] = resp.json()
    return body


def stored_row(services: Services, device_id: str) -> dict[str, object]:
    with services.uow() as uow:
        device = uow.session.get(Device, device_id)
        assert device is not None
        return device.model_dump()


def test_devices_provision_shows_secret_once_and_keeps_only_its_hash(
    api: TestClient, services: Services
) -> None:
    elder_id, _ = seed_elder(services, "T0001")
    body = provision(api, "T2001", elder_id)
    secret = str(body["secret"])
    assert body["device_id"] == "T2001" and body["elder_id"] == elder_id and len(secret) >= 32
    row = stored_row(services, "T2001")
    assert row["secret_hash"] == hash_secret(secret)
    assert secret not in {str(v) for v in row.values()}
    shown = api.get("/api/v1/devices/T2001", headers=ADMIN).json()
    assert secret not in str(shown) and "secret_hash" not in shown and "secret" not in shown
    assert shown == {
        "device_id": "T2001",
        "elder_id": elder_id,
        "status": "active",
        "online": None,
        "last_seen_at": None,
        "battery": None,
        "rssi": None,
        "fw": None,
        "model": None,
        "heartbeat_s": 300,
        "last_boot": None,
        "outage_since": None,
        "battery_low": False,
        "power_lost": False,
        "position": None,
        "sim_phone": None,
    }


def test_devices_second_provision_of_same_id_is_409_and_keeps_first_secret(
    api: TestClient, services: Services
) -> None:
    elder_id, _ = seed_elder(services, "T0001")
    first = str(provision(api, "T2001", elder_id)["secret"])
    again = api.post(
        "/api/v1/devices", json={"device_id": "T2001", "elder_id": elder_id}, headers=ADMIN
    )
    assert again.status_code == 409
    assert again.json() == {"detail": "device T2001 is already provisioned"}
    assert secret_matches(first, str(stored_row(services, "T2001")["secret_hash"]))


@pytest.mark.parametrize(
    "body",
    [
        {"device_id": "", "elder_id": 1},
        {"device_id": "has space", "elder_id": 1},
        {"device_id": "x" * 65, "elder_id": 1},
        {"device_id": "T1", "elder_id": "one"},
        {"device_id": "T1"},
    ],
)
def test_devices_bad_provision_body_is_422_and_writes_nothing(
    api: TestClient, services: Services, body: dict[str, object]
) -> None:
    seed_elder(services, "T0001")
    assert api.post("/api/v1/devices", json=body, headers=ADMIN).status_code == 422
    with services.uow() as uow:
        assert [d.device_id for d in uow.session.exec(select(Device)).all()] == ["T0001"]


@pytest.mark.parametrize(
    "device_id",
    ["vnh-gateway", "VNH-Gateway", "vnh-gw-host-1", "vnh-anything", "-u", "T1\n", "T1%u"],
)
def test_devices_provision_of_a_service_login_or_misread_id_is_422_and_writes_nothing(
    api: TestClient, services: Services, device_id: str
) -> None:
    # A terminal named like the gateway got the gateway's line in Mosquitto's password file.
    elder_id, _ = seed_elder(services, "T0001")
    body = {"device_id": device_id, "elder_id": elder_id}
    resp = api.post("/api/v1/devices", json=body, headers=ADMIN)
    assert resp.status_code == 422, resp.text
    with services.uow() as uow:
        assert [d.device_id for d in uow.session.exec(select(Device)).all()] == ["T0001"]


def test_devices_provision_of_the_configured_gateway_username_is_422(
    db_url: str, clock: FakeClock
) -> None:
    settings = Settings(
        database_url=db_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        mqtt_username="gw01",
        _env_file=None,  # type: ignore[call-arg]
    )
    services = build_services(settings, clock=clock)
    try:
        elder_id, _ = seed_elder(services, "T0001")
        with TestClient(create_app(services)) as api:
            for device_id in ("gw01", "GW01"):
                body = {"device_id": device_id, "elder_id": elder_id}
                resp = api.post("/api/v1/devices", json=body, headers=ADMIN)
                assert resp.status_code == 422, resp.text
                assert "service account" in resp.json()["detail"]
            provision(api, "gw02", elder_id)
    finally:
        services.close()


def test_devices_provision_for_missing_elder_is_404(api: TestClient) -> None:
    resp = api.post("/api/v1/devices", json={"device_id": "T9", "elder_id": 999}, headers=ADMIN)
    assert resp.status_code == 404


def test_devices_rotate_secret_replaces_the_old_one(api: TestClient, services: Services) -> None:
    elder_id, _ = seed_elder(services, "T0001")
    old = str(provision(api, "T2001", elder_id)["secret"])
    resp = api.post("/api/v1/devices/T2001/rotate-secret", headers=ADMIN)
    assert resp.status_code == 200
    new = resp.json()["secret"]
    assert resp.json()["device_id"] == "T2001" and new != old
    stored = str(stored_row(services, "T2001")["secret_hash"])
    assert secret_matches(new, stored) and not secret_matches(old, stored)
    assert api.post("/api/v1/devices/NOPE/rotate-secret", headers=ADMIN).status_code == 404


def test_devices_caregiver_reads_own_elders_terminal_only(
    api: TestClient, services: Services
) -> None:
    mine, _ = seed_elder(services, "T0001")
    seed_elder(services, "T0002", name="Li Ming")
    caregiver = mint(api, "caregiver", elder_ids=[mine])
    assert api.get("/api/v1/devices/T0001", headers=caregiver).status_code == 200
    assert api.get("/api/v1/devices/T0002", headers=caregiver).status_code == 404
    resp = api.post(
        "/api/v1/devices", json={"device_id": "T3", "elder_id": mine}, headers=caregiver
    )
    assert resp.status_code == 403
    assert api.post("/api/v1/devices/T0001/rotate-secret", headers=caregiver).status_code == 403


def test_devices_volunteer_is_refused(api: TestClient, services: Services) -> None:
    seed_elder(services, "T0001")
    assert api.get("/api/v1/devices/T0001", headers=mint(api, "volunteer")).status_code == 403


def test_devices_and_cases_show_the_last_position_to_staff_and_caregivers(
    api: TestClient, services: Services
) -> None:
    mine, _ = seed_elder(services, "8800000015")
    seed_elder(services, "T0002", name="Li Ming")
    at = services.clock.now()
    where = DevicePosition(at, 31.2304, 121.4737, fix=False, source=PositionSource.CELL)
    assert record_position(services.uow, "8800000015", "watch", where) is None
    assert record_position(services.uow, "NOPE", "watch", where) == "unknown device"
    report = DeviceReport(EventKey("8800000015", 1, 1), ReportType.PRESS, {"button": "sos"})
    case_id = record_device_report(services.uow, report, now=at, tz=services.tz).case_id
    shown = {"lat": 31.2304, "lon": 121.4737, "fix": False, "source": "cell"}

    body = api.get("/api/v1/devices/8800000015", headers=ADMIN).json()
    assert {k: body["position"][k] for k in shown} == shown
    assert api.get("/api/v1/devices/T0002", headers=ADMIN).json()["position"] is None
    caregiver = mint(api, "caregiver", elder_ids=[mine])
    case = api.get(f"/api/v1/cases/{case_id}", headers=caregiver).json()
    assert {k: case["position"][k] for k in shown} == shown
    stranger = mint(api, "caregiver", name="Other", elder_ids=[mine + 1])
    assert api.get(f"/api/v1/cases/{case_id}", headers=stranger).status_code == 404
    volunteer = mint(api, "volunteer", name="Vol")
    assert api.get("/api/v1/devices/8800000015", headers=volunteer).status_code == 403
    assert api.get(f"/api/v1/cases/{case_id}", headers=volunteer).status_code == 403
