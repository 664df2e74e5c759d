"""Bridged calls from a case: the real twilio client, a recording Twilio, signed webhooks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from httpx import Response
from sqlmodel import col, select
from twilio.request_validator import RequestValidator

from alerts import call_webhooks, webhooks
from alerts.runtime import AlertsComponent
from care_api.domain.model import Role
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.store.call_tables import CaseCall
from care_api.store.tables import CaseEvent, Contact
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.registry import create_elder
from care_api.usecases.people.tokens import mint_token
from care_api.usecases.schedules.rotas import add_shift
from tests.api.support import TestClient
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import outbox_alerts, press, seed_elder
from tests.twilio_server import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, RecordingTwilioServer

PUBLIC_URL = "https://vnh.example.org"
ELDER_PHONE = "+8613800000000"  # seed_elder's elder
OPERATOR_PHONE = "+8613700000001"
BRIDGE = "/webhooks/twilio/bridge"
CALL_ROUTERS = [webhooks.router, call_webhooks.router]  # state=alerts.app_state()


@pytest.fixture
def twilio() -> Iterator[RecordingTwilioServer]:
    with RecordingTwilioServer() as server:
        yield server


def _services(db_url: str, clock: FakeClock, **more: object) -> Services:
    return build_services(make_settings(db_url, **more), clock=clock)


@pytest.fixture
def svc(db_url: str, clock: FakeClock, twilio: RecordingTwilioServer) -> Iterator[Services]:
    services = _services(
        db_url,
        clock,
        twilio_account_sid=DEFAULT_ACCOUNT_SID,
        twilio_auth_token=DEFAULT_AUTH_TOKEN,
        twilio_from="+15005550006",
        twilio_api_url=twilio.base_url,
        public_url=PUBLIC_URL,
    )
    yield services
    services.close()


@pytest.fixture
def alerts(svc: Services) -> Iterator[AlertsComponent]:
    component = outbox_alerts(svc)
    yield component
    component.stop()


@pytest.fixture
def api(svc: Services, alerts: AlertsComponent) -> TestClient:
    app = create_app(svc, routers=CALL_ROUTERS, state=alerts.app_state())
    return TestClient(app)


def header(svc: Services, role: Role, name: str, **more: Any) -> dict[str, str]:
    with svc.uow() as uow:
        _, token = mint_token(uow.session, role=role, name=name, now=svc.clock.now(), **more)
        uow.commit()
    return {"Authorization": f"Bearer {token}"}


def on_rota(svc: Services, person: str, phone: str) -> None:
    now = svc.clock.now()
    with svc.uow() as uow:
        data = {
            "person": person,
            "role": "operator",
            "phone": phone,
            "start": now - timedelta(hours=1),
            "end": now + timedelta(hours=7),
        }
        add_shift(uow.session, data, by="admin:t", now=now)
        uow.commit()


def open_case(svc: Services, alerts: AlertsComponent) -> str:
    outcome = record_device_report(svc.uow, press(), now=svc.clock.now(), tz=svc.tz)
    assert outcome.case_id is not None
    alerts.run_pending()
    return outcome.case_id


def signed(
    api: TestClient, path: str, params: dict[str, str], *, token: str = DEFAULT_AUTH_TOKEN
) -> Response:
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, params)
    response: Response = api.post(path, data=params, headers={"X-Twilio-Signature": signature})
    return response


def history(svc: Services, case_id: str) -> list[str]:
    with svc.uow() as uow:
        rows = uow.session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.action == "call")
            .order_by(col(CaseEvent.id))
        ).all()
        return [r.why for r in rows]


def the_call(api: TestClient, case_id: str, who: dict[str, str]) -> dict[str, Any]:
    response = api.get(f"/api/v1/cases/{case_id}/calls", headers=who)
    assert response.status_code == 200, response.text
    calls: list[dict[str, Any]] = response.json()["calls"]
    return calls[0]


def test_call_rings_the_operator_on_the_rota_then_dials_the_elder_and_logs_it(
    svc: Services, alerts: AlertsComponent, api: TestClient, twilio: RecordingTwilioServer
) -> None:
    seed_elder(svc)
    case_id = open_case(svc, alerts)
    on_rota(svc, "Li Na", OPERATOR_PHONE)
    li_na = header(svc, Role.OPERATOR, "Li Na")

    asked = api.post(f"/api/v1/cases/{case_id}/calls", json={"to": "elder"}, headers=li_na)
    assert asked.status_code == 202, asked.text
    assert asked.json()["state"] == "requested"
    alerts.run_pending()  # the fast path places it

    [placed] = twilio.calls()
    assert placed.form["To"] == OPERATOR_PHONE  # the operator's own phone rings first
    call_id = asked.json()["id"]
    assert placed.form["Url"] == f"{PUBLIC_URL}{BRIDGE}?call={call_id}"
    assert placed.form["StatusCallback"] == f"{PUBLIC_URL}{BRIDGE}/status?call={call_id}"
    assert the_call(api, case_id, li_na)["state"] == "dialing"

    sid = _sid_of(svc, call_id)
    query = f"?call={call_id}"
    ringing = signed(api, f"{BRIDGE}/status{query}", {"CallSid": sid, "CallStatus": "ringing"})
    assert ringing.status_code == 200
    assert the_call(api, case_id, li_na)["state"] == "ringing"

    answered = signed(api, f"{BRIDGE}{query}", {"CallSid": sid, "CallStatus": "in-progress"})
    assert answered.status_code == 200, answered.text
    twiml = ET.fromstring(answered.text)
    assert twiml.findtext("Say") == "Connecting you to Wang Fang."
    assert twiml.findtext("Dial/Number") == ELDER_PHONE  # from the store
    assert the_call(api, case_id, li_na)["state"] == "connecting"

    dialed = {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "73"}
    assert signed(api, f"{BRIDGE}/dialed{query}", dialed).status_code == 200
    ended = {"CallSid": sid, "CallStatus": "completed", "CallDuration": "80"}
    assert signed(api, f"{BRIDGE}/status{query}", ended).status_code == 200

    call = the_call(api, case_id, li_na)
    assert (call["state"], call["party_outcome"], call["duration_s"]) == (
        "completed",
        "completed",
        73,
    )
    assert history(svc, case_id) == [
        "call to Wang Fang (elder) requested",
        "call to Wang Fang (elder): talked 73 s",
    ]
    # The end reported twice (Twilio retries) is on the history once.
    assert signed(api, f"{BRIDGE}/status{query}", ended).status_code == 200
    assert len(history(svc, case_id)) == 2


def _sid_of(svc: Services, call_id: int) -> str:
    with svc.uow() as uow:
        call = uow.session.get(CaseCall, call_id)
        assert call is not None and call.call_sid
        return call.call_sid


def test_a_contact_is_called_at_the_stored_number_from_the_phone_the_operator_gives(
    svc: Services, alerts: AlertsComponent, api: TestClient, twilio: RecordingTwilioServer
) -> None:
    elder_id, _ = seed_elder(svc)
    case_id = open_case(svc, alerts)
    with svc.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.elder_id == elder_id)).first()
        assert contact is not None
        key, contact_phone = f"contact:{contact.id}", contact.phone
    operator = header(svc, Role.OPERATOR, "Zhao Lei")

    body = {"to": key, "operator_phone": "+86 137 0000 0002"}
    asked = api.post(f"/api/v1/cases/{case_id}/calls", json=body, headers=operator)
    assert asked.status_code == 202, asked.text
    alerts.run_pending()

    assert [c.form["To"] for c in twilio.calls()] == ["+8613700000002"]
    sid = _sid_of(svc, asked.json()["id"])
    answered = signed(api, f"{BRIDGE}?call={asked.json()['id']}", {"CallSid": sid})
    assert ET.fromstring(answered.text).findtext("Dial/Number") == contact_phone
    # Next time the same operator needs no number: the last one they used rings.
    again = api.post(f"/api/v1/cases/{case_id}/calls", json={"to": "elder"}, headers=operator)
    assert again.status_code == 202, again.text
    alerts.run_pending()
    assert twilio.calls()[-1].form["To"] == "+8613700000002"


def test_the_party_must_be_someone_of_the_case_and_never_a_number(
    svc: Services, alerts: AlertsComponent, api: TestClient, twilio: RecordingTwilioServer
) -> None:
    seed_elder(svc)
    case_id = open_case(svc, alerts)
    with svc.uow() as uow:
        other = create_elder(
            uow.session, {"name": "Li Wei", "phone": "+8613800000099"}, svc.clock.now()
        )
        uow.commit()
        assert other.id is not None
    operator = header(svc, Role.OPERATOR, "Li Na")
    given = {"operator_phone": OPERATOR_PHONE}

    def ask(body: dict[str, Any]) -> int:
        url = f"/api/v1/cases/{case_id}/calls"
        return int(api.post(url, json={**given, **body}, headers=operator).status_code)

    assert ask({"to": "+8613900000099"}) == 422
    assert ask({"to": "elder", "phone": "+8613900000099"}) == 422  # no such field
    assert ask({"to": "contact:999"}) == 404
    assert ask({"to": "volunteer:1"}) == 404  # no volunteer was offered this case
    assert ask({"to": "merchant:1"}) == 404
    assert ask({"to": "elder", "operator_phone": "not a phone"}) == 422
    missing = api.post("/api/v1/cases/C-0/calls", json={"to": "elder", **given}, headers=operator)
    assert missing.status_code == 404
    # Without a phone given, on the rota, or used before, there is nothing to ring first.
    nobody = header(svc, Role.OPERATOR, "New Operator")
    first = api.post(f"/api/v1/cases/{case_id}/calls", json={"to": "elder"}, headers=nobody)
    assert first.status_code == 422
    assert "operator_phone" in first.json()["detail"]
    alerts.run_pending()
    assert twilio.calls() == []
    assert history(svc, case_id) == []


@pytest.mark.parametrize("role", [Role.CAREGIVER, Role.VOLUNTEER, Role.MERCHANT])
def test_only_staff_may_call_or_see_calls(
    svc: Services,
    alerts: AlertsComponent,
    api: TestClient,
    twilio: RecordingTwilioServer,
    role: Role,
) -> None:
    elder_id, _ = seed_elder(svc)
    case_id = open_case(svc, alerts)
    extra: dict[str, Any] = {"elder_ids": [elder_id]} if role is Role.CAREGIVER else {}
    who = header(svc, role, "Someone", **extra)
    body = {"to": "elder", "operator_phone": OPERATOR_PHONE}

    assert api.post(f"/api/v1/cases/{case_id}/calls", json=body, headers=who).status_code == 403
    assert api.post(f"/api/v1/cases/{case_id}/calls", json=body).status_code == 401
    assert api.get(f"/api/v1/cases/{case_id}/calls", headers=who).status_code == 403
    assert api.get("/api/v1/callbacks/due", headers=who).status_code == 403
    alerts.run_pending()
    assert twilio.calls() == []


def test_forged_or_foreign_bridge_webhooks_change_nothing(
    svc: Services, alerts: AlertsComponent, api: TestClient, twilio: RecordingTwilioServer
) -> None:
    seed_elder(svc)
    case_id = open_case(svc, alerts)
    operator = header(svc, Role.OPERATOR, "Li Na")
    body = {"to": "elder", "operator_phone": OPERATOR_PHONE}
    call_id = api.post(f"/api/v1/cases/{case_id}/calls", json=body, headers=operator).json()["id"]
    alerts.run_pending()
    sid = _sid_of(svc, call_id)
    ended = {"CallSid": sid, "CallStatus": "completed"}

    forged = signed(api, f"{BRIDGE}/status?call={call_id}", ended, token="not-the-token")
    unsigned = api.post(f"{BRIDGE}/status?call={call_id}", data=ended)
    other_sid = {"CallSid": "CA" + "f" * 32, "CallStatus": "completed"}
    foreign = signed(api, f"{BRIDGE}/status?call={call_id}", other_sid)
    bridge = signed(api, f"{BRIDGE}?call={call_id}", other_sid)
    bad_id = signed(api, f"{BRIDGE}/status?call=x", ended)

    assert [r.status_code for r in (forged, unsigned, foreign, bridge, bad_id)] == [
        403,
        403,
        409,
        409,
        422,
    ]
    assert the_call(api, case_id, operator)["state"] == "dialing"
    assert history(svc, case_id) == ["call to Wang Fang (elder) requested"]


def test_an_operator_phone_that_does_not_answer_is_on_the_history(
    svc: Services, alerts: AlertsComponent, api: TestClient
) -> None:
    seed_elder(svc)
    case_id = open_case(svc, alerts)
    operator = header(svc, Role.OPERATOR, "Li Na")
    body = {"to": "elder", "operator_phone": OPERATOR_PHONE}
    call_id = api.post(f"/api/v1/cases/{case_id}/calls", json=body, headers=operator).json()["id"]
    alerts.run_pending()
    ended = {"CallSid": _sid_of(svc, call_id), "CallStatus": "no-answer"}

    assert signed(api, f"{BRIDGE}/status?call={call_id}", ended).status_code == 200

    assert the_call(api, case_id, operator)["state"] == "no-answer"
    assert (
        history(svc, case_id)[-1]
        == "call to Wang Fang (elder): your phone did not answer (no-answer)"
    )


def test_twilio_refusing_the_call_marks_it_failed(
    svc: Services, alerts: AlertsComponent, api: TestClient, twilio: RecordingTwilioServer
) -> None:
    seed_elder(svc)
    case_id = open_case(svc, alerts)
    operator = header(svc, Role.OPERATOR, "Li Na")
    twilio.fail_next(status=400, code=21217, message="Phone number is not a valid phone number")
    body = {"to": "elder", "operator_phone": OPERATOR_PHONE}

    api.post(f"/api/v1/cases/{case_id}/calls", json=body, headers=operator)
    alerts.run_pending()

    call = the_call(api, case_id, operator)
    assert call["state"] == "failed"
    assert "not a valid phone number" in call["detail"]
    assert history(svc, case_id)[-1].startswith("call to Wang Fang (elder): your phone did not")


def test_without_twilio_the_call_is_kept_unplaced_and_the_console_dials_by_hand(
    db_url: str, clock: FakeClock
) -> None:
    svc = _services(db_url, clock)
    alerts = outbox_alerts(svc)
    try:
        api = TestClient(create_app(svc, routers=CALL_ROUTERS, state=alerts.app_state()))
        seed_elder(svc)
        case_id = open_case(svc, alerts)
        operator = header(svc, Role.OPERATOR, "Li Na")
        body = {"to": "elder", "operator_phone": OPERATOR_PHONE}

        assert (
            api.post(f"/api/v1/cases/{case_id}/calls", json=body, headers=operator).status_code
            == 202
        )
        alerts.run_pending()

        listed = api.get(f"/api/v1/cases/{case_id}/calls", headers=operator).json()
        assert listed["can_call"] is False
        assert listed["calls"][0]["state"] == "unplaced"
        assert history(svc, case_id)[-1].startswith("call to Wang Fang (elder): not placed")
    finally:
        alerts.stop()
        svc.close()


def test_a_call_asked_for_while_the_service_was_down_is_not_placed_late(
    svc: Services,
    alerts: AlertsComponent,
    api: TestClient,
    twilio: RecordingTwilioServer,
    clock: FakeClock,
) -> None:
    seed_elder(svc)
    case_id = open_case(svc, alerts)
    alerts.detach()  # the engine is down: nobody places it
    operator = header(svc, Role.OPERATOR, "Li Na")
    body = {"to": "elder", "operator_phone": OPERATOR_PHONE}
    api.post(f"/api/v1/cases/{case_id}/calls", json=body, headers=operator)
    clock.advance(minutes=10)

    alerts.tick()

    assert twilio.calls() == []
    assert the_call(api, case_id, operator)["state"] == "unplaced"


def test_an_operator_sets_their_own_phone_through_the_api_and_it_rings_first(
    svc: Services, alerts: AlertsComponent, api: TestClient, twilio: RecordingTwilioServer
) -> None:
    seed_elder(svc)
    case_id = open_case(svc, alerts)
    on_rota(svc, "Li Na", OPERATOR_PHONE)  # the rota's phone loses to the one she sets
    li_na = header(svc, Role.OPERATOR, "Li Na")
    assert api.get("/api/v1/me/phone", headers=li_na).json() == {"phone": None}

    bad = api.put("/api/v1/me/phone", json={"phone": "12"}, headers=li_na)
    assert bad.status_code == 422
    set_ = api.put("/api/v1/me/phone", json={"phone": "13700000077"}, headers=li_na)
    assert set_.status_code == 200, set_.text
    assert set_.json() == {"phone": "+8613700000077"}
    assert api.get("/api/v1/me/phone", headers=li_na).json() == {"phone": "+8613700000077"}

    # Family and volunteers have no bridged calls: they may not set or read one.
    family = header(svc, Role.CAREGIVER, "Wang Wei")
    assert (
        api.put("/api/v1/me/phone", json={"phone": "+8613700000078"}, headers=family).status_code
        == 403
    )

    asked = api.post(f"/api/v1/cases/{case_id}/calls", json={"to": "elder"}, headers=li_na)
    assert asked.status_code == 202, asked.text
    alerts.run_pending()
    [placed] = twilio.calls()
    assert placed.form["To"] == "+8613700000077"

    forgot = api.put("/api/v1/me/phone", json={"phone": None}, headers=li_na)
    assert forgot.json() == {"phone": None}
