"""Twilio webhooks over a real database: signed SMS replies, voice prompts, status callbacks."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from httpx import Response
from sqlmodel import col, select
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from alerts import webhooks
from alerts.ladder import spoken as for_voice
from alerts.runtime import AlertsComponent
from care_api.domain.model import DeviceReport, EventKey, ReportType, TimerPurpose
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.tables import Case, CaseEvent, Contact, Notification, Timer
from care_api.throttle import FREE_FAILURES
from care_api.usecases.cases.log import LOOP_ON_SITE
from care_api.usecases.dispatch.volunteers import create_volunteer
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.registry import add_contact
from tests.api.support import TestClient
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import add_morning_check_in, outbox_alerts, press, seed_elder
from tests.twilio_server import RecordingTwilioServer
from vnh import cli

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_URL = "https://vnh.example.org"
FIRST_PHONE = "+8613900000000"  # seed_elder's first contact
SECOND_PHONE = "+8613900000001"


def twilio_settings(db_url: str, **more: object) -> Settings:
    return make_settings(
        db_url,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from="+15005550006",
        **more,
    )


@pytest.fixture
def svc(db_url: str, clock: FakeClock) -> Iterator[Services]:
    services = build_services(twilio_settings(db_url, public_url=PUBLIC_URL), clock=clock)
    yield services
    services.close()


@pytest.fixture
def alerts(svc: Services) -> Iterator[AlertsComponent]:
    component = outbox_alerts(svc)
    yield component
    component.stop()


@pytest.fixture
def client(svc: Services) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.services = svc  # what the webhooks' dependencies read
    app.include_router(webhooks.router)
    with TestClient(app) as test_client:
        yield test_client


def post(
    client: TestClient,
    path: str,
    params: dict[str, str],
    *,
    base: str = PUBLIC_URL,
    token: str = AUTH_TOKEN,
) -> Response:
    signature: str = RequestValidator(token).compute_signature(base + path, params)
    response: Response = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    return response


_message_sids = itertools.count(1)


def sms(client: TestClient, phone: str, body: str) -> str:
    # Twilio names every message it posts: a fresh MessageSid each, as a real reply has.
    params = {
        "From": phone,
        "Body": body,
        "To": "+1500",
        "MessageSid": f"SM{next(_message_sids):032d}",
    }
    response = post(client, "/webhooks/twilio/sms", params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    message = ET.fromstring(response.text).find("Message")
    assert message is not None and message.text
    return message.text


def open_emergency(svc: Services, alerts: AlertsComponent, device_id: str = "T1001") -> str:
    outcome = record_device_report(svc.uow, press(device_id), now=svc.clock.now(), tz=svc.tz)
    assert outcome.case_id is not None
    alerts.run_pending()
    return outcome.case_id


def case_row(svc: Services, case_id: str) -> Case:
    with svc.uow() as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        uow.session.expunge(case)
        return case


def contact_key(svc: Services, phone: str) -> str:
    with svc.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.phone == phone)).first()
        assert contact is not None
        return f"contact:{contact.id}"


def rows(svc: Services, case_id: str) -> list[Notification]:
    with svc.uow() as uow:
        found = list(
            uow.session.exec(
                select(Notification)
                .where(Notification.case_id == case_id)
                .order_by(col(Notification.id))
            ).all()
        )
        uow.session.expunge_all()
        return found


def test_sms_reply_1_with_valid_signature_acknowledges_the_case(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=2)
    case_id = open_emergency(svc, alerts)

    answer = sms(client, FIRST_PHONE, "1")

    assert answer.startswith(f"You have case {case_id}: Wang Fang, 12 Bamboo Lane")
    case = case_row(svc, case_id)
    assert (case.state, case.owner) == ("accepted", contact_key(svc, FIRST_PHONE))
    alerts.run_pending()
    assert rows(svc, case_id)[-1].body.startswith(f"{case_id} taken by Contact 1")


def history(svc: Services, case_id: str) -> list[tuple[str, str]]:
    with svc.uow() as uow:
        events = uow.session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
        ).all()
        return [(e.action, e.by) for e in events]


def test_sms_forged_signature_is_refused_and_changes_nothing(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=2)
    case_id = open_emergency(svc, alerts)
    before = history(svc, case_id)
    params = {"From": FIRST_PHONE, "Body": "1"}

    forged = post(client, "/webhooks/twilio/sms", params, token="not-the-auth-token")
    unsigned = client.post("/webhooks/twilio/sms", data=params)
    wrong_url = post(client, "/webhooks/twilio/sms", params, base="https://evil.example.org")

    assert [r.status_code for r in (forged, unsigned, wrong_url)] == [403, 403, 403]
    assert forged.json() == {"detail": "invalid Twilio signature"}
    case = case_row(svc, case_id)
    assert (case.state, case.owner) == ("dispatched", None)
    assert history(svc, case_id) == before


def test_sms_reply_after_someone_else_took_it_says_who(
    svc: Services, alerts: AlertsComponent, client: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    case_id = open_emergency(svc, alerts)
    clock.advance(minutes=2)
    alerts.tick()  # step 1: the second contact is alerted too
    alerts.run_pending()

    assert sms(client, SECOND_PHONE, "yes").startswith(f"You have case {case_id}")
    late = sms(client, FIRST_PHONE, "好")

    assert late == f"Case {case_id} is already taken by Contact 2, thank you."
    assert case_row(svc, case_id).owner == contact_key(svc, SECOND_PHONE)


def test_sms_reply_with_a_code_picks_among_several_cases(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    # The first contact is the daughter of two elders, alerted for both.
    seed_elder(svc, "T1001", contacts=1)
    other_elder, _ = seed_elder(svc, "T2002", contacts=0, name="Li Ming")
    with svc.uow() as uow:
        add_contact(uow.session, other_elder, {"name": "Daughter", "phone": FIRST_PHONE})
        uow.commit()
    first = open_emergency(svc, alerts, "T1001")
    second = open_emergency(svc, alerts, "T2002")

    ask = sms(client, FIRST_PHONE, "1")
    assert ask == (
        "You have 2 cases waiting for an answer. Reply 1 and the number: "
        "0002 emergency 16:00 (Li Ming), 0001 emergency 16:00 (Wang Fang)."
    )

    assert sms(client, FIRST_PHONE, "1 0002").startswith(f"You have case {second}: Li Ming")
    assert case_row(svc, second).state == "accepted"
    assert case_row(svc, first).state == "dispatched"
    assert sms(client, FIRST_PHONE, "YES 9999").startswith("No open case 9999 was sent to you")


def test_sms_bare_1_ignores_a_battery_notice_that_asked_nothing(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    battery = DeviceReport(EventKey("T1001", 7, 40), ReportType.BATTERY, {"level": 9})
    notice = record_device_report(svc.uow, battery, now=svc.clock.now(), tz=svc.tz).case_id
    assert notice is not None
    alerts.run_pending()
    assert any(n.recipient == contact_key(svc, FIRST_PHONE) for n in rows(svc, notice))
    case_id = open_emergency(svc, alerts)

    assert sms(client, FIRST_PHONE, "1").startswith(f"You have case {case_id}: Wang Fang")
    assert case_row(svc, case_id).owner == contact_key(svc, FIRST_PHONE)
    assert case_row(svc, notice).owner is None


def test_sms_late_1_of_a_volunteer_says_who_took_it_and_takes_no_older_case(
    svc: Services, alerts: AlertsComponent, client: TestClient, clock: FakeClock
) -> None:
    near = {"lat": 29.08, "lon": 119.65}
    seed_elder(svc, "T1001", contacts=1, **near)
    li_ming, _ = seed_elder(svc, "T2002", contacts=0, name="Li Ming", **near)
    with svc.uow() as uow:
        add_contact(uow.session, li_ming, {"name": "Son", "phone": "+8613911112222"})
        volunteer = {"name": "Ann Liu", "phone": "+8613100000001", "lat": 29.081, "lon": 119.65}
        create_volunteer(uow.session, volunteer, clock.now())
        uow.commit()
    older = open_emergency(svc, alerts, "T1001")
    clock.advance(minutes=2)
    alerts.tick()  # step 1 of the older emergency: the nearest volunteers
    alerts.run_pending()
    newer = open_emergency(svc, alerts, "T2002")
    clock.advance(minutes=2)
    alerts.tick()  # step 1 of the newer one: the volunteer is asked again, for Li Ming
    alerts.run_pending()
    assert {n.case_id for n in rows_of_all(svc) if n.to == "+8613100000001"} == {older, newer}
    assert sms(client, "+8613911112222", "1").startswith(f"You have case {newer}")
    before = (history(svc, older), case_row(svc, older).state)

    late = sms(client, "+8613100000001", "1")

    assert late == (
        f"Case {newer} is already taken by Son, thank you. Nothing else was changed. "
        "Still waiting for an answer: 0001 emergency 16:00 (Wang Fang); "
        "reply 1 and the number to take one."
    )
    assert case_row(svc, older).owner is None
    assert (history(svc, older), case_row(svc, older).state) == before
    assert sms(client, "+8613100000001", "1 0001").startswith(f"You have case {older}")


def test_sms_decline_and_nonsense_and_strangers_get_clear_answers(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    case_id = open_emergency(svc, alerts)

    assert (
        sms(client, FIRST_PHONE, "2") == f"Thank you; we will ask someone else for case {case_id}."
    )
    assert sms(client, FIRST_PHONE, "what?").startswith("Sorry, we did not understand")
    # A stranger's text is no answer to an alert: it goes into a case of its own.
    assert sms(client, "+8613311112222", "1").startswith("Your message reached the care centre")
    with svc.uow() as uow:
        declined = uow.session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "declined")
        ).all()
        assert [d.by for d in declined] == [contact_key(svc, FIRST_PHONE)]
    assert case_row(svc, case_id).state == "dispatched"


def test_sms_from_a_foreign_number_sharing_the_last_11_digits_takes_nothing(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    # +1 390 000 0001 ends in the same 11 digits as the second contact, +86 139 0000 0001.
    seed_elder(svc, contacts=2)
    case_id = open_emergency(svc, alerts)
    before = history(svc, case_id)

    answer = sms(client, "+13900000001", "1")

    assert answer.startswith("Your message reached the care centre (case ")
    assert case_id not in answer  # its own case, a consultation, not the elder's emergency
    assert "Wang Fang" not in answer and "Bamboo" not in answer
    case = case_row(svc, case_id)
    assert (case.state, case.owner) == ("dispatched", None)
    assert history(svc, case_id) == before


def test_sms_from_the_contacts_number_in_any_spelling_is_them(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    with svc.uow() as uow:  # typed as a local number: stored in E.164
        add_contact(uow.session, elder_id, {"name": "Son", "phone": "139 1111 2222"})
        uow.commit()
    case_id = open_emergency(svc, alerts)

    assert sms(client, "+86 139-1111-2222", "1").startswith(f"You have case {case_id}")
    assert case_row(svc, case_id).owner == contact_key(svc, "+8613911112222")


def test_sms_replayed_1_is_refused_and_takes_no_newer_case(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    # The first contact is the daughter of two elders; her "1" for the first is captured.
    seed_elder(svc, "T1001", contacts=1)
    other_elder, _ = seed_elder(svc, "T2002", contacts=0, name="Li Ming")
    with svc.uow() as uow:
        add_contact(uow.session, other_elder, {"name": "Daughter", "phone": FIRST_PHONE})
        uow.commit()
    first = open_emergency(svc, alerts, "T1001")
    captured = {"From": FIRST_PHONE, "Body": "1", "To": "+1500", "MessageSid": "SM" + "a" * 32}
    assert post(client, "/webhooks/twilio/sms", captured).status_code == 200
    assert case_row(svc, first).state == "accepted"
    newer = open_emergency(svc, alerts, "T2002")
    before = history(svc, newer)

    replayed = post(client, "/webhooks/twilio/sms", captured)

    assert replayed.status_code == 409
    assert replayed.json() == {"detail": "this webhook was already received; nothing was changed"}
    assert "Li Ming" not in replayed.text
    case = case_row(svc, newer)
    assert (case.state, case.owner) == ("dispatched", None)
    assert history(svc, newer) == before


def test_voice_replayed_key_press_is_refused_and_changes_nothing(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    case_id = open_emergency(svc, alerts)
    call = voice_to(svc, case_id, contact_key(svc, FIRST_PHONE))
    _, action = call_prompt(client, call)
    press_2 = {"Digits": "2", "CallSid": call.provider_id or ""}
    assert spoken(post(client, action, press_2)).startswith("Thank you; we will ask someone else")
    before = history(svc, case_id)

    replayed = post(client, action, press_2)

    assert replayed.status_code == 409
    assert history(svc, case_id) == before  # one refusal on the record, not two
    # The call's own key press on another case (a newer alert) answers nothing either.
    other_elder, _ = seed_elder(svc, "T2002", contacts=0, name="Li Ming")
    with svc.uow() as uow:
        add_contact(uow.session, other_elder, {"name": "Daughter", "phone": FIRST_PHONE})
        uow.commit()
    newer = open_emergency(svc, alerts, "T2002")
    elsewhere = action.replace(case_id, newer)
    assert (
        post(client, elsewhere, {"Digits": "1", "CallSid": call.provider_id or ""}).status_code
        == 409
    )
    assert case_row(svc, newer).state == "dispatched"


def test_voice_prompt_says_name_and_address_and_gathers_one_digit(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    case_id = open_emergency(svc, alerts)
    call = next(n for n in rows(svc, case_id) if n.channel == "voice")

    response = post(
        client,
        "/webhooks/twilio/voice",
        {"CallSid": call.provider_id or "", "To": FIRST_PHONE, "Direction": "outbound-api"},
    )

    assert response.status_code == 200
    twiml = ET.fromstring(response.text)
    gather = twiml.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    said = gather.findtext("Say") or ""
    assert "Wang Fang" in said and "12 Bamboo Lane" in said and "Press 1" in said
    action = urlsplit(gather.get("action", ""))
    assert f"{action.scheme}://{action.netloc}" == PUBLIC_URL
    assert action.path == "/webhooks/twilio/voice/answer"
    assert parse_qs(action.query) == {"case": [case_id], "who": [call.recipient]}


def test_voice_prompt_for_a_call_back_finds_the_callers_case(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    open_emergency(svc, alerts)
    params = {"CallSid": "CA" + "1" * 32, "From": FIRST_PHONE, "Direction": "inbound"}
    response = post(client, "/webhooks/twilio/voice", params)
    assert "Wang Fang" in response.text and "<Gather" in response.text
    params.update(From="+8613311112222", CallSid="CA" + "4" * 32)
    stranger = post(client, "/webhooks/twilio/voice", params)
    # A stranger is not hung up on: the hotline's greeting, and the operators (none on duty).
    assert "care centre's hotline" in stranger.text and "<Gather" not in stranger.text


def test_voice_answer_1_acknowledges_and_says_so(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    case_id = open_emergency(svc, alerts)
    who = contact_key(svc, FIRST_PHONE)
    path = f"/webhooks/twilio/voice/answer?case={case_id}&who={who}"

    response = post(client, path, {"Digits": "1", "CallSid": "CA" + "2" * 32})

    assert response.status_code == 200
    said = ET.fromstring(response.text).findtext("Say") or ""
    assert f"You have case {for_voice(case_id)}" in said
    case = case_row(svc, case_id)
    assert (case.state, case.owner) == ("accepted", who)
    history = rows(svc, case_id)
    assert history  # the alert rows are still there, nothing was resent


def test_status_callback_updates_the_notification_row(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    case_id = open_emergency(svc, alerts)
    text, call = (n for n in rows(svc, case_id) if n.channel != "console")
    status = "/webhooks/twilio/status"

    post(client, status, {"MessageSid": text.provider_id or "", "MessageStatus": "delivered"})
    post(client, status, {"MessageSid": text.provider_id or "", "MessageStatus": "sent"})  # late
    post(client, status, {"CallSid": call.provider_id or "", "CallStatus": "no-answer"})
    unknown = post(client, status, {"MessageSid": "SM" + "9" * 32, "MessageStatus": "failed"})

    assert unknown.status_code == 200
    text, call = (n for n in rows(svc, case_id) if n.channel != "console")
    assert (text.status, text.detail) == ("delivered", "twilio sent")
    assert (call.status, call.detail) == ("unanswered", "twilio no-answer")


def test_webhooks_answer_404_without_twilio(db_url: str, clock: FakeClock) -> None:
    services = build_services(make_settings(db_url), clock=clock)
    app = FastAPI()
    app.state.services = services
    app.include_router(webhooks.router)
    try:
        with TestClient(app) as client:
            for path in ("sms", "voice", "voice/answer", "status"):
                assert client.post(f"/webhooks/twilio/{path}", data={}).status_code == 404
    finally:
        services.close()


def test_webhooks_without_public_url_trust_no_host_header(db_url: str, clock: FakeClock) -> None:
    # An attacker signs for whatever Host they send; with no public URL nothing is accepted.
    services = build_services(twilio_settings(db_url), clock=clock)
    app = FastAPI()
    app.state.services = services
    app.include_router(webhooks.router)
    try:
        with TestClient(app) as client:
            params = {"From": FIRST_PHONE, "Body": "1"}
            for base in ("http://testserver", PUBLIC_URL):
                response = post(client, "/webhooks/twilio/sms", params, base=base)
                assert response.status_code == 404, response.text
    finally:
        services.close()


class _NeverRun:
    started = False

    def run(self) -> None:
        _NeverRun.started = True


@pytest.mark.parametrize("public_url", [None, "vnh.example.org", "ftp://vnh.example.org"])
def test_vnh_serve_refuses_twilio_without_a_public_url(
    db_url: str, monkeypatch: pytest.MonkeyPatch, public_url: str | None
) -> None:
    for name, value in {
        "VNH_DATABASE_URL": db_url,
        "VNH_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "VNH_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "VNH_TWILIO_FROM": "+15005550006",
    }.items():
        monkeypatch.setenv(name, value)
    if public_url is None:
        monkeypatch.delenv("VNH_PUBLIC_URL", raising=False)
    else:
        monkeypatch.setenv("VNH_PUBLIC_URL", public_url)
    monkeypatch.setattr(cli, "http_server", lambda *_: _NeverRun())
    _NeverRun.started = False
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 2, result.output
    assert "VNH_PUBLIC_URL" in result.output
    assert not _NeverRun.started
    # The same set-up with the public URL starts.
    monkeypatch.setenv("VNH_PUBLIC_URL", PUBLIC_URL)
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 0, result.output
    assert _NeverRun.started


def test_a_check_in_call_to_the_elder_speaks_and_gathers_nothing(
    svc: Services, alerts: AlertsComponent, client: TestClient, clock: FakeClock
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1)
    add_morning_check_in(svc, elder_id, clock.now())
    clock.advance(hours=19)  # 16:00 → 11:00 the next day in Shanghai: the window was missed
    alerts.tick()
    alerts.run_pending()
    call = next(n for n in rows_of_all(svc) if n.recipient == f"elder:{elder_id}")
    response = post(
        client,
        "/webhooks/twilio/voice",
        {"CallSid": call.provider_id or "", "To": call.to, "Direction": "outbound-api"},
    )
    assert "<Gather" not in response.text
    assert "We did not hear from you between 08:00 and 10:00" in response.text


def rows_of_all(svc: Services) -> list[Notification]:
    with svc.uow() as uow:
        found = list(uow.session.exec(select(Notification).order_by(col(Notification.id))).all())
        uow.session.expunge_all()
        return found


# -- "press 3": the owner of a case says they are with the elder ------------------------------


def call_prompt(client: TestClient, call: Notification) -> tuple[str, str]:
    """Twilio fetching the prompt of a call we placed: what it says, and where the key goes."""
    params = {"CallSid": call.provider_id or "", "To": call.to, "Direction": "outbound-api"}
    response = post(client, "/webhooks/twilio/voice", params)
    assert response.status_code == 200, response.text
    gather = ET.fromstring(response.text).find("Gather")
    assert gather is not None, response.text
    action = gather.get("action", "")
    assert action.startswith(PUBLIC_URL)
    return gather.findtext("Say") or "", action.removeprefix(PUBLIC_URL)


def press_key(client: TestClient, action: str, digit: str, *, token: str = AUTH_TOKEN) -> Response:
    return post(client, action, {"Digits": digit, "CallSid": "CA" + "3" * 32}, token=token)


def spoken(response: Response) -> str:
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text).findtext("Say") or ""


def voice_to(svc: Services, case_id: str, recipient: str) -> Notification:
    """The newest call placed to `recipient` about the case."""
    return [n for n in rows(svc, case_id) if n.channel == "voice" and n.recipient == recipient][-1]


def taken_by_phone(
    svc: Services, alerts: AlertsComponent, client: TestClient, clock: FakeClock
) -> tuple[str, str]:
    """An emergency the first contact took by pressing 1, and 30 minutes on: not on site."""
    case_id = open_emergency(svc, alerts)
    owner = contact_key(svc, FIRST_PHONE)
    said, action = call_prompt(client, voice_to(svc, case_id, owner))
    assert "Press 1" in said
    assert spoken(press_key(client, action, "1")).startswith(f"You have case {for_voice(case_id)}")
    alerts.run_pending()
    alerts.tick()  # the closed loop is armed
    clock.advance(minutes=30)
    alerts.tick()
    alerts.run_pending()
    assert any(a == "on_site_overdue" for a, _ in history(svc, case_id))
    return case_id, owner


def on_site_checks_pending(svc: Services, case_id: str) -> int:
    with svc.uow() as uow:
        return len(
            uow.session.exec(
                select(Timer).where(
                    Timer.case_id == case_id,
                    Timer.purpose == TimerPurpose.LOOP,
                    Timer.step == LOOP_ON_SITE,
                    col(Timer.fired_at).is_(None),
                    col(Timer.cancelled).is_(False),
                )
            ).all()
        )


def test_voice_the_owner_presses_3_on_the_closed_loops_call_and_is_on_site(
    svc: Services, client: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    with RecordingTwilioServer(ACCOUNT_SID, AUTH_TOKEN) as server:
        svc.settings.twilio_api_url = server.base_url  # the real twilio client, to our server
        component = AlertsComponent(svc.settings, svc)
        component.attach()
        try:
            case_id, owner = taken_by_phone(svc, component, client, clock)
            chase = voice_to(svc, case_id, owner)
            assert chase.status == "sent" and (chase.provider_id or "").startswith("CA")
            placed = [c for c in server.calls() if c.form["To"] == FIRST_PHONE]
            assert len(placed) == 2  # the alert, then the closed loop's "are you there?"
            assert placed[-1].form["Url"] == f"{PUBLIC_URL}/webhooks/twilio/voice"

            said, action = call_prompt(client, chase)
            assert "You took the case of Wang Fang" in said
            assert "Press 3 when you are with Wang Fang" in said and "Press 1" not in said
            assert parse_qs(urlsplit(action).query) == {"case": [case_id], "who": [owner]}
            answer = spoken(press_key(client, action, "3"))
            assert answer == (
                f"Thank you: you are with the elder for case {for_voice(case_id)}. "
                "Resolve it when done. Goodbye."
            )

            case = case_row(svc, case_id)
            assert case.state == "on_site"
            with svc.uow() as uow:
                arrived = uow.session.exec(
                    select(CaseEvent).where(
                        CaseEvent.case_id == case_id, CaseEvent.to_state == "on_site"
                    )
                ).one()
                assert (arrived.by, arrived.why, arrived.at) == (owner, "on site", clock.now())
            # The loop stops chasing: no re-alert, no new "on site" check, however long.
            told = len(rows(svc, case_id))
            clock.advance(minutes=45)
            component.tick()
            component.run_pending()
            assert len(rows(svc, case_id)) == told
            assert [a for a, _ in history(svc, case_id)].count("on_site_overdue") == 1
            assert on_site_checks_pending(svc, case_id) == 0
        finally:
            component.stop()


def test_voice_3_from_someone_who_does_not_own_the_case_is_refused_and_changes_nothing(
    svc: Services, alerts: AlertsComponent, client: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    case_id, owner = taken_by_phone(svc, alerts, client, clock)
    # The loop re-alerted the second contact; they press 3 on that call.
    son = contact_key(svc, SECOND_PHONE)
    said, action = call_prompt(client, voice_to(svc, case_id, son))
    assert "Press 3" not in said
    before = (history(svc, case_id), len(rows(svc, case_id)), on_site_checks_pending(svc, case_id))

    answer = spoken(press_key(client, action, "3"))

    assert answer == (
        f"Case {for_voice(case_id)} was taken by Contact 1; only they can confirm they are "
        "with the elder. Nothing was changed. Goodbye."
    )
    case = case_row(svc, case_id)
    assert (case.state, case.owner) == ("accepted", owner)
    alerts.run_pending()
    after = (history(svc, case_id), len(rows(svc, case_id)), on_site_checks_pending(svc, case_id))
    assert after == before


def test_voice_3_before_anyone_took_the_case_confirms_nothing(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    case_id = open_emergency(svc, alerts)
    call = voice_to(svc, case_id, contact_key(svc, FIRST_PHONE))
    _, action = call_prompt(client, call)
    assert spoken(press_key(client, action, "3")).startswith(
        f"Nobody has taken case {for_voice(case_id)} yet, so there is nothing to confirm."
    )
    assert case_row(svc, case_id).state == "dispatched"


def test_voice_3_with_a_forged_signature_is_refused_and_changes_nothing(
    svc: Services, alerts: AlertsComponent, client: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    case_id, owner = taken_by_phone(svc, alerts, client, clock)
    _, action = call_prompt(client, voice_to(svc, case_id, owner))
    before = history(svc, case_id)

    forged = press_key(client, action, "3", token="not-the-auth-token")
    unsigned = client.post(action, data={"Digits": "3"})

    assert [r.status_code for r in (forged, unsigned)] == [403, 403]
    assert forged.json() == {"detail": "invalid Twilio signature"}
    assert case_row(svc, case_id).state == "accepted"
    assert history(svc, case_id) == before


def test_voice_the_owner_calling_back_is_asked_for_3(
    svc: Services, alerts: AlertsComponent, client: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=1)
    case_id, owner = taken_by_phone(svc, alerts, client, clock)
    params = {"CallSid": "CA" + "4" * 32, "From": FIRST_PHONE, "Direction": "inbound"}
    gather = ET.fromstring(post(client, "/webhooks/twilio/voice", params).text).find("Gather")
    assert gather is not None
    assert "Press 3 when you are with Wang Fang" in (gather.findtext("Say") or "")
    action = gather.get("action", "")
    assert parse_qs(urlsplit(action).query) == {"case": [case_id], "who": [owner]}

    answer = spoken(press_key(client, action.removeprefix(PUBLIC_URL), "3"))
    assert answer.startswith(f"Thank you: you are with the elder for case {for_voice(case_id)}")
    assert case_row(svc, case_id).state == "on_site"
    # The loop's call answered only now: it says there is nothing more to press.
    late = post(
        client,
        "/webhooks/twilio/voice",
        {
            "CallSid": voice_to(svc, case_id, owner).provider_id or "",
            "To": FIRST_PHONE,
            "Direction": "outbound-api",
        },
    )
    assert "<Gather" not in late.text
    with_her = f"You are with Wang Fang for case {for_voice(case_id)}. Resolve it when done."
    assert with_her in late.text


# -- refusals and dead numbers move the ladder ----------------------------------------------


def whys(svc: Services, case_id: str, action: str) -> list[str]:
    with svc.uow() as uow:
        events = uow.session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.action == action)
            .order_by(col(CaseEvent.id))
        ).all()
        return [e.why for e in events]


def paged_at(svc: Services, case_id: str) -> list[tuple[str, str]]:
    return [(n.channel, n.recipient) for n in rows(svc, case_id) if n.channel != "console"]


def test_everyone_of_a_step_declining_by_sms_and_voice_moves_the_ladder_at_once(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=2)
    first, second = contact_key(svc, FIRST_PHONE), contact_key(svc, SECOND_PHONE)
    case_id = open_emergency(svc, alerts)
    assert alerts.tick() == 0  # step 1 is 2 minutes away

    assert sms(client, FIRST_PHONE, "2").startswith("Thank you; we will ask someone else")
    assert alerts.tick() == 1  # no time passed: the next beat runs step 1
    alerts.run_pending()
    assert paged_at(svc, case_id)[2:] == [("sms", second), ("voice", second)]
    assert whys(svc, case_id, "handed_on") == [
        "everyone alerted at step 0 declined or cannot be reached (Contact 1); step 1 now"
    ]
    assert any("step 1 now" in n.body for n in rows(svc, case_id) if n.channel == "console")

    _, action = call_prompt(client, voice_to(svc, case_id, second))
    assert "ask someone else" in spoken(press_key(client, action, "2"))
    assert alerts.tick() == 1  # step 2, not 5 minutes later
    alerts.run_pending()
    assert case_row(svc, case_id).level == 2
    assert "call 120" in whys(svc, case_id, "flag")
    assert first in {n.recipient for n in rows(svc, case_id)}


def test_one_of_two_declining_leaves_the_step_its_time(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=3)
    case_id = open_emergency(svc, alerts)
    assert sms(client, FIRST_PHONE, "2").startswith("Thank you")
    alerts.tick()
    alerts.run_pending()
    # Step 1 alerted the two others; only one of them declines: the step keeps its 5 minutes.
    assert sms(client, SECOND_PHONE, "no").startswith("Thank you")
    assert alerts.tick() == 0
    assert case_row(svc, case_id).level == 1
    assert len(whys(svc, case_id, "handed_on")) == 1


def test_late_failure_reports_show_on_the_case_and_move_the_ladder(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=2)
    case_id = open_emergency(svc, alerts)
    text, call = (n for n in rows(svc, case_id) if n.channel != "console")
    status = "/webhooks/twilio/status"

    post(client, status, {"MessageSid": text.provider_id or "", "MessageStatus": "undelivered"})
    assert alerts.tick() == 0  # the call may still be answered
    post(client, status, {"CallSid": call.provider_id or "", "CallStatus": "no-answer"})
    post(client, status, {"CallSid": call.provider_id or "", "CallStatus": "no-answer"})  # again

    assert whys(svc, case_id, "unreachable") == [
        f"SMS to Contact 1 ({FIRST_PHONE}) did not reach them: twilio undelivered",
        f"call to Contact 1 ({FIRST_PHONE}) did not reach them: twilio no-answer",
    ]
    console = [n.body for n in rows(svc, case_id) if n.channel == "console"]
    assert f"{case_id}: could not reach Contact 1 ({FIRST_PHONE}) by voice: twilio no-answer" in (
        console
    )
    assert alerts.tick() == 1
    alerts.run_pending()
    assert paged_at(svc, case_id)[2:] == [
        ("sms", contact_key(svc, SECOND_PHONE)),
        ("voice", contact_key(svc, SECOND_PHONE)),
    ]


def test_a_number_twilio_refuses_moves_the_ladder_at_once(
    svc: Services, client: TestClient
) -> None:
    seed_elder(svc, contacts=2)
    with RecordingTwilioServer(ACCOUNT_SID, AUTH_TOKEN) as server:
        svc.settings.twilio_api_url = server.base_url  # the real twilio client, to our server
        component = AlertsComponent(svc.settings, svc)
        component.attach()
        try:
            server.fail_next(2, status=400, code=21211, message="Invalid 'To' Phone Number")
            case_id = open_emergency(svc, component)
            refused = [n for n in rows(svc, case_id) if n.channel != "console"]
            assert [(n.status, n.next_attempt_at) for n in refused] == [("failed", None)] * 2
            assert len(whys(svc, case_id, "unreachable")) == 2
            assert "21211" in whys(svc, case_id, "unreachable")[0]
            assert component.tick() == 1
            component.run_pending()
        finally:
            component.stop()
        second = [r.form["To"] for r in server.received if r.form.get("To") == SECOND_PHONE]
    assert len(second) == 2  # an SMS and a call to the second contact, at once
    assert case_row(svc, case_id).level == 1


def test_forged_signatures_from_one_address_back_off(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=1)
    case_id = open_emergency(svc, alerts)
    params = {"From": FIRST_PHONE, "Body": "1"}
    app = create_app(svc, routers=[webhooks.router])
    with TestClient(app) as client:
        for _ in range(FREE_FAILURES + 1):
            assert post(client, "/webhooks/twilio/sms", params, token="guess").status_code == 403
        # Shut out for a second: even a good signature is not checked, and nothing changes.
        shut = post(client, "/webhooks/twilio/sms", params)
        assert (shut.status_code, shut.headers["Retry-After"]) == (429, "1")
        assert case_row(svc, case_id).owner is None
        clock.advance(seconds=1)
        assert sms(client, FIRST_PHONE, "1").startswith(f"You have case {case_id}")
        lines = client.get("/metrics").text.splitlines()
    assert f'vnh_auth_failures_total{{gate="webhook_signature"}} {FREE_FAILURES + 1}.0' in lines
    assert 'vnh_auth_throttled_total{gate="webhook_signature"} 1.0' in lines
