"""The console's HTTP side: its page and files, board, fleet, figures, reclassify, stream auth."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from care_api.domain.cases import ACTIVE, AWAITING_CALLBACK, UNOWNED
from care_api.domain.dispatch import Strategy
from care_api.domain.model import (
    CaseKind,
    CaseState,
    DeviceReport,
    EventKey,
    ReportType,
    ServiceLine,
)
from care_api.http.app import create_app
from care_api.http.case_stream import CaseStream
from care_api.http.console_server import GRACEFUL_SHUTDOWN_S, ConsoleAwareServer
from care_api.services import Services
from care_api.usecases.cases.actions import get_case
from care_api.usecases.cases.calls import FINAL_STATES, UNPLACED
from care_api.usecases.cases.log import add_note
from care_api.usecases.dispatch.orders import OPEN_ORDER
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient, mint
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder


@pytest.fixture
def console(services: Services) -> Iterator[TestClient]:
    app = create_app(services)
    with TestClient(app) as client:
        yield client


def open_case(services: Services, device_id: str, seq: int, pattern: str) -> str:
    outcome = record_device_report(
        services.uow,
        press(device_id, seq=seq, pattern=pattern),
        now=services.clock.now(),
        tz=services.tz,
    )
    assert outcome.case_id is not None
    return outcome.case_id


def test_console_page_and_files_are_served_with_a_strict_policy(console: TestClient) -> None:
    page = console.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/console/static/app.js">' in page.text
    script = console.get("/console/static/app.js")
    assert (script.status_code, script.headers["content-type"].split(";")[0]) in {
        (200, "text/javascript"),
        (200, "application/javascript"),
    }
    assert console.get("/console/static/i18n/zh.json").json()["nav.board"] == "案件看板"
    assert console.get("/console/static/../routes/console.py").status_code == 404


def test_console_board_lists_emergencies_first_then_newest(
    console: TestClient, services: Services, clock: FakeClock
) -> None:
    seed_elder(services, "T1001")
    seed_elder(services, "T1002", name="Li Ming")
    emergency = open_case(services, "T1001", 1, "long")
    clock.advance(minutes=1)
    care = open_case(services, "T1002", 1, "double")
    clock.advance(minutes=1)
    service = open_case(services, "T1002", 2, "single")
    console.post(f"/api/v1/cases/{care}/resolve", headers=ADMIN)
    with services.uow() as uow:
        flagged = get_case(uow.session, emergency)
        add_note(uow, flagged, action="flag", by="system:alerts", why="call 120", now=clock.now())
        uow.commit()

    board = console.get("/api/v1/console/board", headers=ADMIN)
    assert board.status_code == 200
    body = board.json()
    assert body["now"] == "2026-11-22T08:02:00+00:00"
    rows = [(c["id"], c["elder_name"], c["state"], c["flags"]) for c in body["cases"]]
    assert rows == [
        (emergency, "Wang Fang", "open", ["call 120"]),
        (service, "Li Ming", "open", []),
        (care, "Li Ming", "resolved", []),  # awaiting its callback, below every open case
    ]


def test_console_reads_are_for_staff_only(console: TestClient) -> None:
    caregiver = mint(console, "caregiver")
    for path in ("/api/v1/console/board", "/api/v1/devices", "/api/v1/reports/kpi"):
        assert console.get(path).status_code == 401
        assert console.get(path, headers=caregiver).status_code == 403
        assert console.get(path, headers=mint(console, "operator")).status_code == 200


def test_console_stream_refuses_unknown_tokens_and_non_staff(console: TestClient) -> None:
    assert console.get("/api/v1/stream?token=nope").status_code == 401
    assert console.get("/api/v1/stream").status_code == 401  # no token and no session cookie
    caregiver = mint(console, "caregiver")["Authorization"].removeprefix("Bearer ")
    assert console.get(f"/api/v1/stream?token={caregiver}").status_code == 403


def test_reclassify_changes_the_kind_and_records_why(
    console: TestClient, services: Services
) -> None:
    seed_elder(services, "T1001")
    case_id = open_case(services, "T1001", 1, "single")
    moved = console.post(
        f"/api/v1/cases/{case_id}/reclassify",
        json={"kind": "care", "note": "wants help with shopping"},
        headers=ADMIN,
    )
    assert moved.status_code == 200
    assert (moved.json()["kind"], moved.json()["summary"]) == (
        "care",
        "Care request (main single press)",
    )
    history = console.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()["events"]
    assert (history[-1]["action"], history[-1]["by"], history[-1]["why"]) == (
        "reclassified",
        "admin:admin",
        "service → care: wants help with shopping",
    )
    again = console.post(
        f"/api/v1/cases/{case_id}/reclassify", json={"kind": "care"}, headers=ADMIN
    )
    assert again.status_code == 409


def test_reclassify_refuses_closed_cases_bad_kinds_and_non_staff(
    console: TestClient, services: Services
) -> None:
    seed_elder(services, "T1001")
    case_id = open_case(services, "T1001", 1, "single")
    url = f"/api/v1/cases/{case_id}/reclassify"
    assert console.post(url, json={"kind": "party"}, headers=ADMIN).status_code == 422
    assert (
        console.post(url, json={"kind": "care"}, headers=mint(console, "caregiver")).status_code
        == 403
    )
    assert (
        console.post(
            "/api/v1/cases/C-0/reclassify", json={"kind": "care"}, headers=ADMIN
        ).status_code
        == 404
    )
    console.post(f"/api/v1/cases/{case_id}/resolve", headers=ADMIN)
    console.post(f"/api/v1/cases/{case_id}/callback", json={"satisfaction": 5}, headers=ADMIN)
    assert console.post(url, json={"kind": "care"}, headers=ADMIN).status_code == 409


def test_fleet_lists_problem_terminals_first_with_a_summary(
    console: TestClient, services: Services, clock: FakeClock
) -> None:
    seed_elder(services, "T1001")
    seed_elder(services, "T1002", name="Li Ming")
    low = DeviceReport(EventKey("T1002", 1, 1), ReportType.HEARTBEAT, {"battery": 12, "fw": "1.4"})
    ok = DeviceReport(EventKey("T1001", 1, 1), ReportType.HEARTBEAT, {"battery": 90})
    for report in (low, ok):
        record_device_report(services.uow, report, now=clock.now(), tz=services.tz)
    seed_elder(services, "T1003", name="Zhao Lei")  # never heard from

    fleet = console.get("/api/v1/devices", headers=ADMIN).json()
    assert fleet["summary"] == {
        "total": 3,
        "online": 2,
        "offline": 0,
        "unknown": 1,
        "low_battery": 1,
    }
    assert [(d["device_id"], d["elder_name"], d["battery"]) for d in fleet["devices"]] == [
        ("T1002", "Li Ming", 12),
        ("T1003", "Zhao Lei", None),
        ("T1001", "Wang Fang", 90),
    ]
    problems = console.get("/api/v1/devices?problems=true", headers=ADMIN).json()["devices"]
    assert [d["device_id"] for d in problems] == ["T1002", "T1003"]


def test_kpi_follows_a_case_through_its_lifecycle(
    console: TestClient, services: Services, clock: FakeClock
) -> None:
    seed_elder(services, "T1001")
    case_id = open_case(services, "T1001", 1, "long")
    clock.advance(seconds=75)
    console.post(f"/api/v1/cases/{case_id}/ack", headers=ADMIN)
    console.post(f"/api/v1/cases/{case_id}/resolve", headers=ADMIN)
    console.post(f"/api/v1/cases/{case_id}/callback", json={"satisfaction": 4}, headers=ADMIN)

    kpi = console.get("/api/v1/reports/kpi?days=2", headers=ADMIN).json()
    assert (kpi["since"], kpi["until"]) == (
        "2026-11-21T00:00:00+08:00",
        "2026-11-23T00:00:00+08:00",
    )
    assert [d["day"] for d in kpi["per_day"]] == ["2026-11-21", "2026-11-22"]
    assert kpi["per_day"][1]["counts"]["emergency"] == 1
    assert (kpi["total"], kpi["completion_rate"], kpi["satisfaction_rate"]) == (1, 1.0, 1.0)
    assert (kpi["callbacks"], kpi["ack_p50_s"], kpi["ack_p90_s"]) == (1, 75.0, 75.0)

    later = console.get(
        "/api/v1/reports/kpi",
        params={"since": "2026-11-22T09:00:00+00:00", "until": "2026-11-22T10:00:00+00:00"},
        headers=ADMIN,
    ).json()
    assert later["total"] == 0
    naive = console.get("/api/v1/reports/kpi?since=2026-11-22T09:00:00", headers=ADMIN)
    assert naive.status_code == 422


def test_stream_tokens_are_hidden_in_the_access_log(console: TestClient) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/stream?token=s3cret&x=1", "1.1", 200),
        None,
    )
    for log_filter in logging.getLogger("uvicorn.access").filters:
        assert not isinstance(log_filter, logging.Filter) or log_filter.filter(record)
    assert "s3cret" not in record.getMessage()
    assert "/api/v1/stream?token=***&x=1" in record.getMessage()


def test_stream_pushes_cases_over_real_http_and_ends_when_the_server_stops(
    services: Services,
) -> None:
    seed_elder(services, "T1001")
    stream = CaseStream(services.bus)
    app = create_app(services, stream=stream)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    server = ConsoleAwareServer(config, streams=[stream])
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}/api/v1/stream?token={ADMIN_TOKEN}"
        with httpx.Client(timeout=10) as client, client.stream("GET", url) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            lines = resp.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: hello"
            case_id = open_case(services, "T1001", 1, "long")
            assert next(line for line in lines if line.startswith("event:")) == "event: case"
            news = json.loads(next(lines).removeprefix("data: "))
            assert news == {"case_id": case_id, "change": "opened", "kind": "emergency"}
            server.should_exit = True
            rest = list(lines)  # the server ends the stream rather than cutting it off
        assert rest == [""]
        thread.join(timeout=GRACEFUL_SHUTDOWN_S)
        assert not thread.is_alive()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_console_vocabulary_is_the_domains_own(api: TestClient) -> None:
    # The console draws kinds, lines, states and strategies from this, not from JS copies.
    words = api.get("/api/v1/vocabulary", headers=ADMIN).json()
    assert words["kinds"] == [k.value for k in CaseKind]
    assert words["lines"] == [line.value for line in ServiceLine]
    assert words["states"] == [s.value for s in CaseState]
    assert set(words["unowned"]) == set(UNOWNED) and set(words["active"]) == set(ACTIVE)
    assert set(words["awaiting_callback"]) == set(AWAITING_CALLBACK)
    assert words["strategies"] == [s.value for s in Strategy]
    # The case page follows a call until its state is over, and sends no second order while
    # one is open: both sets are the use cases' own.
    assert sorted(words["call_over"]) == sorted(FINAL_STATES) and UNPLACED in words["call_over"]
    assert words["open_order_statuses"] == list(OPEN_ORDER)
