"""A terminal's lifecycle over HTTP: bind, move, retire, intervals, history, the fleet view."""

from __future__ import annotations

from datetime import timedelta

from care_api.domain.model import CaseState, IntakeStatus, ReportType
from care_api.services import Services
from tests.api.support import ADMIN, TestClient, mint
from tests.fakes import FakeClock
from tests.fleet.support import Reporter, device_cases
from tests.helpers import seed_elder

API = "/api/v1/devices"


def new_elder(api: TestClient, name: str) -> int:
    body = {"name": name, "phone": "+8613800000001", "address": "3 Pine Road"}
    resp = api.post("/api/v1/elders", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    elder_id: int = resp.json()["id"]
    return elder_id


def bind(api: TestClient, device_id: str, elder_id: int, who: dict[str, str]) -> int:
    return api.post(f"{API}/{device_id}/bind", json={"elder_id": elder_id}, headers=who).status_code


def test_lifecycle_move_and_retire_are_staff_only_and_recorded(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    first, _ = seed_elder(services, "T1001")
    second = new_elder(api, "Li Ming")
    operator = mint(api, "operator", "Op Zhang")
    caregiver = mint(api, "caregiver", elder_ids=[first])
    for who in (caregiver, mint(api, "volunteer"), mint(api, "merchant")):
        assert (
            api.post(f"{API}/T1001/bind", json={"elder_id": second}, headers=who).status_code == 403
        )
        assert api.post(f"{API}/T1001/retire", headers=who).status_code == 403
    assert (
        api.post(f"{API}/T1001/bind", json={"elder_id": 999}, headers=operator).status_code == 404
    )
    assert (
        api.post(f"{API}/NOPE/bind", json={"elder_id": second}, headers=operator).status_code == 404
    )

    clock.advance(minutes=1)
    moved = api.post(f"{API}/T1001/bind", json={"elder_id": second}, headers=operator)
    assert moved.status_code == 200 and moved.json()["elder_id"] == second
    clock.advance(minutes=1)
    retired = api.post(f"{API}/T1001/retire", json={"reason": "broken screen"}, headers=ADMIN)
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    assert api.post(f"{API}/T1001/retire", headers=ADMIN).status_code == 200  # no-op again
    again = api.post(f"{API}/T1001/bind", json={"elder_id": first}, headers=operator)
    assert again.status_code == 409

    lines = api.get(f"{API}/T1001/history", headers=ADMIN).json()
    assert [(h["action"], h["by"], h["elder_id"], h["detail"]) for h in lines] == [
        ("provisioned", "system", first, f"elder {first}"),
        ("moved", "operator:Op Zhang", second, f"elder {first} → elder {second}"),
        ("retired", "admin:admin", second, "broken screen"),
    ]
    assert api.get(f"{API}/T1001/history", headers=caregiver).status_code == 404  # not theirs now


def test_lifecycle_retired_terminal_is_rejected(api: TestClient, services: Services) -> None:
    seed_elder(services, "T1001")
    term = Reporter(services)
    assert (
        term.send(ReportType.PRESS, button="main", pattern="long").status is IntakeStatus.ACCEPTED
    )
    assert api.post(f"{API}/T1001/retire", headers=ADMIN).status_code == 200
    for kind, fields in (
        (ReportType.PRESS, {"button": "main", "pattern": "long"}),
        (ReportType.HEARTBEAT, {"battery": 80}),
        (ReportType.BATTERY, {"level": 5}),
    ):
        out = term.send(kind, **fields)
        assert (out.status, out.reason) == (IntakeStatus.REJECTED, "device retired"), kind


def test_lifecycle_moving_resolves_the_old_elders_device_case(
    api: TestClient, services: Services
) -> None:
    seed_elder(services, "T1001")
    other = new_elder(api, "Li Ming")
    term = Reporter(services)
    term.beat(battery=10)  # low: a case for the first elder
    [case] = device_cases(services)
    api.post(f"{API}/T1001/bind", json={"elder_id": other}, headers=ADMIN)
    [case] = device_cases(services)
    assert case.state == CaseState.RESOLVED
    term.beat(battery=9)  # still low: now it is the new elder's problem
    cases = device_cases(services)
    assert [(c.elder_id, c.state) for c in cases][-1] == (other, CaseState.OPEN)


def test_lifecycle_provision_with_a_model_takes_the_models_interval(
    api: TestClient, services: Services
) -> None:
    elder, _ = seed_elder(services, "T0001")
    body = {"device_id": "T2001", "elder_id": elder, "model": "YB-2"}
    assert api.post(API, json=body, headers=ADMIN).status_code == 201
    resp = api.put(f"{API}/models/YB-2", json={"heartbeat_s": 900}, headers=ADMIN)
    assert resp.json() == {"model": "YB-2", "heartbeat_s": 900, "devices": 1}
    later = {"device_id": "T2002", "elder_id": elder, "model": "YB-2"}
    assert api.post(API, json=later, headers=ADMIN).status_code == 201
    assert api.get(f"{API}/T2002", headers=ADMIN).json()["heartbeat_s"] == 900
    patched = api.patch(f"{API}/T2002", json={"heartbeat_s": 120}, headers=ADMIN)
    assert patched.json()["heartbeat_s"] == 120
    bad = api.put(f"{API}/models/YB-2", json={"heartbeat_s": 0}, headers=ADMIN)
    assert bad.status_code == 422
    caregiver = mint(api, "caregiver", elder_ids=[elder])
    assert (
        api.put(f"{API}/models/YB-2", json={"heartbeat_s": 60}, headers=caregiver).status_code
        == 403
    )


def test_fleet_view_filters_by_state_battery_last_seen_firmware_and_elder(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    first, _ = seed_elder(services, "T1")
    second, _ = seed_elder(services, "T2", name="Li Ming")
    seed_elder(services, "T3", name="Zhao Lei")  # never heard from
    Reporter(services, "T1").beat(battery=90, fw="1.4")
    clock.advance(hours=1)
    Reporter(services, "T2").beat(battery=12, fw="1.5")
    services.heartbeats.flush(services.uow)

    def ids(query: str) -> list[str]:
        resp = api.get(f"{API}?{query}", headers=ADMIN)
        assert resp.status_code == 200, resp.text
        return sorted(d["device_id"] for d in resp.json()["devices"])

    assert ids("") == ["T1", "T2", "T3"]
    assert ids("online=true") == ["T1", "T2"]
    assert ids("battery_below=20") == ["T2"]
    assert ids("fw=1.4") == ["T1"]
    assert ids(f"elder_id={second}") == ["T2"]
    cutoff = (clock.now() - timedelta(minutes=30)).isoformat()
    assert ids(f"seen_before={cutoff.replace('+', '%2B')}") == ["T1", "T3"]
    assert ids("problems=true") == ["T2", "T3"]
    api.post(f"{API}/T3/retire", headers=ADMIN)
    assert ids("") == ["T1", "T2"] and ids("retired=true") == ["T3"]
    fleet = api.get(API, headers=ADMIN).json()
    assert fleet["summary"]["total"] == 2 and fleet["summary"]["low_battery"] == 1
    assert api.get(f"{API}?seen_before=2026-11-22T08:00:00", headers=ADMIN).status_code == 422
    assert api.get(API, headers=mint(api, "caregiver", elder_ids=[first])).status_code == 403
