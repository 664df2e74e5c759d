"""The hotline from outside: signed calls and texts to the centre's number, as Twilio posts them.

Twilio's signatures are made with the real twilio RequestValidator; the service's own
answers (TwiML) are read as Twilio would read them. Time moves on an injected clock.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from httpx import Response
from sqlmodel import col, select
from twilio.request_validator import RequestValidator

from alerts import webhooks
from alerts.ladder import spoken
from alerts.runtime import AlertsComponent
from care_api.domain.model import Role
from care_api.http.app import create_app
from care_api.http.case_stream import CaseStream
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.tables import Case, CaseEvent, Elder, HotlineCall, Notification
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.tokens import mint_token
from care_api.usecases.schedules.rotas import add_shift
from tests.api.support import TestClient
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import outbox_alerts, press, seed_elder
from tests.twilio_server import RecordingTwilioServer

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_URL = "https://vnh.example.org"
ELDER_PHONE = "+8613800000000"  # seed_elder's elder
CONTACT_PHONE = "+8613900000000"  # seed_elder's first contact
STRANGER_PHONE = "+8613311112222"
OPERATOR_PHONES = ["+8613700000001", "+8613700000002"]
CENTRE = "+8657912345"
VOICE = "/webhooks/twilio/voice"

_sids = itertools.count(1)


def hotline_settings(db_url: str, **more: object) -> Settings:
    return make_settings(
        db_url,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from="+15005550006",
        public_url=PUBLIC_URL,
        **more,
    )


@pytest.fixture
def svc(db_url: str, clock: FakeClock) -> Iterator[Services]:
    services = build_services(hotline_settings(db_url, twilio_voice_zh="Polly.Zhiyu"), clock=clock)
    yield services
    services.close()


@pytest.fixture
def alerts(svc: Services) -> Iterator[AlertsComponent]:
    component = outbox_alerts(svc)
    yield component
    component.stop()


@pytest.fixture
def client(svc: Services) -> Iterator[TestClient]:
    stream = CaseStream(svc.bus)
    app = create_app(svc, routers=[webhooks.router], stream=stream)
    with TestClient(app) as test_client:
        yield test_client
    stream.close()


def post(
    client: TestClient, path: str, params: dict[str, str], *, token: str = AUTH_TOKEN
) -> Response:
    signature: str = RequestValidator(token).compute_signature(PUBLIC_URL + path, params)
    response: Response = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    return response


def new_sid() -> str:
    return f"CA{next(_sids):032d}"


def call_in(client: TestClient, phone: str, sid: str | None = None) -> tuple[str, ET.Element]:
    """Twilio's first request for a call to the centre: its sid and our TwiML."""
    sid = sid or new_sid()
    params = {"CallSid": sid, "From": phone, "To": CENTRE, "Direction": "inbound"}
    response = post(client, VOICE, params)
    assert response.status_code == 200, response.text
    return sid, ET.fromstring(response.text)


def follow(client: TestClient, url: str, sid: str, **more: str) -> ET.Element:
    """Twilio posting to an action URL of our TwiML."""
    assert url.startswith(PUBLIC_URL), url
    params = {"CallSid": sid, "Direction": "inbound", **more}
    response = post(client, url.removeprefix(PUBLIC_URL), params)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text)


def put_operators_on_duty(svc: Services, phones: list[str] = OPERATOR_PHONES) -> None:
    now = svc.clock.now()
    with svc.uow() as uow:
        for i, phone in enumerate(phones):
            data: dict[str, Any] = {
                "person": f"Operator {i + 1}",
                "role": "operator",
                "phone": phone,
                "start": now - timedelta(hours=1),
                "end": now + timedelta(hours=7),
            }
            add_shift(uow.session, data, by="admin", now=now)
        uow.commit()


def said(twiml: ET.Element) -> str:
    return " ".join(s.text or "" for s in twiml.iter("Say"))


def dialled(twiml: ET.Element) -> list[str]:
    dial = twiml.find("Dial")
    assert dial is not None, ET.tostring(twiml)
    return [n.text or "" for n in dial.iter("Number")]


def cases_of(svc: Services, elder_id: int) -> list[Case]:
    with svc.uow() as uow:
        found = list(
            uow.session.exec(
                select(Case).where(Case.elder_id == elder_id).order_by(col(Case.opened_at))
            ).all()
        )
        uow.session.expunge_all()
        return found


def history(svc: Services, case_id: str) -> list[tuple[str, str, str]]:
    with svc.uow() as uow:
        events = uow.session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
        ).all()
        return [(e.action, e.by, e.why) for e in events]


def calls(svc: Services) -> list[HotlineCall]:
    with svc.uow() as uow:
        found = list(uow.session.exec(select(HotlineCall).order_by(col(HotlineCall.id))).all())
        uow.session.expunge_all()
        return found


def notes(svc: Services) -> list[Notification]:
    with svc.uow() as uow:
        found = list(uow.session.exec(select(Notification).order_by(col(Notification.id))).all())
        uow.session.expunge_all()
        return found


def staff_headers(svc: Services) -> dict[str, str]:
    with svc.uow() as uow:
        _, token = mint_token(uow.session, role=Role.OPERATOR, name="Li Na", now=svc.clock.now())
        uow.commit()
    return {"Authorization": f"Bearer {token}"}


# -- an elder calls ------------------------------------------------------------------------


def test_elder_pressing_1_opens_an_emergency_like_a_long_press_and_rings_the_operators(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    put_operators_on_duty(svc)

    sid, menu = call_in(client, ELDER_PHONE)

    gather = menu.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1" and gather.get("actionOnEmptyResult") == "true"
    assert gather.get("action") == f"{PUBLIC_URL}{VOICE}/menu"
    assert "Hello Wang Fang" in said(menu) and "press 1" in said(menu)
    assert "For an operator press 0" in said(menu)
    assert cases_of(svc, elder_id) == []  # the menu alone opens nothing

    after = follow(client, gather.get("action", ""), sid, Digits="1")

    assert "We have your emergency call" in said(after)
    assert dialled(after) == OPERATOR_PHONES
    dial = after.find("Dial")
    assert dial is not None and dial.get("action") == f"{PUBLIC_URL}{VOICE}/dialed"
    [case] = cases_of(svc, elder_id)
    assert (case.kind, case.line, case.state) == ("emergency", "emergency", "open")
    assert history(svc, case.id)[0] == ("opened", f"phone:{ELDER_PHONE}", "phone call, key 1")
    # The same ladder as a press: step 0 pages the family at once.
    alerts.run_pending()
    paged = [(n.channel, n.to) for n in notes(svc) if n.case_id == case.id]
    assert ("sms", CONTACT_PHONE) in paged and ("voice", CONTACT_PHONE) in paged
    assert calls(svc)[0].case_id == case.id and calls(svc)[0].status == "dialing"


def test_elder_pressing_nothing_joins_the_emergency_already_running(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    put_operators_on_duty(svc)
    pressed = record_device_report(svc.uow, press("T1001"), now=svc.clock.now(), tz=svc.tz)
    alerts.run_pending()

    sid, menu = call_in(client, ELDER_PHONE)
    gather = menu.find("Gather")
    assert gather is not None
    after = follow(client, gather.get("action", ""), sid)  # the Gather timed out: no Digits

    assert "We have your emergency call" in said(after) and dialled(after) == OPERATOR_PHONES
    [case] = cases_of(svc, elder_id)
    assert case.id == pressed.case_id
    assert history(svc, case.id)[-1] == (
        "pressed_again",
        f"phone:{ELDER_PHONE}",
        "phone call, no key",
    )


def test_elder_key_2_opens_a_life_care_case(svc: Services, client: TestClient) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    put_operators_on_duty(svc)
    sid, _ = call_in(client, ELDER_PHONE)

    after = follow(client, f"{PUBLIC_URL}{VOICE}/menu", sid, Digits="2")

    assert "life care" in said(after)
    [case] = cases_of(svc, elder_id)
    assert (case.kind, case.line) == ("service", "life_care")


def test_a_chinese_elder_hears_the_menu_in_chinese_with_the_configured_voice(
    svc: Services, client: TestClient
) -> None:
    seed_elder(svc, contacts=1, language="zh-CN")
    put_operators_on_duty(svc)

    sid, menu = call_in(client, ELDER_PHONE)

    say = menu.find("Gather/Say")
    assert say is not None
    assert (say.get("language"), say.get("voice")) == ("zh-CN", "Polly.Zhiyu")
    assert "紧急求助请按1" in (say.text or "")
    after = follow(client, f"{PUBLIC_URL}{VOICE}/menu", sid, Digits="1")
    assert "话务员" in said(after)


def test_a_call_from_the_terminals_sim_is_the_elders_call(
    svc: Services, client: TestClient
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    put_operators_on_duty(svc)
    staff = staff_headers(svc)
    bad = client.patch("/api/v1/devices/T1001", json={"sim_phone": "12"}, headers=staff)
    assert bad.status_code == 422
    sim = client.patch("/api/v1/devices/T1001", json={"sim_phone": "147 0000 0001"}, headers=staff)
    assert sim.status_code == 200 and sim.json()["sim_phone"] == "+8614700000001"

    sid, menu = call_in(client, "+8614700000001")

    assert "Hello Wang Fang" in said(menu)
    follow(client, f"{PUBLIC_URL}{VOICE}/menu", sid, Digits="1")
    [case] = cases_of(svc, elder_id)
    assert case.kind == "emergency"


# -- strangers, contacts, and nobody on duty -------------------------------------------------


def test_a_stranger_reaches_the_operators_and_a_consult_case_with_their_number(
    svc: Services, client: TestClient
) -> None:
    put_operators_on_duty(svc)

    _, twiml = call_in(client, STRANGER_PHONE)

    assert dialled(twiml) == OPERATOR_PHONES
    assert twiml.find("Hangup") is None
    with svc.uow() as uow:
        elder = uow.session.exec(select(Elder).where(Elder.phone == STRANGER_PHONE)).one()
        assert elder.id is not None
        elder_id = elder.id
    [case] = cases_of(svc, elder_id)
    assert (case.kind, case.state) == ("consult", "open")
    assert calls(svc)[0].caller == "stranger"

    # Calling again: the same record and case, still straight to the operators.
    _, again = call_in(client, STRANGER_PHONE)
    assert dialled(again) == OPERATOR_PHONES and len(cases_of(svc, elder_id)) == 1


def test_callers_with_a_withheld_number_share_one_record(svc: Services, client: TestClient) -> None:
    put_operators_on_duty(svc)

    for _ in range(3):
        _, twiml = call_in(client, "anonymous")
        assert dialled(twiml) == OPERATOR_PHONES

    assert len({c.elder_id for c in calls(svc)}) == 1


def test_with_no_operator_on_the_rota_the_caller_is_told_and_the_call_is_missed(
    svc: Services, client: TestClient, clock: FakeClock
) -> None:
    _, twiml = call_in(client, STRANGER_PHONE)

    assert "will call you back within 5 minutes" in said(twiml)
    assert twiml.find("Dial") is None
    [call] = calls(svc)
    assert call.status == "missed" and call.callback_due_at == clock.now() + timedelta(minutes=5)


def test_a_contact_calling_hears_the_case_and_takes_it_by_key(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    put_operators_on_duty(svc)
    record_device_report(svc.uow, press("T1001"), now=svc.clock.now(), tz=svc.tz)
    alerts.run_pending()

    sid, twiml = call_in(client, CONTACT_PHONE)

    gather = twiml.find("Gather")
    assert gather is not None and "Wang Fang" in said(twiml) and "Press 1" in said(twiml)
    redirect = twiml.find("Redirect")  # no key: on to the operators
    assert redirect is not None and redirect.text == f"{PUBLIC_URL}{VOICE}/dialed"
    taken = follow(client, gather.get("action", ""), sid, Digits="1")
    [case] = cases_of(svc, elder_id)
    assert said(taken).startswith(
        spoken(f"You have case {case.id}")
    )  # the code read digit by digit
    assert case.state == "accepted" and case.owner is not None


# -- missed calls ------------------------------------------------------------------------------


def test_an_unanswered_dial_is_a_missed_call_on_the_board_chased_after_5_minutes(
    svc: Services, alerts: AlertsComponent, client: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=1)
    put_operators_on_duty(svc)
    staff = staff_headers(svc)
    sid, _ = call_in(client, ELDER_PHONE)
    follow(client, f"{PUBLIC_URL}{VOICE}/menu", sid, Digits="0")

    busy = follow(client, f"{PUBLIC_URL}{VOICE}/dialed", sid, DialCallStatus="no-answer")

    assert "will call you back within 5 minutes" in said(busy)
    board = client.get("/api/v1/console/board", headers=staff).json()
    [missed] = board["missed_calls"]
    assert missed["phone"] == ELDER_PHONE and missed["caller"] == "elder"
    due = clock.now() + timedelta(minutes=5)
    assert missed["callback_due_at"] == due.isoformat()
    console = [n.body for n in notes(svc) if n.channel == "console"]
    assert any(b.startswith(f"Missed call from {ELDER_PHONE} (Wang Fang)") for b in console)

    clock.advance(minutes=4, seconds=59)
    alerts.tick()
    assert not any("OVERDUE" in n.body for n in notes(svc))
    clock.advance(seconds=1)
    alerts.tick()
    overdue = [n.body for n in notes(svc) if "OVERDUE" in n.body]
    assert overdue == [
        f"OVERDUE: the missed call from {ELDER_PHONE} (Wang Fang) at 16:00 was not called "
        "back within 5 minutes."
    ]
    [late] = client.get("/api/v1/hotline/missed-calls", headers=staff).json()
    assert late["overdue"] is True

    clock.advance(minutes=1)
    done = client.post(
        f"/api/v1/hotline/calls/{late['id']}/called-back", json={"note": "fine"}, headers=staff
    )
    assert done.status_code == 200 and done.json()["called_back_by"].endswith("Li Na")
    assert client.get("/api/v1/hotline/missed-calls", headers=staff).json() == []
    again = client.post(f"/api/v1/hotline/calls/{late['id']}/called-back", json={}, headers=staff)
    assert again.status_code == 409
    kpi = client.get("/api/v1/reports/kpi", headers=staff).json()["hotline"]
    assert (kpi["calls"], kpi["missed"], kpi["called_back"]) == (1, 1, 1)
    assert kpi["called_back_in_time"] == 0 and kpi["callback_in_time_rate"] == 0.0


def test_a_callback_within_5_minutes_counts_in_time_and_an_answered_call_is_answered(
    svc: Services, client: TestClient, clock: FakeClock
) -> None:
    put_operators_on_duty(svc)
    staff = staff_headers(svc)
    first, _ = call_in(client, STRANGER_PHONE)
    follow(client, f"{PUBLIC_URL}{VOICE}/dialed", first, DialCallStatus="busy")
    second, _ = call_in(client, "+8613311113333")
    follow(client, f"{PUBLIC_URL}{VOICE}/dialed", second, DialCallStatus="completed")
    [missed] = client.get("/api/v1/hotline/missed-calls", headers=staff).json()
    clock.advance(minutes=3)

    client.post(f"/api/v1/hotline/calls/{missed['id']}/called-back", json={}, headers=staff)

    kpi = client.get("/api/v1/reports/kpi", headers=staff).json()["hotline"]
    assert (kpi["calls"], kpi["answered"], kpi["missed"]) == (2, 1, 1)
    assert (kpi["answer_rate"], kpi["callback_in_time_rate"]) == (0.5, 1.0)


def test_a_caller_hanging_up_in_the_queue_is_a_missed_call(
    svc: Services, client: TestClient
) -> None:
    put_operators_on_duty(svc)
    sid, _ = call_in(client, STRANGER_PHONE)

    status = post(client, "/webhooks/twilio/status", {"CallSid": sid, "CallStatus": "completed"})

    assert status.status_code == 200
    [call] = calls(svc)
    assert call.status == "missed" and call.callback_due_at is not None


def test_missed_calls_are_for_staff_only(svc: Services, client: TestClient) -> None:
    with svc.uow() as uow:
        _, volunteer = mint_token(uow.session, role=Role.VOLUNTEER, name="V", now=svc.clock.now())
        uow.commit()
    headers = {"Authorization": f"Bearer {volunteer}"}
    assert client.get("/api/v1/hotline/missed-calls", headers=headers).status_code == 403
    refused = client.post("/api/v1/hotline/calls/1/called-back", json={}, headers=headers)
    assert refused.status_code == 403


# -- texts in --------------------------------------------------------------------------------


def sms_in(client: TestClient, phone: str, body: str) -> str:
    params = {"From": phone, "To": CENTRE, "Body": body, "MessageSid": f"SM{next(_sids):032d}"}
    response = post(client, "/webhooks/twilio/sms", params)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text).findtext("Message") or ""


def test_an_sms_from_an_elder_opens_a_case_with_the_text_and_joins_it_next_time(
    svc: Services, client: TestClient
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)

    reply = sms_in(client, ELDER_PHONE, "My heater is broken, please send someone")

    [case] = cases_of(svc, elder_id)
    assert reply.startswith(f"Your message reached the care centre (case {case.id})")
    assert case.kind == "consult" and "heater" in case.summary
    # The operator reads the text as the case's title, in the console's language.
    for language, title in (("zh-CN", "短信：My heater"), ("en", "SMS: My heater")):
        headers = {**staff_headers(svc), "Accept-Language": language}
        shown = client.get(f"/api/v1/cases/{case.id}", headers=headers).json()
        assert shown["summary"].startswith(title)
    assert ("sms", f"phone:{ELDER_PHONE}", "My heater is broken, please send someone") in (
        history(svc, case.id)
    )
    sms_in(client, ELDER_PHONE, "It is cold")
    assert len(cases_of(svc, elder_id)) == 1
    assert history(svc, case.id)[-1][2] == "It is cold"


def test_an_sms_from_an_unknown_number_is_no_longer_refused(
    svc: Services, client: TestClient
) -> None:
    reply = sms_in(client, STRANGER_PHONE, "Is there a care home near Jinhua?")

    assert "not on the centre's alert list" not in reply
    [call] = calls(svc)
    assert call.channel == "sms" and call.case_id is not None


# -- forged and replayed ---------------------------------------------------------------------


def test_a_forged_or_replayed_inbound_call_changes_nothing(
    svc: Services, client: TestClient
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    put_operators_on_duty(svc)
    params = {"CallSid": new_sid(), "From": ELDER_PHONE, "Direction": "inbound"}

    forged = post(client, VOICE, params, token="not-the-auth-token")
    unsigned = client.post(VOICE, data=params)

    assert [forged.status_code, unsigned.status_code] == [403, 403]
    assert calls(svc) == []

    sid, _ = call_in(client, ELDER_PHONE)
    assert post(client, VOICE, {**params, "CallSid": sid}).status_code == 409
    key = {"CallSid": sid, "Direction": "inbound", "Digits": "1"}
    assert post(client, f"{VOICE}/menu", key).status_code == 200
    assert post(client, f"{VOICE}/menu", key).status_code == 409
    assert post(client, f"{VOICE}/menu", key, token="forged").status_code == 403
    assert len(calls(svc)) == 1 and len(cases_of(svc, elder_id)) == 1
    dialed = {"CallSid": sid, "DialCallStatus": "no-answer"}
    assert post(client, f"{VOICE}/dialed", dialed).status_code == 200
    assert post(client, f"{VOICE}/dialed", dialed).status_code == 409
    assert sum(1 for n in notes(svc) if n.body.startswith("Missed call")) == 1


def test_the_real_twilio_client_places_nothing_for_an_inbound_call(
    db_url: str, clock: FakeClock
) -> None:
    """With the real twilio client pointed at the stand-in: an elder's call pages the family."""
    with RecordingTwilioServer(ACCOUNT_SID, AUTH_TOKEN) as server:
        services = build_services(
            hotline_settings(db_url, twilio_api_url=server.base_url), clock=clock
        )
        component = AlertsComponent(services.settings, services)
        component.attach()
        try:
            seed_elder(services, contacts=1)
            put_operators_on_duty(services)
            with TestClient(create_app(services, routers=[webhooks.router])) as client:
                sid, _ = call_in(client, ELDER_PHONE)
                follow(client, f"{PUBLIC_URL}{VOICE}/menu", sid, Digits="1")
                component.run_pending()
            placed = [c.form["To"] for c in server.calls()]
            texted = [m.form["To"] for m in server.messages()]
            assert placed == [CONTACT_PHONE] and texted == [CONTACT_PHONE]
        finally:
            component.stop()
            services.close()


def test_a_missed_call_is_pushed_to_the_live_console_stream_at_once(
    svc: Services, client: TestClient
) -> None:
    stream = CaseStream(svc.bus)
    loop = asyncio.new_event_loop()
    try:
        console = stream.connect(loop)
        _, twiml = call_in(client, STRANGER_PHONE)  # nobody on the rota: missed at once
        assert twiml.find("Dial") is None
        [call] = calls(svc)
        frames = console.take()
        news = [json.loads(f.split("data: ", 1)[1]) for f in frames if "missed_call" in f]
        assert news == [
            {"case_id": call.case_id or "", "change": "missed_call", "call_id": call.id}
        ]
    finally:
        stream.close()
        loop.close()
