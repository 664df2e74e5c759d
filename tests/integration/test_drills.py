"""Drill mode: a terminal or district in test mode runs the whole ladder as TEST, opted-in only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.store.tables import Case, Elder, Notification
from care_api.usecases.intake.batch import record_presses
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.schedules.drills import start_drill
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder

SUPERVISOR = "+8613700000000"
FIRST = "+8613900000000"  # seed_elder's contact 1 (priority 1): not in drills
OPTED_IN = "+8613955556666"


@pytest.fixture
def svc(db_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = make_settings(
        db_url, admin_token=SecretStr(ADMIN_TOKEN), supervisor_phone=SUPERVISOR
    )
    services = build_services(settings, clock=clock)
    yield services
    services.close()


@pytest.fixture
def api(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as client:
        yield client


def messages(svc: Services, case_id: str) -> list[Notification]:
    with svc.uow() as uow:
        rows = list(
            uow.session.exec(
                select(Notification)
                .where(Notification.case_id == case_id)
                .order_by(col(Notification.id))
            ).all()
        )
        uow.session.expunge_all()
        return rows


def run(alerts: AlertsComponent) -> None:
    alerts.tick()
    alerts.run_pending()


def open_press(svc: Services, device_id: str, seq: int) -> str:
    outcome = record_device_report(
        svc.uow, press(device_id, seq=seq), now=svc.clock.now(), tz=svc.tz
    )
    assert outcome.case_id is not None
    return outcome.case_id


def test_a_drill_runs_the_whole_ladder_as_test_to_opted_in_people_only(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    resp = api.post(
        f"/api/v1/elders/{elder_id}/contacts",
        json={"name": "Drill Daughter", "phone": OPTED_IN, "priority": 2, "drill_opt_in": True},
        headers=ADMIN,
    )
    assert resp.json()["drill_opt_in"] is True
    seed_elder(svc, "T2002", name="Li Ming")  # a real terminal beside the drill
    drill = api.post(
        "/api/v1/drills", json={"device_id": "T1001", "note": "monthly"}, headers=ADMIN
    )
    assert drill.status_code == 201, drill.text
    assert drill.json()["running"] is True

    case_id = open_press(svc, "T1001", 1)
    real_id = open_press(svc, "T2002", 1)
    case = api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()
    assert case["drill"] is True
    assert api.get(f"/api/v1/cases/{real_id}", headers=ADMIN).json()["drill"] is False
    board = api.get("/api/v1/console/board", headers=ADMIN).json()["cases"]
    assert {c["id"]: c["drill"] for c in board} == {case_id: True, real_id: False}

    for _ in range(3):  # step 0, step 1 at 2 min, step 2 (the supervisor) at 7 min
        run(alerts)
        clock.advance(minutes=5)
    sent = messages(svc, case_id)
    assert sent, "the ladder ran"
    assert all(n.body.startswith("[TEST]") for n in sent)
    by_phone = {(n.to, n.channel): n.status for n in sent if n.channel != "console"}
    assert by_phone == {
        (FIRST, "sms"): "skipped",
        (FIRST, "voice"): "skipped",
        (OPTED_IN, "sms"): "queued",  # handed to the (outbox) provider
        (OPTED_IN, "voice"): "queued",
        (SUPERVISOR, "sms"): "skipped",
        (SUPERVISOR, "voice"): "skipped",
    }
    skipped = [n for n in sent if n.status == "skipped"]
    assert all(n.detail == "drill: not opted in to drills" for n in skipped)
    voice = next(n for n in sent if n.to == OPTED_IN and n.channel == "voice")
    assert voice.say is not None and voice.say.startswith("This is a test.")
    # The real press beside it was not touched.
    assert not any(n.body.startswith("[TEST]") for n in messages(svc, real_id))
    # Through the API too: the skipped messages are listed, never sent.
    listed = api.get(f"/api/v1/notifications?case_id={case_id}", headers=ADMIN).json()
    assert {n["status"] for n in listed} >= {"skipped", "queued"}

    # The drill's figures are apart from the real ones.
    real = api.get("/api/v1/reports/kpi", headers=ADMIN).json()
    drills = api.get("/api/v1/reports/kpi?drill=true", headers=ADMIN).json()
    assert (real["total"], real["by_kind"]["emergency"]) == (1, 1)
    assert (drills["total"], drills["by_kind"]["emergency"]) == (1, 1)

    # Ended: the next press of the terminal is real again.
    ended = api.post(f"/api/v1/drills/{drill.json()['id']}/end", headers=ADMIN)
    assert ended.status_code == 200 and ended.json()["running"] is False
    assert api.post(f"/api/v1/drills/{drill.json()['id']}/end", headers=ADMIN).status_code == 409
    api.post(f"/api/v1/cases/{case_id}/resolve", json={"note": "drill over"}, headers=ADMIN)
    again = open_press(svc, "T1001", 2)
    assert api.get(f"/api/v1/cases/{again}", headers=ADMIN).json()["drill"] is False
    assert api.get("/api/v1/reports/kpi", headers=ADMIN).json()["total"] == 2


def test_a_whole_district_in_test_mode(api: TestClient, svc: Services) -> None:
    wucheng, _ = seed_elder(svc, "T1001")
    seed_elder(svc, "T2002", name="Li Ming")
    resp = api.patch(f"/api/v1/elders/{wucheng}", json={"district": "Wucheng"}, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    drill = api.post("/api/v1/drills", json={"district": "Wucheng"}, headers=ADMIN)
    assert drill.status_code == 201
    again = api.post("/api/v1/drills", json={"district": "Wucheng"}, headers=ADMIN)
    assert again.status_code == 409
    assert "already running" in again.json()["detail"]
    in_district = open_press(svc, "T1001", 1)
    elsewhere = open_press(svc, "T2002", 1)
    drills = {c["id"]: c["drill"] for c in api.get("/api/v1/cases", headers=ADMIN).json()}
    assert drills == {in_district: True, elsewhere: False}
    running = api.get("/api/v1/drills?running=true", headers=ADMIN).json()
    assert [d["district"] for d in running] == ["Wucheng"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"device_id": "T1001", "district": "Wucheng"}, 422),
        ({"district": ""}, 422),
        ({"device_id": "NOPE"}, 404),
        ({"device_id": "bad id!"}, 422),
    ],
)
def test_bad_drills_are_refused_and_change_nothing(
    api: TestClient, svc: Services, body: dict[str, object], status: int
) -> None:
    seed_elder(svc)
    resp = api.post("/api/v1/drills", json=body, headers=ADMIN)
    assert resp.status_code == status
    assert "detail" in resp.json()
    assert api.get("/api/v1/drills", headers=ADMIN).json() == []


def test_the_gateways_press_batch_marks_drill_cases_too(svc: Services, clock: FakeClock) -> None:
    seed_elder(svc, "T1001")
    seed_elder(svc, "T2002", name="Li Ming")
    with svc.uow() as uow:
        start_drill(uow.session, device_id="T1001", district=None, note="", by="t", now=clock.now())
        uow.commit()
    outcomes = record_presses(
        svc.uow, [press("T1001", seq=1), press("T2002", seq=1)], now=clock.now(), tz=svc.tz
    )
    with svc.uow() as uow:
        cases = [uow.session.get(Case, o.case_id) for o in outcomes]
        assert [(c.drill, c.contact_id) for c in cases if c is not None] == [
            (True, "1101"),
            (False, "1101"),
        ]


def test_the_gateways_press_batch_marks_a_districts_drill_cases(
    svc: Services, clock: FakeClock
) -> None:
    # The batch reads the drills with its terminals, in one statement: a district's too.
    wucheng, _ = seed_elder(svc, "T1001")
    seed_elder(svc, "T2002", name="Li Ming")
    with svc.uow() as uow:
        elder = uow.session.get(Elder, wucheng)
        assert elder is not None
        elder.district = "Wucheng"
        start_drill(
            uow.session, device_id=None, district="Wucheng", note="", by="t", now=clock.now()
        )
        uow.commit()
    outcomes = record_presses(
        svc.uow, [press("T1001", seq=1), press("T2002", seq=1)], now=clock.now(), tz=svc.tz
    )
    with svc.uow() as uow:
        cases = [uow.session.get(Case, o.case_id) for o in outcomes]
        assert [c.drill for c in cases if c is not None] == [True, False]


# --- drill and real never mix ------------------------------------------------------------------

PATHS = ["one_by_one", "batch"]


def press_via(path: str, svc: Services, device_id: str, seq: int) -> str:
    """A long press through the gateway's single path or its batched press path."""
    report = press(device_id, seq=seq)
    if path == "batch":
        [outcome] = record_presses(svc.uow, [report], now=svc.clock.now(), tz=svc.tz)
    else:
        outcome = record_device_report(svc.uow, report, now=svc.clock.now(), tz=svc.tz)
    assert outcome.status == "accepted" and outcome.case_id is not None, outcome
    return outcome.case_id


def add_opted_in_contact(api: TestClient, elder_id: int) -> None:
    resp = api.post(
        f"/api/v1/elders/{elder_id}/contacts",
        json={"name": "Drill Daughter", "phone": OPTED_IN, "priority": 2, "drill_opt_in": True},
        headers=ADMIN,
    )
    assert resp.status_code == 201, resp.text


@pytest.mark.parametrize("path", PATHS)
def test_a_real_press_after_a_drill_ends_is_a_real_case_for_the_real_family(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock, path: str
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    add_opted_in_contact(api, elder_id)
    drill = api.post("/api/v1/drills", json={"device_id": "T1001"}, headers=ADMIN).json()
    drill_case = press_via(path, svc, "T1001", 1)
    run(alerts)
    assert all(n.body.startswith("[TEST]") for n in messages(svc, drill_case))

    ended = api.post(f"/api/v1/drills/{drill['id']}/end", headers=ADMIN)
    assert ended.status_code == 200, ended.text
    # Ending the drill settled its case: nothing left open to absorb the next press.
    settled = api.get(f"/api/v1/cases/{drill_case}", headers=ADMIN).json()
    assert settled["state"] == "closed"
    assert settled["events"][-1]["why"] == "drill ended"
    clock.advance(minutes=1)

    real_case = press_via(path, svc, "T1001", 2)
    run(alerts)

    assert real_case != drill_case
    assert api.get(f"/api/v1/cases/{real_case}", headers=ADMIN).json()["drill"] is False
    real = messages(svc, real_case)
    assert real and not any(n.body.startswith("[TEST]") for n in real)
    to_family = {(n.to, n.channel): n.status for n in real if n.channel != "console"}
    assert to_family == {(FIRST, "sms"): "queued", (FIRST, "voice"): "queued"}
    # The drill's ladder stopped with the drill: no test step fires later.
    before = len(messages(svc, drill_case))
    clock.advance(minutes=10)
    run(alerts)
    assert len(messages(svc, drill_case)) == before


@pytest.mark.parametrize("path", PATHS)
def test_a_real_press_during_a_drill_never_joins_the_drill_case_nor_the_reverse(
    api: TestClient, svc: Services, alerts: AlertsComponent, path: str
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    add_opted_in_contact(api, elder_id)
    # A second terminal of the same elder (the bedroom's), not in the drill.
    resp = api.post(
        "/api/v1/devices", json={"device_id": "T1002", "elder_id": elder_id}, headers=ADMIN
    )
    assert resp.status_code == 201, resp.text
    assert api.post("/api/v1/drills", json={"device_id": "T1001"}, headers=ADMIN).status_code == 201

    drill_case = press_via(path, svc, "T1001", 1)
    real_case = press_via(path, svc, "T1002", 1)
    again_drill = press_via(path, svc, "T1001", 2)
    again_real = press_via(path, svc, "T1002", 2)
    run(alerts)

    assert real_case != drill_case
    assert (again_drill, again_real) == (drill_case, real_case)
    cases = {c["id"]: c["drill"] for c in api.get("/api/v1/cases", headers=ADMIN).json()}
    assert cases == {drill_case: True, real_case: False}
    real = messages(svc, real_case)
    assert {(n.to, n.channel) for n in real if n.status == "queued"} >= {(FIRST, "sms")}
    assert not any(n.body.startswith("[TEST]") for n in real)
