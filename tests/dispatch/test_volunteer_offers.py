"""Care cases offered to volunteers ring by ring, taken by SMS or API, on a moved clock."""

from __future__ import annotations

import threading
from typing import Any

from alerts.runtime import AlertsComponent
from care_api.domain.errors import Conflict
from care_api.domain.model import DeviceReport, EventKey, ReportType
from care_api.services import Services
from care_api.usecases.dispatch.offers import accept_offer
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.registry import provision_device
from tests.api.support import TestClient
from tests.dispatch.support import (
    ADMIN,
    add_elder,
    add_volunteer,
    case_row,
    console_lines,
    file_case,
    history,
    mint,
    ok,
    settle,
    sms,
    sms_to,
)
from tests.fakes import FakeClock

ANN, BO, CHEN, DU, FANG = (f"+86131000000{i:02d}" for i in range(1, 6))


def tasks(api: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(api.get("/api/v1/tasks", headers=headers))
    return found


def test_offers_volunteer_accepts_by_sms_and_the_others_are_told(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    ann = add_volunteer(api, "Ann", ANN, km=0.5)
    bo = add_volunteer(api, "Bo", BO, km=1.0)
    chen = add_volunteer(api, "Chen", CHEN, km=2.0)
    add_volunteer(api, "Du", DU, km=5.0)  # outside the first ring
    case_id = file_case(api, elder, "care", "shopping and a hot meal", need="buy groceries")["id"]
    settle(alerts)

    offers = sms_to(svc, case_id)
    assert set(offers) == {ANN, BO, CHEN}
    code = case_id.rsplit("-", 1)[1]
    assert offers[BO] == [
        f"Care task {code} near you (1.0 km): buy groceries. "
        f"Reply 1 {code} to take it, 2 {code} if you cannot."
    ]
    assert "Wang Fang" not in offers[BO][0]  # name and address only once it is theirs
    assert case_row(svc, case_id).state == "dispatched"

    answer = sms(api, BO, f"1 {code}")
    assert answer.startswith(f"You have case {case_id}: Wang Fang, 12 Bamboo Lane")
    settle(alerts)

    case = case_row(svc, case_id)
    assert (case.state, case.owner) == ("accepted", f"volunteer:{bo}")
    told = sms_to(svc, case_id)
    for other in (ANN, CHEN):
        assert told[other][-1] == f"Case {case_id} is taken by Bo, thank you. No need to act."
    assert told[BO] == offers[BO]  # the taker is not told it is taken
    assert sms(api, ANN, "1") == f"Case {case_id} is already taken by Bo, thank you."

    staff_view = {t["volunteer_id"]: t["status"] for t in tasks(api, ADMIN)}
    assert staff_view == {ann: "withdrawn", bo: "accepted", chen: "withdrawn"}
    clock.advance(minutes=30)
    settle(alerts)
    assert DU not in sms_to(svc, case_id)  # the circle never widens once it is taken
    assert ("transition", "acknowledged via sms") in history(svc, case_id)


def test_offers_decline_and_silence_widen_the_circle_then_the_operator(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    ann = add_volunteer(api, "Ann", ANN, km=1.0)
    add_volunteer(api, "Du", DU, km=5.0)
    fang = add_volunteer(api, "Fang", FANG, km=10.0)
    case_id = file_case(api, elder, "care", "company for a walk")["id"]
    settle(alerts)
    assert set(sms_to(svc, case_id)) == {ANN}

    ann_token = mint(api, "volunteer", "Ann", subject_id=ann)
    [task] = tasks(api, ann_token)
    declined = ok(api.post(f"/api/v1/tasks/{task['id']}/decline", headers=ann_token))
    assert declined["status"] == "declined"
    settle(alerts)  # the ring's last offer declined: the next ring at once
    assert set(sms_to(svc, case_id)) == {ANN, DU}
    assert (case_row(svc, case_id).state, case_row(svc, case_id).level) == ("escalated", 1)

    clock.advance(minutes=14)
    settle(alerts)
    assert set(sms_to(svc, case_id)) == {ANN, DU}
    clock.advance(minutes=1)  # 15 minutes of silence
    settle(alerts)
    assert set(sms_to(svc, case_id)) == {ANN, DU, FANG}
    by_volunteer = {t["volunteer_id"]: t["status"] for t in tasks(api, ADMIN)}
    assert by_volunteer[ann] == "declined" and by_volunteer[fang] == "offered"
    assert sorted(by_volunteer.values()) == ["declined", "expired", "offered"]

    clock.advance(minutes=15)
    settle(alerts)
    [line] = [c for c in console_lines(svc, case_id) if "no volunteer" in c]
    assert line.endswith("no volunteer took it: please arrange help")
    board = ok(api.get("/api/v1/console/board", headers=ADMIN))["cases"]
    assert (
        "no volunteer: operator to arrange" in next(c for c in board if c["id"] == case_id)["flags"]
    )

    # A late yes still helps while nobody has the case.
    fang_token = mint(api, "volunteer", "Fang", subject_id=fang)
    [late] = tasks(api, fang_token)
    taken = ok(api.post(f"/api/v1/tasks/{late['id']}/accept", headers=fang_token))
    assert taken["status"] == "accepted"
    assert case_row(svc, case_id).owner == f"volunteer:{fang}"


def test_offers_volunteer_sees_only_own_tasks_and_medical_notes_only_when_needed(
    api: TestClient, svc: Services, alerts: AlertsComponent
) -> None:
    elder = add_elder(api)
    ann = add_volunteer(api, "Ann", ANN, km=0.5)  # no nursing skill
    bo = add_volunteer(api, "Bo", BO, km=1.0, skills=["nursing"])
    chen = add_volunteer(api, "Chen", CHEN, km=1.5, skills=["nursing"])
    add_volunteer(api, "Du", DU, km=0.7, skills=["nursing"], availability={"mon": ["08:00-09:00"]})
    first = file_case(api, elder, "care", "insulin help", skill="nursing", needs_medical=True)
    second = file_case(api, elder, "care", "shopping")
    settle(alerts)
    assert set(sms_to(svc, first["id"])) == {BO, CHEN}  # Du is not available on Sundays
    assert set(sms_to(svc, second["id"])) == {ANN, BO, CHEN}

    ann_token, bo_token = (
        mint(api, "volunteer", n, subject_id=i) for n, i in (("Ann", ann), ("Bo", bo))
    )
    ann_tasks = tasks(api, ann_token)
    assert [t["case_id"] for t in ann_tasks] == [second["id"]]
    assert ann_tasks[0]["elder"] is None  # an open offer does not show the elder yet
    bo_first = next(t for t in tasks(api, bo_token) if t["case_id"] == first["id"])
    bo_second = next(t for t in tasks(api, bo_token) if t["case_id"] == second["id"])

    # Someone else's task is not there for Ann, and staff-only calls are refused.
    assert api.post(f"/api/v1/tasks/{bo_first['id']}/accept", headers=ann_token).status_code == 404
    assert api.get(f"/api/v1/volunteers/{bo}", headers=ann_token).status_code == 404
    assert api.get(f"/api/v1/volunteers/{ann}", headers=ann_token).status_code == 200
    assert api.post("/api/v1/volunteers", json={}, headers=ann_token).status_code == 403
    assert api.get("/api/v1/orders", headers=ann_token).status_code == 403

    medical = ok(api.post(f"/api/v1/tasks/{bo_first['id']}/accept", headers=bo_token))
    assert medical["elder"] == {
        "name": "Wang Fang",
        "address": "12 Bamboo Lane",
        "phone": "+8613800000000",
        "medical_notes": "diabetic; insulin at 8",
        "access_notes": "",
    }
    plain = ok(api.post(f"/api/v1/tasks/{bo_second['id']}/accept", headers=bo_token))
    assert plain["elder"]["address"] == "12 Bamboo Lane"
    assert plain["elder"]["medical_notes"] is None
    chen_token = mint(api, "volunteer", "Chen", subject_id=chen)
    chen_first = next(t for t in tasks(api, chen_token) if t["case_id"] == first["id"])
    assert (chen_first["status"], chen_first["elder"]) == ("withdrawn", None)
    again = api.post(f"/api/v1/tasks/{chen_first['id']}/accept", headers=chen_token)
    assert again.status_code == 409 and "already taken by volunteer:" in again.json()["detail"]

    done = ok(api.post(f"/api/v1/tasks/{bo_first['id']}/done", headers=bo_token))
    assert done["state"] == "resolved"


def test_offers_emergency_step1_alerts_the_five_nearest_volunteers(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    phones = [f"+86132000000{i:02d}" for i in range(7)]
    for i, phone in enumerate(phones):
        add_volunteer(api, f"V{i}", phone, km=0.5 + i)  # 0.5 … 6.5 km
    with svc.uow() as uow:
        provision_device(uow.session, "T1001", elder, clock.now())
        uow.commit()
    report = DeviceReport(EventKey("T1001", 1, 1), ReportType.PRESS, {"pattern": "long"})
    case_id = record_device_report(svc.uow, report, now=clock.now(), tz=svc.tz).case_id
    assert case_id is not None
    # No contacts on file: step 0 finds nobody to call and hands on to step 1 at once.
    settle(alerts)
    alerted = sms_to(svc, case_id)
    assert set(alerted) == set(phones[:5])
    assert all("Reply 1 to take it" in bodies[0] for bodies in alerted.values())

    assert sms(api, phones[3], "1").startswith(f"You have case {case_id}")
    settle(alerts)
    case = case_row(svc, case_id)
    assert case.state == "accepted" and case.owner is not None
    assert case.owner.startswith("volunteer:")
    assert sms_to(svc, case_id)[phones[0]][-1].startswith(f"Case {case_id} is taken by V3")


def test_offers_two_volunteers_accepting_at_once_one_gets_it(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    ann = add_volunteer(api, "Ann", ANN, km=0.5)
    bo = add_volunteer(api, "Bo", BO, km=1.0)
    case_id = file_case(api, elder, "care", "a lift to the clinic")["id"]
    settle(alerts)
    barrier = threading.Barrier(2)
    outcome: dict[int, str] = {}

    def accept(volunteer_id: int) -> None:
        barrier.wait()
        with svc.uow() as uow:
            try:
                accept_offer(uow, case_id, volunteer_id, now=clock.now(), via="api")
                uow.commit()
                outcome[volunteer_id] = "took it"
            except Conflict:
                outcome[volunteer_id] = "too late"

    threads = [threading.Thread(target=accept, args=(v,)) for v in (ann, bo)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcome.values()) == ["too late", "took it"]
    winner = next(v for v, said in outcome.items() if said == "took it")
    assert case_row(svc, case_id).owner == f"volunteer:{winner}"
    statuses = {t["volunteer_id"]: t["status"] for t in tasks(api, ADMIN)}
    assert statuses == {winner: "accepted", (bo if winner == ann else ann): "withdrawn"}
