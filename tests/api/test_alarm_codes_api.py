"""Contact ID codes as a centre reads them: on cases, the board, and a terminal's events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts.runtime import AlertsComponent
from care_api.domain.model import DeviceReport, EventKey, ReportType
from care_api.http.app import create_app
from care_api.services import Services
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import ADMIN, TestClient
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    """The API with the console's routes (board, reclassify) mounted."""
    with TestClient(create_app(services)) as client:
        yield client


def report(services: Services, rep: DeviceReport) -> str | None:
    outcome = record_device_report(services.uow, rep, now=services.clock.now(), tz=services.tz)
    return outcome.case_id


def event(seq: int, type_: ReportType, **fields: object) -> DeviceReport:
    return DeviceReport(EventKey("T1001", 7, seq), type_, fields)


def test_an_emergency_press_carries_1101_on_the_case_and_the_board(
    api: TestClient, services: Services
) -> None:
    seed_elder(services)
    emergency = report(services, press(seq=1, pattern="long"))
    service = report(services, press(seq=2, pattern="single"))
    one = api.get(f"/api/v1/cases/{emergency}", headers=ADMIN).json()
    assert one["contact_id"] == {
        "code": "1101",
        "qualifier": 1,
        "event": 101,
        "description": "Personal emergency",
    }
    listed = {c["id"]: c["contact_id"] for c in api.get("/api/v1/cases", headers=ADMIN).json()}
    assert listed[service] is None  # a service request is no alarm
    board = api.get("/api/v1/console/board", headers=ADMIN).json()["cases"]
    assert [c["contact_id"]["code"] for c in board if c["id"] == emergency] == ["1101"]


def test_power_lost_then_restored_reads_1301_then_3301(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    seed_elder(services)
    alerts = AlertsComponent(services.settings, services)
    alerts.attach()
    try:
        assert report(services, event(1, ReportType.POWER, state="lost")) is None
        clock.advance(seconds=services.settings.storm_settle_s)  # no blackout: its case opens
        alerts.tick()
    finally:
        alerts.stop()
    [case_id] = [c["id"] for c in api.get("/api/v1/cases", headers=ADMIN).json()]
    report(services, event(2, ReportType.POWER, state="restored"))
    report(services, event(3, ReportType.BATTERY, level=9))
    case = api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()
    assert (case["kind"], case["contact_id"]["code"]) == ("device", "1301")
    events = api.get("/api/v1/devices/T1001/events", headers=ADMIN).json()
    assert [(e["type"], e["contact_id"]["code"]) for e in events] == [
        ("battery", "1302"),
        ("power", "3301"),
        ("power", "1301"),
    ]
    assert events[1]["contact_id"]["description"] == "AC loss"


def test_reclassified_press_takes_the_code_of_its_new_kind(
    api: TestClient, services: Services
) -> None:
    seed_elder(services)
    case_id = report(services, press(seq=1, pattern="single"))
    resp = api.post(
        f"/api/v1/cases/{case_id}/reclassify", json={"kind": "emergency"}, headers=ADMIN
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["contact_id"]["code"] == "1101"
    events = api.get("/api/v1/devices/T1001/events?limit=1", headers=ADMIN).json()
    assert events[0]["contact_id"]["code"] == "1101"


def test_events_of_an_unknown_terminal_is_404(api: TestClient) -> None:
    resp = api.get("/api/v1/devices/NOPE/events", headers=ADMIN)
    assert resp.status_code == 404
    assert "detail" in resp.json()
