"""Operators offering a care case to volunteers, and reclassified cases climbing the new ladder.

The people alerted under a reclassified case's old kind are told of the change, once.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.domain.events import CaseReclassified
from care_api.domain.model import CaseKind, TimerPurpose
from care_api.services import Services
from care_api.store.tables import Contact, Timer
from tests.api.support import TestClient
from tests.dispatch.support import (
    ADMIN,
    add_elder,
    add_volunteer,
    case_row,
    console_lines,
    file_case,
    history,
    messages,
    mint,
    ok,
    settle,
    sms,
    sms_to,
)
from tests.fakes import FakeClock

ANN, BO, CHEN = "+8613100000001", "+8613100000002", "+8613100000003"
SON = "+8613900000001"
DAUGHTER = "+8613900000002"
ABROAD = "+4915100000000"


def offer(api: TestClient, case_id: str, headers: dict[str, str] = ADMIN, **body: Any) -> Any:
    return api.post(f"/api/v1/cases/{case_id}/offers", json=body or None, headers=headers)


def reclassify(api: TestClient, case_id: str, kind: str, note: str = "") -> dict[str, Any]:
    body = {"kind": kind, "note": note}
    done: dict[str, Any] = ok(
        api.post(f"/api/v1/cases/{case_id}/reclassify", json=body, headers=ADMIN)
    )
    return done


def task_states(api: TestClient, case_id: str) -> dict[int, str]:
    found = ok(api.get("/api/v1/tasks", params={"case_id": case_id}, headers=ADMIN))
    return {t["volunteer_id"]: t["status"] for t in found}


def add_son(api: TestClient, elder: int) -> None:
    body = {"name": "Wang Jun", "phone": SON, "relation": "son", "priority": 1}
    ok(api.post(f"/api/v1/elders/{elder}/contacts", json=body, headers=ADMIN), 201)


def add_family(api: TestClient, elder: int) -> int:
    """The son (first), a daughter (second), and a son abroad who is only kept informed."""
    add_son(api, elder)
    daughter = {"name": "Wang Li", "phone": DAUGHTER, "relation": "daughter", "priority": 2}
    added = ok(api.post(f"/api/v1/elders/{elder}/contacts", json=daughter, headers=ADMIN), 201)
    abroad = {"name": "Wang Lei", "phone": ABROAD, "relation": "son", "notify_only": True}
    ok(api.post(f"/api/v1/elders/{elder}/contacts", json=abroad, headers=ADMIN), 201)
    return int(added["id"])


def new_sms(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, list[str]]:
    """Phone → the SMS bodies sent between two `sms_to` readings."""
    grown = {phone: bodies[len(before.get(phone, [])) :] for phone, bodies in after.items()}
    return {phone: bodies for phone, bodies in grown.items() if bodies}


def pending_ladder_steps(svc: Services, case_id: str) -> list[int]:
    with svc.uow() as uow:
        steps = uow.session.exec(
            select(Timer.step).where(
                Timer.case_id == case_id,
                Timer.purpose == TimerPurpose.LADDER,
                col(Timer.fired_at).is_(None),
                col(Timer.cancelled).is_(False),
            )
        ).all()
        return sorted(steps)


def test_operator_offers_a_care_case_nobody_took_to_newly_found_volunteers(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    case_id = file_case(api, elder, "care", "company for a walk")["id"]
    settle(alerts)  # nobody near: the operator is told at once
    assert any("no volunteer took it" in line for line in console_lines(svc, case_id))
    assert ok(offer(api, case_id), 202)["state"] == "escalated"  # asks nobody new either
    settle(alerts)
    assert sms_to(svc, case_id) == {}

    ann = add_volunteer(api, "Ann", ANN, km=0.5)
    bo = add_volunteer(api, "Bo", BO, km=1.0)
    clock.advance(minutes=5)
    body = {"need": "walk in the park after lunch", "skill": "walking"}
    assert offer(api, case_id, **body).status_code == 202
    settle(alerts)
    assert sms_to(svc, case_id) == {}  # nobody has the skill
    assert case_row(svc, case_id).state == "escalated"

    chen = add_volunteer(api, "Chen", CHEN, km=2.0, skills=["Walking"])
    body = {"need": "walk in the park after lunch", "skill": "walking"}
    assert ok(offer(api, case_id, **body), 202)["id"] == case_id
    settle(alerts)
    code = case_id.rsplit("-", 1)[1]
    assert sms_to(svc, case_id) == {
        CHEN: [
            f"Care task {code} near you (2.0 km): walk in the park after lunch. "
            f"Reply 1 {code} to take it, 2 {code} if you cannot."
        ]
    }
    assert case_row(svc, case_id).state == "dispatched"
    assert ("offers_requested", "walk in the park after lunch") in history(svc, case_id)
    assert task_states(api, case_id) == {chen: "offered"}

    running = offer(api, case_id)
    assert running.status_code == 409
    assert "being offered to volunteers already" in running.json()["detail"]

    chen_token = mint(api, "volunteer", "Chen", subject_id=chen)
    [task] = ok(api.get("/api/v1/tasks", headers=chen_token))
    ok(api.post(f"/api/v1/tasks/{task['id']}/accept", headers=chen_token))
    settle(alerts)
    assert task_states(api, case_id) == {chen: "accepted"}
    taken = offer(api, case_id)
    assert taken.status_code == 409
    assert f"volunteer:{chen}" in taken.json()["detail"]
    assert {ann, bo}.isdisjoint(task_states(api, case_id))


def test_operator_offers_answer_404_409_422_and_403_without_changing_anything(
    api: TestClient, svc: Services, alerts: AlertsComponent
) -> None:
    elder = add_elder(api)
    add_volunteer(api, "Ann", ANN, km=0.5)
    missing = offer(api, "C-19990101-9999")
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "case C-19990101-9999 not found"},
    )

    service = file_case(api, elder, "service", "fix the tap")["id"]
    wrong_kind = offer(api, service)
    assert wrong_kind.status_code == 409
    assert "only care cases go to volunteers" in wrong_kind.json()["detail"]

    care = file_case(api, elder, "care", "shopping")["id"]  # not settled: no offers yet
    too_long = offer(api, care, need="x" * 501)
    assert too_long.status_code == 422
    assert offer(api, care, skill="").status_code == 422
    for role, subject in (("caregiver", None), ("volunteer", 1), ("merchant", 1)):
        refused = offer(api, care, mint(api, role, "Someone", subject_id=subject))
        assert refused.status_code == 403, role
    settle(alerts)
    assert not any(action == "offers_requested" for action, _ in history(svc, care))
    assert not any(action == "offers_requested" for action, _ in history(svc, service))

    ok(api.post(f"/api/v1/cases/{care}/ack", headers=ADMIN))
    owned = offer(api, care)
    assert owned.status_code == 409
    assert "accepted by admin:admin" in owned.json()["detail"]


def test_reclassified_to_emergency_climbs_the_emergency_ladder_on_the_clock(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    add_son(api, elder)
    add_volunteer(api, "Ann", ANN, km=0.5)
    case_id = file_case(api, elder, "service", "says she fell")["id"]
    settle(alerts)
    assert sms_to(svc, case_id) == {}  # a service case only reaches the console

    clock.advance(seconds=30)
    assert reclassify(api, case_id, "emergency", "she fell")["kind"] == "emergency"
    settle(alerts)
    told = sms_to(svc, case_id)
    assert set(told) == {SON}  # step 0 of the emergency ladder, at once
    assert any(line.startswith("Emergency") for line in console_lines(svc, case_id))
    assert pending_ladder_steps(svc, case_id) == [1]

    clock.advance(seconds=119)
    settle(alerts)
    assert set(sms_to(svc, case_id)) == {SON}
    clock.advance(seconds=1)  # 2 minutes after the reclassification, not after the press
    settle(alerts)
    assert set(sms_to(svc, case_id)) == {SON, ANN}  # step 1: the nearest volunteers
    row = case_row(svc, case_id)
    assert (row.state, row.level) == ("escalated", 1)


def test_reclassified_emergency_to_care_stops_the_old_ladder_and_offers_to_volunteers(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    add_son(api, elder)
    ann = add_volunteer(api, "Ann", ANN, km=0.5)
    case_id = file_case(api, elder, "consult", "pressed the red button")["id"]
    reclassify(api, case_id, "emergency")
    settle(alerts)
    clock.advance(minutes=2)
    settle(alerts)  # step 1: the son again, and Ann as the nearest volunteer
    assert pending_ladder_steps(svc, case_id) == [2]
    emergency_sms = sms_to(svc, case_id)

    reclassify(api, case_id, "care", "only needs her shopping done")
    settle(alerts)
    assert pending_ladder_steps(svc, case_id) == []
    row = case_row(svc, case_id)
    assert (row.kind, row.state, row.level) == ("care", "dispatched", 0)
    assert task_states(api, case_id) == {ann: "offered"}

    clock.advance(minutes=5)  # when the emergency's supervisor step would have run
    settle(alerts)
    lines = console_lines(svc, case_id)
    assert not any("call 120" in line for line in lines)
    assert "+8613700000000" not in sms_to(svc, case_id)  # the supervisor is never called
    assert sms_to(svc, case_id)[SON] == [
        *emergency_sms[SON],
        f"Case {case_id} (Wang Fang) is now a care need, no longer an emergency. "
        "No longer needed from you: the centre is handling it.",
    ]
    # Ann hears of the change through ring 0's offer alone: one message for one change.
    [offered] = sms_to(svc, case_id)[ANN][len(emergency_sms[ANN]) :]
    assert offered.startswith(f"Care task {case_id.rsplit('-', 1)[1]} near you (0.5 km)")


def test_reclassified_care_to_emergency_withdraws_the_offers(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    add_son(api, elder)
    ann = add_volunteer(api, "Ann", ANN, km=0.5)
    case_id = file_case(api, elder, "care", "feels dizzy, wants company")["id"]
    settle(alerts)
    assert task_states(api, case_id) == {ann: "offered"}

    reclassify(api, case_id, "emergency", "dizzy and fell")
    settle(alerts)
    assert task_states(api, case_id) == {ann: "withdrawn"}
    assert set(sms_to(svc, case_id)) == {ANN, SON}  # the emergency's step 0 reached the son
    ann_token = mint(api, "volunteer", "Ann", subject_id=ann)
    [task] = ok(api.get("/api/v1/tasks", headers=ann_token))
    late = api.post(f"/api/v1/tasks/{task['id']}/accept", headers=ann_token)
    assert late.status_code == 409
    assert late.json()["detail"] == f"the offer of case {case_id} was withdrawn"
    assert case_row(svc, case_id).owner is None

    clock.advance(minutes=15)  # when the care ring would have widened
    settle(alerts)
    assert task_states(api, case_id) == {ann: "withdrawn"}


def test_reclassifying_an_owned_case_starts_no_ladder(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    add_son(api, elder)
    case_id = file_case(api, elder, "service", "tap leaks")["id"]
    ok(api.post(f"/api/v1/cases/{case_id}/ack", headers=ADMIN))
    reclassify(api, case_id, "emergency")
    settle(alerts)
    clock.advance(minutes=10)
    settle(alerts)
    assert sms_to(svc, case_id) == {}
    assert case_row(svc, case_id).state == "accepted"


@pytest.mark.parametrize("kind", ["care", "service"])
def test_reclassify_to_the_same_kind_is_409(
    api: TestClient, svc: Services, alerts: AlertsComponent, kind: str
) -> None:
    elder = add_elder(api)
    case_id = file_case(api, elder, kind)["id"]
    same = api.post(f"/api/v1/cases/{case_id}/reclassify", json={"kind": kind}, headers=ADMIN)
    assert same.status_code == 409


@pytest.mark.parametrize("path", ["event", "sweep_after_a_crash"])
def test_reclassified_care_to_emergency_tells_the_volunteers_offered_it_once(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock, path: str
) -> None:
    elder = add_elder(api)
    add_family(api, elder)
    add_volunteer(api, "Ann", ANN, km=0.5)
    add_volunteer(api, "Bo", BO, km=1.0)
    case_id = file_case(api, elder, "care", "feels dizzy, wants company")["id"]
    settle(alerts)
    offered = sms_to(svc, case_id)
    assert set(offered) == {ANN, BO}

    clock.advance(minutes=3)
    if path == "sweep_after_a_crash":
        alerts.detach()  # the process dies after the commit: alerts never hears of it
    reclassify(api, case_id, "emergency", "dizzy and fell")
    if path == "sweep_after_a_crash":
        alerts.run_pending()
        assert sms_to(svc, case_id) == offered
        # Reached before the new step 0, the notices wait for it: it knows whom it alerts.
        notices = {"case_id": case_id, "purpose": TimerPurpose.RECLASSIFIED, "step": None}
        assert not alerts.sweeper.fire(**notices, now=clock.now())
    settle(alerts)  # the event's fast path, or only the timer sweep

    notice = (
        f"Case {case_id} (Wang Fang) is now an emergency, no longer a care need. "
        "No longer needed from you: the centre is handling it. "
        "If you are with Wang Fang now, stay and call the centre."
    )
    told = new_sms(offered, sms_to(svc, case_id))
    assert told[ANN] == [notice]
    assert told[BO] == [notice]
    # The son hears it from the emergency's step 0 (SMS and call), not twice; the son
    # abroad is only kept informed and the daughter was never alerted.
    [alert] = told[SON]
    assert alert.startswith(f"EMERGENCY {case_id}: Wang Fang at 12 Bamboo Lane needs help.")
    assert set(told) == {ANN, BO, SON}
    lines = console_lines(svc, case_id)
    assert f"{case_id} is now emergency (was care): 2 people alerted before told by SMS" in lines

    # The event delivered again (a replay, or after the sweep did the work) writes nothing.
    written = len(messages(svc, case_id))
    alerts.handle(CaseReclassified(case_id, CaseKind.CARE, CaseKind.EMERGENCY, "admin", True))
    settle(alerts)
    assert len(messages(svc, case_id)) == written


def test_reclassifying_an_owned_case_tells_the_owner_it_is_still_theirs_and_the_rest_once(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = add_elder(api)
    daughter = add_family(api, elder)
    add_volunteer(api, "Ann", ANN, km=0.5)
    case_id = file_case(api, elder, "consult", "pressed the red button")["id"]
    reclassify(api, case_id, "emergency")  # nobody was alerted for the consultation
    settle(alerts)
    assert not any("was consult" in line for line in console_lines(svc, case_id))
    clock.advance(minutes=2)
    settle(alerts)  # step 1: the daughter and Ann, the nearest volunteer
    assert set(sms_to(svc, case_id)) == {SON, DAUGHTER, ANN}
    sms(api, SON, "1")
    settle(alerts)  # the daughter and Ann are told the son took it
    before = sms_to(svc, case_id)

    clock.advance(minutes=5)
    reclassify(api, case_id, "care", "she is fine, needs her shopping done")
    settle(alerts)

    told = new_sms(before, sms_to(svc, case_id))
    changed = f"Case {case_id} (Wang Fang) is now a care need, no longer an emergency."
    assert told == {
        SON: [f"{changed} It is still yours. Call the centre if you need help."],
        DAUGHTER: [f"{changed} No longer needed from you: Wang Jun (son) has it."],
        ANN: [f"{changed} No longer needed from you: Wang Jun (son) has it."],
    }
    row = case_row(svc, case_id)
    assert (row.kind, row.state, row.owner) == ("care", "accepted", f"contact:{daughter - 1}")
    assert pending_ladder_steps(svc, case_id) == []
    assert task_states(api, case_id) == {}  # an owned case is offered to nobody

    # Replayed, the event writes nothing; a second change is news again, but not for the
    # daughter once the family made her info-only (the store allows it; no API yet).
    written = len(messages(svc, case_id))
    alerts.handle(CaseReclassified(case_id, CaseKind.EMERGENCY, CaseKind.CARE, "admin", False))
    settle(alerts)
    assert len(messages(svc, case_id)) == written
    with svc.uow() as uow:
        contact = uow.session.get(Contact, daughter)
        assert contact is not None
        contact.notify_only = True
        uow.session.add(contact)
        uow.commit()
    before = sms_to(svc, case_id)
    reclassify(api, case_id, "emergency", "she fell after all")
    settle(alerts)
    told = new_sms(before, sms_to(svc, case_id))
    assert set(told) == {SON, ANN}
    assert told[SON] == [
        f"Case {case_id} (Wang Fang) is now an emergency, no longer a care need. "
        "It is still yours. Call 120 if Wang Fang needs an ambulance. "
        "Call the centre if you need help."
    ]
