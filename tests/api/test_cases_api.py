"""Cases over HTTP: list and filter, one case with history, and the lifecycle by hand."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import select

from care_api.domain.events import CaseStateChanged, DomainEvent
from care_api.services import Services
from care_api.store.tables import CaseEvent
from care_api.usecases.cases.actions import acknowledge
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import ADMIN, TestClient, mint
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder


def open_case(
    services: Services, device_id: str = "T1001", seq: int = 1, pattern: str = "long"
) -> str:
    outcome = record_device_report(
        services.uow,
        press(device_id, seq=seq, pattern=pattern),
        now=services.clock.now(),
        tz=services.tz,
    )
    assert outcome.case_id is not None
    return outcome.case_id


@pytest.fixture
def two_elders(services: Services, clock: FakeClock) -> tuple[int, int, str, str]:
    """Wang (T1001) with an emergency case, then Li (T1002) with a newer service case."""
    wang, _ = seed_elder(services, "T1001")
    li, _ = seed_elder(services, "T1002", name="Li Ming")
    first = open_case(services, "T1001", pattern="long")
    clock.advance(minutes=1)
    second = open_case(services, "T1002", pattern="single")
    return wang, li, first, second


def ids(resp_json: list[dict[str, object]]) -> list[object]:
    return [c["id"] for c in resp_json]


def test_cases_list_newest_first_and_filters(
    api: TestClient, two_elders: tuple[int, int, str, str]
) -> None:
    wang, _, first, second = two_elders
    listed = api.get("/api/v1/cases", headers=ADMIN)
    assert listed.status_code == 200
    assert ids(listed.json()) == [second, first]
    case = listed.json()[1]
    assert (case["kind"], case["state"], case["elder_id"], case["device_id"]) == (
        "emergency",
        "open",
        wang,
        "T1001",
    )
    assert case["opened_at"] == "2026-11-22T08:00:00+00:00"
    assert ids(api.get("/api/v1/cases?kind=service", headers=ADMIN).json()) == [second]
    assert ids(api.get(f"/api/v1/cases?elder_id={wang}", headers=ADMIN).json()) == [first]
    assert ids(api.get("/api/v1/cases?state=open&kind=emergency", headers=ADMIN).json()) == [first]
    assert api.get("/api/v1/cases?state=closed", headers=ADMIN).json() == []


def test_cases_list_pages_with_limit_and_offset(
    api: TestClient, two_elders: tuple[int, int, str, str]
) -> None:
    _, _, first, second = two_elders
    assert ids(api.get("/api/v1/cases?limit=1", headers=ADMIN).json()) == [second]
    assert ids(api.get("/api/v1/cases?limit=1&offset=1", headers=ADMIN).json()) == [first]
    assert api.get("/api/v1/cases?offset=2", headers=ADMIN).json() == []


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "offset=-1", "state=lost", "kind=x"])
def test_cases_list_bad_query_is_422(
    api: TestClient, two_elders: tuple[int, int, str, str], query: str
) -> None:
    resp = api.get(f"/api/v1/cases?{query}", headers=ADMIN)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"][0] == "query"


def test_cases_caregiver_sees_only_their_elders_cases(
    api: TestClient, two_elders: tuple[int, int, str, str]
) -> None:
    wang, li, first, second = two_elders
    caregiver = mint(api, "caregiver", "Wang Jun", elder_ids=[wang])
    assert ids(api.get("/api/v1/cases", headers=caregiver).json()) == [first]
    assert api.get(f"/api/v1/cases?elder_id={li}", headers=caregiver).json() == []
    assert api.get(f"/api/v1/cases/{first}", headers=caregiver).status_code == 200
    assert api.get(f"/api/v1/cases/{second}", headers=caregiver).json() == {
        "detail": f"case {second} not found"
    }
    assert api.post(f"/api/v1/cases/{second}/ack", headers=caregiver).status_code == 404


@pytest.mark.parametrize("role", ["volunteer", "merchant"])
def test_cases_volunteer_and_merchant_use_their_own_routes(
    api: TestClient, two_elders: tuple[int, int, str, str], role: str
) -> None:
    first = two_elders[2]
    headers = mint(api, role)
    assert api.get("/api/v1/cases", headers=headers).status_code == 403
    assert api.post(f"/api/v1/cases/{first}/accept", headers=headers).status_code == 403


def test_cases_read_one_with_full_history(
    api: TestClient, services: Services, two_elders: tuple[int, int, str, str]
) -> None:
    first = two_elders[2]
    api.post(f"/api/v1/cases/{first}/ack", json={"note": "calling her now"}, headers=ADMIN)
    detail = api.get(f"/api/v1/cases/{first}", headers=ADMIN).json()
    assert detail["state"] == "accepted" and detail["owner"] == "admin:admin"
    events = [(e["action"], e["from_state"], e["to_state"], e["by"]) for e in detail["events"]]
    assert events == [
        ("opened", None, "open", "device:T1001"),
        ("transition", "open", "accepted", "admin:admin"),
        ("note", None, None, "admin:admin"),
    ]
    assert detail["events"][2]["why"] == "calling her now"
    assert detail["notifications"] == []
    assert api.get("/api/v1/cases/C-19990101-0001", headers=ADMIN).status_code == 404


def test_cases_first_ack_owns_and_second_by_someone_else_is_409(
    api: TestClient, services: Services, two_elders: tuple[int, int, str, str]
) -> None:
    wang, _, first, _ = two_elders
    published: list[DomainEvent] = []
    services.bus.subscribe(CaseStateChanged, published.append)
    caregiver = mint(api, "caregiver", "Wang Jun", elder_ids=[wang])
    operator = mint(api, "operator", "Zhao")
    resp = api.post(f"/api/v1/cases/{first}/ack", headers=caregiver)
    assert resp.status_code == 200
    assert (resp.json()["state"], resp.json()["owner"]) == ("accepted", "caregiver:Wang Jun")
    assert resp.json()["acknowledged_at"] == "2026-11-22T08:01:00+00:00"
    # The event went out after the commit.
    assert [(e.case_id, e.to_state) for e in published] == [(first, "accepted")]  # type: ignore[union-attr]
    again = api.post(f"/api/v1/cases/{first}/accept", headers=operator)
    assert again.status_code == 409
    assert "caregiver:Wang Jun" in again.json()["detail"]
    # The owner acknowledging twice (a doubled tap) is harmless.
    assert api.post(f"/api/v1/cases/{first}/ack", headers=caregiver).status_code == 200


def test_cases_resolve_then_callback_closes(
    api: TestClient, services: Services, two_elders: tuple[int, int, str, str]
) -> None:
    first = two_elders[2]
    operator = mint(api, "operator", "Zhao")
    assert api.post(f"/api/v1/cases/{first}/callback", json={}, headers=operator).status_code == 409
    assert api.post(f"/api/v1/cases/{first}/ack", headers=operator).status_code == 200
    resolved = api.post(
        f"/api/v1/cases/{first}/resolve", json={"note": "fell, no injury"}, headers=operator
    )
    assert resolved.json()["state"] == "resolved"
    callback = {
        "reached": True,
        "time_ok": True,
        "quality": 5,
        "price_ok": True,
        "satisfaction": 4,
        "comment": "thanks",
    }
    closed = api.post(f"/api/v1/cases/{first}/callback", json=callback, headers=operator)
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"
    assert closed.json()["closed_at"] is not None
    with services.uow() as uow:
        rows = uow.session.exec(select(CaseEvent).where(CaseEvent.case_id == first)).all()
        notes = {r.action: r.why for r in rows}
    assert notes["callback"].startswith("Callback: reached yes; on time yes; service 5/5")
    assert notes["callback"].endswith(". thanks")
    # The same line for a reader of the console in Chinese.
    history = api.get(
        f"/api/v1/cases/{first}", headers={**operator, "Accept-Language": "zh-CN"}
    ).json()["events"]
    line = next(e["why"] for e in history if e["action"] == "callback")
    assert line.startswith("回访：联系上 是；准时 是；服务 5/5") and line.endswith("thanks")
    assert api.post(f"/api/v1/cases/{first}/ack", headers=ADMIN).status_code == 409


@pytest.mark.parametrize(
    "body", [{"quality": 0}, {"satisfaction": 6}, {"comment": "c" * 901}, {"reached": "maybe"}]
)
def test_cases_bad_callback_is_422_and_case_stays_resolved(
    api: TestClient, two_elders: tuple[int, int, str, str], body: dict[str, object]
) -> None:
    first = two_elders[2]
    api.post(f"/api/v1/cases/{first}/resolve", headers=ADMIN)
    assert api.post(f"/api/v1/cases/{first}/callback", json=body, headers=ADMIN).status_code == 422
    assert api.get(f"/api/v1/cases/{first}", headers=ADMIN).json()["state"] == "resolved"


def test_cases_caregiver_owner_goes_on_site_and_resolves(
    api: TestClient, two_elders: tuple[int, int, str, str]
) -> None:
    wang, _, first, _ = two_elders
    caregiver = mint(api, "caregiver", "Wang Jun", elder_ids=[wang])
    # Ownership first: a caregiver acts on a case only once it is theirs.
    assert api.post(f"/api/v1/cases/{first}/on-site", headers=caregiver).status_code == 409
    api.post(f"/api/v1/cases/{first}/ack", headers=caregiver)
    assert (
        api.post(f"/api/v1/cases/{first}/on-site", headers=caregiver).json()["state"] == "on_site"
    )
    resp = api.post(f"/api/v1/cases/{first}/resolve", json={"note": "ok"}, headers=caregiver)
    assert resp.json()["state"] == "resolved"
    assert api.post(f"/api/v1/cases/{first}/callback", headers=caregiver).status_code == 403


def test_cases_caregiver_may_not_resolve_a_case_someone_else_owns(
    api: TestClient, two_elders: tuple[int, int, str, str]
) -> None:
    wang, _, first, _ = two_elders
    api.post(f"/api/v1/cases/{first}/ack", headers=ADMIN)
    caregiver = mint(api, "caregiver", "Wang Jun", elder_ids=[wang])
    resp = api.post(f"/api/v1/cases/{first}/resolve", headers=caregiver)
    assert resp.status_code == 409
    assert resp.json() == {"detail": f"case {first} is already taken by admin:admin"}
    # A family reading the app in Chinese is told in Chinese.
    resp = api.post(
        f"/api/v1/cases/{first}/resolve", headers={**caregiver, "Accept-Language": "zh-CN"}
    )
    assert resp.json() == {"detail": f"案件{first}已由admin:admin接单"}


def test_cases_illegal_move_is_409(api: TestClient, two_elders: tuple[int, int, str, str]) -> None:
    first = two_elders[2]
    resp = api.post(f"/api/v1/cases/{first}/on-site", headers=ADMIN)
    assert resp.status_code == 409
    assert resp.json() == {"detail": f"case {first} cannot go from open to on site"}
    # The console's operator reads it in the console's language.
    chinese = {**ADMIN, "Accept-Language": "zh-CN"}
    resp = api.post(f"/api/v1/cases/{first}/on-site", headers=chinese)
    assert resp.json() == {"detail": f"案件{first}不能从待处理转为已到场"}
    taken = api.post(f"/api/v1/cases/{first}/ack", headers=ADMIN)
    assert taken.status_code == 200
    other = {**mint(api, "operator", "Li Na"), "Accept-Language": "zh-CN"}
    resp = api.post(f"/api/v1/cases/{first}/ack", headers=other)
    assert resp.status_code == 409
    assert resp.json() == {"detail": f"案件{first}已由admin:admin接单"}


def wait_for_lock_waiter(services: Services) -> None:
    """Return once a session of this database is waiting for a row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 10
    with services.engine.connect() as conn:
        # pg_stat_activity is a snapshot per transaction: end it before each look.
        while not conn.execute(query).scalar_one():
            conn.rollback()
            assert time.monotonic() < deadline, "the API request never waited for the lock"
            time.sleep(0.01)


def test_cases_ack_racing_an_sms_ack_loses_with_409(
    api: TestClient, services: Services, two_elders: tuple[int, int, str, str]
) -> None:
    if services.engine.dialect.name != "postgresql":
        pytest.skip("waits for a PostgreSQL lock waiter; test_ownership_race covers SQLite")
    first = two_elders[2]
    operator = mint(api, "operator", "Zhao")
    answers: list[httpx.Response] = []
    api_ack = threading.Thread(
        target=lambda: answers.append(api.post(f"/api/v1/cases/{first}/ack", headers=operator))
    )
    with services.uow() as sms:
        # The SMS reply takes the case and holds its row lock while the operator clicks.
        acknowledge(sms, first, by="caregiver:Wang Jun", now=services.clock.now(), via="sms")
        sms.session.flush()
        api_ack.start()
        wait_for_lock_waiter(services)
        sms.commit()
    api_ack.join(timeout=10)
    assert [a.status_code for a in answers] == [409]
    assert "caregiver:Wang Jun" in answers[0].json()["detail"]
