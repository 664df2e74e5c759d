"""The operator's desk over HTTP: notes, outcome codes, procedures, handover, countdown, map."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from care_api.domain.model import TimerPurpose
from care_api.services import Services
from care_api.store.desk_tables import CaseOutcome
from care_api.store.tables import Timer, Volunteer
from care_api.usecases.cases.desk import outcome_counts
from tests.api.support import ADMIN, TestClient, mint
from tests.api.test_cases_api import open_case
from tests.fakes import FakeClock
from tests.helpers import seed_elder


@pytest.fixture
def emergency(services: Services) -> tuple[int, str]:
    elder_id, _ = seed_elder(services, "T1001", lat=29.08, lon=119.65)
    return elder_id, open_case(services, "T1001", pattern="long")


def test_desk_note_and_call_attempt_keep_the_state_and_name_the_writer(
    api: TestClient, emergency: tuple[int, str]
) -> None:
    _, case_id = emergency
    operator = mint(api, "operator", "Li Na")
    before = api.get(f"/api/v1/cases/{case_id}", headers=operator).json()
    made = api.post(
        f"/api/v1/cases/{case_id}/notes",
        json={"kind": "call_attempt", "text": "No answer at 02:10, rang 8 times"},
        headers=operator,
    )
    assert made.status_code == 201, made.text
    assert made.json()["who"] == {"role": "operator", "name": "Li Na", "detail": ""}
    api.post(
        f"/api/v1/cases/{case_id}/notes", json={"text": "Elder says she slipped"}, headers=operator
    )
    after = api.get(f"/api/v1/cases/{case_id}", headers=operator).json()
    assert after["state"] == before["state"] == "open"
    notes = [(e["action"], e["why"], e["who"]["name"]) for e in after["events"][-2:]]
    assert notes == [
        ("call_attempt", "No answer at 02:10, rang 8 times", "Li Na"),
        ("note", "Elder says she slipped", "Li Na"),
    ]
    # The device that opened the case is named as a terminal, not a bare key.
    assert after["events"][0]["who"] == {"role": "device", "name": "T1001", "detail": ""}


def test_desk_notes_refused_to_caregivers_and_empty_text(
    api: TestClient, emergency: tuple[int, str]
) -> None:
    elder_id, case_id = emergency
    caregiver = mint(api, "caregiver", "Son", elder_ids=[elder_id])
    refused = api.post(f"/api/v1/cases/{case_id}/notes", json={"text": "hi"}, headers=caregiver)
    assert refused.status_code == 403
    blank = api.post(f"/api/v1/cases/{case_id}/notes", json={"text": "   "}, headers=ADMIN)
    assert blank.status_code == 422
    events = api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()["events"]
    assert [e["action"] for e in events] == ["opened"]


def test_desk_outcome_required_code_is_recorded_and_counted(
    api: TestClient, services: Services, emergency: tuple[int, str]
) -> None:
    _, case_id = emergency
    codes = api.get("/api/v1/outcome-codes", headers=ADMIN).json()
    assert "false_alarm" in [c["code"] for c in codes]
    assert {"zh-CN", "en"} <= set(codes[0]["labels"])
    api.post(f"/api/v1/cases/{case_id}/ack", headers=ADMIN)
    bad = api.post(f"/api/v1/cases/{case_id}/resolve", json={"outcome": "nonsense"}, headers=ADMIN)
    assert bad.status_code == 422
    assert api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()["state"] == "accepted"
    ok = api.post(
        f"/api/v1/cases/{case_id}/resolve",
        json={"outcome": "fall_no_injury", "note": "helped up"},
        headers=ADMIN,
    )
    assert ok.status_code == 200, ok.text
    detail = api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()
    assert detail["outcome"]["code"] == "fall_no_injury"
    # The KPI route lives on the console router (tested in the browser); its count here.
    now = services.clock.now()
    with services.uow() as uow:
        assert uow.session.exec(select(CaseOutcome.code)).all() == ["fall_no_injury"]
        counts = outcome_counts(uow.session, now - timedelta(days=1), now + timedelta(days=1))
        assert counts == {"fall_no_injury": 1}
        assert outcome_counts(uow.session, now - timedelta(days=1), now, drill=True) == {}


def test_desk_admin_alone_edits_outcome_codes(api: TestClient) -> None:
    operator = mint(api, "operator", "Op")
    codes = [
        {"code": "false_alarm", "labels": {"en": "False alarm", "zh-CN": "误报"}},
        {"code": "fire", "labels": {"en": "Fire brigade called", "zh-CN": "已报火警"}},
    ]
    assert api.put("/api/v1/outcome-codes", json=codes, headers=operator).status_code == 403
    saved = api.put("/api/v1/outcome-codes", json=codes, headers=ADMIN)
    assert saved.status_code == 200, saved.text
    assert [c["code"] for c in api.get("/api/v1/outcome-codes", headers=operator).json()] == [
        "false_alarm",
        "fire",
    ]
    twice = api.put("/api/v1/outcome-codes", json=codes + codes[:1], headers=ADMIN)
    assert twice.status_code == 422
    bad_lang = [{"code": "x", "labels": {"fr": "Non"}}]
    assert api.put("/api/v1/outcome-codes", json=bad_lang, headers=ADMIN).status_code == 422
    assert len(api.get("/api/v1/outcome-codes", headers=ADMIN).json()) == 2
    assert api.delete("/api/v1/outcome-codes", headers=operator).status_code == 403
    assert len(api.delete("/api/v1/outcome-codes", headers=ADMIN).json()) == 7


def test_desk_procedure_ticks_go_to_the_history_once(
    api: TestClient, emergency: tuple[int, str]
) -> None:
    _, case_id = emergency
    operator = mint(api, "operator", "Li Na")
    script = api.get(f"/api/v1/cases/{case_id}", headers=operator).json()["script"]
    assert [s["id"] for s in script["steps"]][:3] == ["call_elder", "call_contact_1", "call_120"]
    assert not any(s["done"] for s in script["steps"])
    for _ in range(2):  # a double click ticks once
        ticked = api.post(f"/api/v1/cases/{case_id}/script/call_elder", headers=operator)
        assert ticked.status_code == 200, ticked.text
    assert [s["done"] for s in ticked.json()["steps"]][:2] == [True, False]
    events = api.get(f"/api/v1/cases/{case_id}", headers=operator).json()["events"]
    ticks = [e for e in events if e["action"] == "script_step"]
    assert len(ticks) == 1 and ticks[0]["why"].startswith("[call_elder] ")
    unknown = api.post(f"/api/v1/cases/{case_id}/script/call_mars", headers=operator)
    assert unknown.status_code == 422


def test_desk_admin_alone_edits_procedures_per_kind_and_line(
    api: TestClient, emergency: tuple[int, str]
) -> None:
    _, case_id = emergency
    operator = mint(api, "operator", "Op")
    body = {
        "line": "emergency",
        "steps": [
            {"id": "call_elder", "labels": {"en": "Call the elder", "zh-CN": "致电老人"}},
            {"id": "call_120", "labels": {"en": "Call 120", "zh-CN": "拨打120"}},
        ],
    }
    assert api.put("/api/v1/scripts/emergency", json=body, headers=operator).status_code == 403
    saved = api.put("/api/v1/scripts/emergency", json=body, headers=ADMIN)
    assert saved.status_code == 200, saved.text
    read = api.get("/api/v1/scripts/emergency?line=emergency", headers=operator).json()
    assert (read["default"], read["line"]) == (False, "emergency")
    case_script = api.get(f"/api/v1/cases/{case_id}", headers=operator).json()["script"]
    assert [s["id"] for s in case_script["steps"]] == ["call_elder", "call_120"]
    care = api.get("/api/v1/scripts/care", headers=operator).json()
    assert care["default"] is True
    bad = {"steps": [{"id": "Bad Id", "labels": {"en": "x"}}]}
    assert api.put("/api/v1/scripts/emergency", json=bad, headers=ADMIN).status_code == 422
    reset = api.delete("/api/v1/scripts/emergency?line=emergency", headers=ADMIN).json()
    assert reset["default"] is True


def test_desk_countdown_names_who_the_next_step_reaches(
    api: TestClient, services: Services, clock: FakeClock, emergency: tuple[int, str]
) -> None:
    _, case_id = emergency
    now = clock.now()
    with services.uow() as uow:  # step 0 ran: step 1 is due in 2 minutes, as alerts plans it
        for timer in uow.session.exec(select(Timer).where(Timer.case_id == case_id)).all():
            timer.fired_at = now
            uow.session.add(timer)
        due = now + timedelta(seconds=120)
        uow.session.add(
            Timer(case_id=case_id, purpose=TimerPurpose.LADDER, step=1, due_at=due, created_at=now)
        )
        uow.commit()
    nxt = api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()["next_escalation"]
    assert nxt["step"] == 1
    assert nxt["due_at"] == due.isoformat()
    by_audience = {r["audience"]: r for r in nxt["reaches"]}
    assert by_audience["contacts_rest"]["names"] == ["Contact 2"]
    assert by_audience["volunteers_nearest"]["limit"] == 5
    api.post(f"/api/v1/cases/{case_id}/ack", headers=ADMIN)
    taken = api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()
    assert taken["next_escalation"] is None
    assert taken["owner_who"]["role"] == "admin"


def test_desk_handover_notes_on_the_board_for_staff_only(api: TestClient, clock: FakeClock) -> None:
    night = mint(api, "operator", "Zhang Wei")
    made = api.post(
        "/api/v1/handover", json={"text": "Wang Fang's terminal battery low"}, headers=night
    )
    assert made.status_code == 201, made.text
    clock.advance(minutes=5)
    api.post("/api/v1/handover", json={"text": "Room 3 called twice"}, headers=night)
    notes = api.get("/api/v1/handover", headers=ADMIN).json()
    assert [n["text"] for n in notes] == ["Room 3 called twice", "Wang Fang's terminal battery low"]
    assert notes[0]["who"] == {"role": "operator", "name": "Zhang Wei", "detail": ""}
    caregiver = mint(api, "caregiver", "Son")
    assert api.get("/api/v1/handover", headers=caregiver).status_code == 403
    assert api.post("/api/v1/handover", json={"text": "x"}, headers=caregiver).status_code == 403
    clock.advance(hours=25)
    assert api.get("/api/v1/handover", headers=ADMIN).json() == []


def test_desk_contacts_edit_and_remove(api: TestClient, emergency: tuple[int, str]) -> None:
    elder_id, _ = emergency
    contacts = api.get(f"/api/v1/elders/{elder_id}/contacts", headers=ADMIN).json()
    first = contacts[0]["id"]
    patched = api.patch(
        f"/api/v1/elders/{elder_id}/contacts/{first}",
        json={"name": "Wang Jun", "relation": "son", "phone": "13912345678"},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["phone"]) == ("Wang Jun", "+8613912345678")
    caregiver = mint(api, "caregiver", "Son", elder_ids=[elder_id])
    assert (
        api.delete(f"/api/v1/elders/{elder_id}/contacts/{first}", headers=caregiver).status_code
        == 403
    )
    assert (
        api.delete(f"/api/v1/elders/{elder_id}/contacts/{first}", headers=ADMIN).status_code == 204
    )
    assert (
        api.delete(f"/api/v1/elders/{elder_id}/contacts/{first}", headers=ADMIN).status_code == 404
    )
    left = api.get(f"/api/v1/elders/{elder_id}/contacts", headers=ADMIN).json()
    assert [c["name"] for c in left] == ["Contact 2"]


def test_desk_map_shows_home_responders_and_watch(
    api: TestClient, services: Services, emergency: tuple[int, str]
) -> None:
    elder_id, _ = emergency
    with services.uow() as uow:
        uow.session.add(
            Volunteer(
                name="Near Zhou",
                phone="+8613700000001",
                lat=29.09,
                lon=119.65,
                created_at=services.clock.now(),
            )
        )
        uow.session.add(
            Volunteer(
                name="Far Qian",
                phone="+8613700000002",
                lat=30.5,
                lon=120.0,
                created_at=services.clock.now(),
            )
        )
        uow.commit()
    shown = api.get(f"/api/v1/elders/{elder_id}/map", headers=ADMIN).json()
    assert shown["tiles"] is None
    assert shown["home"] == {"lat": 29.08, "lon": 119.65, "at": None}
    assert [(r["name"], r["role"]) for r in shown["responders"]] == [("Near Zhou", "volunteer")]
    assert 1.0 < shown["responders"][0]["distance_km"] < 1.2
    caregiver = mint(api, "caregiver", "Son", elder_ids=[elder_id])
    assert api.get(f"/api/v1/elders/{elder_id}/map", headers=caregiver).status_code == 403


def test_desk_case_names_the_people_its_lines_mention(
    api: TestClient, emergency: tuple[int, str]
) -> None:
    elder_id, case_id = emergency
    first = api.get(f"/api/v1/elders/{elder_id}/contacts", headers=ADMIN).json()[0]
    api.patch(
        f"/api/v1/elders/{elder_id}/contacts/{first['id']}", json={"relation": "son"}, headers=ADMIN
    )
    api.post(
        f"/api/v1/cases/{case_id}/notes",
        json={"text": f"rang contact:{first['id']}"},
        headers=ADMIN,
    )
    people = api.get(f"/api/v1/cases/{case_id}", headers=ADMIN).json()["people"]
    assert people[f"contact:{first['id']}"] == {
        "role": "contact",
        "name": "Contact 1",
        "detail": "son",
    }
    # A caregiver reads the names of who acted, not those a line only mentions.
    caregiver = mint(api, "caregiver", "Son", elder_ids=[elder_id])
    theirs = api.get(f"/api/v1/cases/{case_id}", headers=caregiver).json()["people"]
    assert f"contact:{first['id']}" not in theirs


def test_desk_page_policy_allows_only_the_configured_tile_host() -> None:
    from care_api.http.models.desk import tile_origin
    from care_api.http.routes.console import PAGE_HEADERS, page_headers

    assert page_headers(None) == PAGE_HEADERS
    policy = page_headers("https://tiles.example.org/{z}/{x}/{y}.png")["Content-Security-Policy"]
    assert "img-src 'self' data: https://tiles.example.org;" in policy
    assert "connect-src 'self';" in policy  # the tiles are images only
    assert tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png") == (
        "https://*.tile.example.org"
    )
    # Anything but an http(s) URL with a host is no tile source: the map draws without it.
    for bad in ("javascript:alert(1)/{z}", "//evil/{z}", "https://a b/{z}", "data:x/{z}"):
        assert tile_origin(bad) is None
        assert page_headers(bad) == PAGE_HEADERS
