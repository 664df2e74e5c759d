"""Callbacks by machine (回访): the survey call by keys, its attempts in working hours, fallback."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import Response
from sqlmodel import col, select
from twilio.request_validator import RequestValidator

from alerts import call_webhooks, webhooks
from alerts.runtime import AlertsComponent
from care_api.domain.dispatch import Strategy
from care_api.domain.model import Role, TimerPurpose
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.store.call_tables import AutoCallback
from care_api.store.tables import Callback, Case, CaseEvent, MerchantStrike, Notification, Timer
from care_api.usecases.cases.actions import acknowledge, resolve
from care_api.usecases.dispatch.merchants import create_merchant
from care_api.usecases.dispatch.orders import complete_order, confirm_contact, place_order
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.tokens import mint_token
from tests.api.support import TestClient
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import outbox_alerts, press, seed_elder
from tests.twilio_server import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, RecordingTwilioServer

PUBLIC_URL = "https://vnh.example.org"
SURVEY = "/webhooks/twilio/survey"
CALL_ROUTERS = [webhooks.router, call_webhooks.router]  # state=alerts.app_state()
ELDER_PHONE = "+8613800000000"
FIRST_CONTACT = "+8613900000000"
# Monday 2026-11-23, 10:00 in Shanghai: a working day, in working hours (08–20).
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_10)


@pytest.fixture
def twilio() -> Iterator[RecordingTwilioServer]:
    with RecordingTwilioServer() as server:
        yield server


def _services(
    db_url: str, clock: FakeClock, twilio: RecordingTwilioServer, **more: Any
) -> Services:
    settings = make_settings(
        db_url,
        twilio_account_sid=DEFAULT_ACCOUNT_SID,
        twilio_auth_token=DEFAULT_AUTH_TOKEN,
        twilio_from="+15005550006",
        twilio_api_url=twilio.base_url,
        public_url=PUBLIC_URL,
        **more,
    )
    return build_services(settings, clock=clock)


@pytest.fixture
def svc(db_url: str, clock: FakeClock, twilio: RecordingTwilioServer) -> Iterator[Services]:
    services = _services(db_url, clock, twilio)
    yield services
    services.close()


@pytest.fixture
def alerts(svc: Services) -> Iterator[AlertsComponent]:
    component = outbox_alerts(svc)
    yield component
    component.stop()


@pytest.fixture
def api(svc: Services, alerts: AlertsComponent) -> TestClient:
    return TestClient(create_app(svc, routers=CALL_ROUTERS, state=alerts.app_state()))


def operator(svc: Services) -> dict[str, str]:
    with svc.uow() as uow:
        _, token = mint_token(uow.session, role=Role.OPERATOR, name="Li Na", now=svc.clock.now())
        uow.commit()
    return {"Authorization": f"Bearer {token}"}


def resolved_case(svc: Services, alerts: AlertsComponent, *, pattern: str = "long") -> str:
    """A case opened by a press, taken and resolved by an operator; the ladder quiet."""
    outcome = record_device_report(svc.uow, press(pattern=pattern), now=svc.clock.now(), tz=svc.tz)
    assert outcome.case_id is not None
    case_id = outcome.case_id
    alerts.run_pending()
    now = svc.clock.now()
    with svc.uow() as uow:
        acknowledge(uow, case_id, by="operator:Li Na", now=now, via="api")
        uow.commit()
    with svc.uow() as uow:
        resolve(uow, case_id, by="operator:Li Na", why="helped", now=now)
        uow.commit()
    alerts.run_pending()
    return case_id


def signed(
    api: TestClient, path: str, params: dict[str, str], *, token: str = DEFAULT_AUTH_TOKEN
) -> Response:
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, params)
    response: Response = api.post(path, data=params, headers={"X-Twilio-Signature": signature})
    return response


def row_of(svc: Services, case_id: str) -> AutoCallback:
    with svc.uow() as uow:
        row = uow.session.exec(select(AutoCallback).where(AutoCallback.case_id == case_id)).one()
        uow.session.expunge(row)
        return row


def callbacks(svc: Services, case_id: str) -> list[Callback]:
    with svc.uow() as uow:
        rows = list(uow.session.exec(select(Callback).where(Callback.case_id == case_id)).all())
        uow.session.expunge_all()
        return rows


def case_state(svc: Services, case_id: str) -> str:
    with svc.uow() as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        return case.state


def notes(svc: Services, case_id: str) -> list[str]:
    with svc.uow() as uow:
        rows = uow.session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.action == "callback_call")
            .order_by(col(CaseEvent.id))
        ).all()
        return [r.why for r in rows]


def first_attempt(svc: Services, alerts: AlertsComponent, clock: FakeClock) -> None:
    alerts.tick()  # step 0: whom to call; the first attempt goes 30 minutes later
    clock.advance(minutes=30)
    alerts.tick()


def answer(
    api: TestClient, row_id: int, sid: str, question: str = "", digits: str | None = None
) -> ET.Element:
    path = f"{SURVEY}?cb={row_id}" + (f"&q={question}" if question else "")
    params = {"CallSid": sid, **({"Digits": digits} if digits is not None else {})}
    response = signed(api, path, params)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text)


def asked(twiml: ET.Element) -> tuple[str, str]:
    """The question's key (from the Gather's action) and what was said."""
    gather = twiml.find("Gather")
    assert gather is not None, ET.tostring(twiml)
    action = gather.get("action", "")
    return action.rsplit("q=", 1)[-1], gather.findtext("Say") or ""


def test_resolved_case_is_called_back_and_answers_by_keys_make_the_typed_callback_row(
    svc: Services,
    alerts: AlertsComponent,
    api: TestClient,
    twilio: RecordingTwilioServer,
    clock: FakeClock,
) -> None:
    seed_elder(svc, language="zh-CN")
    case_id = resolved_case(svc, alerts, pattern="double")  # a service case: the elder is called

    alerts.tick()
    assert twilio.calls() == []  # not at once: the first attempt waits half an hour
    clock.advance(minutes=30)
    alerts.tick()

    [placed] = twilio.calls()
    row = row_of(svc, case_id)
    assert row.id is not None and row.call_sid
    assert placed.form["To"] == ELDER_PHONE
    assert placed.form["Url"] == f"{PUBLIC_URL}{SURVEY}?cb={row.id}"
    sid = row.call_sid

    key, said = asked(answer(api, row.id, sid))
    assert key == "ok"
    assert said.startswith("您好，这里是服务中心")  # the elder's language
    assert asked(answer(api, row.id, sid, "ok", "1"))[0] == "satisfaction"
    again, sorry = asked(answer(api, row.id, sid, "satisfaction", "9"))
    assert again == "satisfaction"  # a bad key is asked again
    assert sorry.startswith("对不起，这个按键不是有效的回答。")
    assert asked(answer(api, row.id, sid, "satisfaction", "4"))[0] == "time_ok"
    bye = answer(api, row.id, sid, "time_ok", "1")
    assert bye.find("Gather") is None
    assert bye.findtext("Say") == "感谢您的回答。再见。"

    [typed] = callbacks(svc, case_id)
    assert (typed.reached, typed.satisfaction, typed.time_ok, typed.price_ok, typed.by) == (
        True,
        4,
        True,
        None,
        "system:callback",
    )
    assert case_state(svc, case_id) == "closed"
    kpi = api.get(
        "/api/v1/reports/kpi",
        headers=operator(svc),
        params={"from": "2026-11-23", "to": "2026-11-23"},
    )
    assert kpi.status_code == 200, kpi.text
    assert kpi.json()["satisfaction_rate"] == 1.0
    # The attempt the timer made for later finds the callback done: nobody is called again.
    clock.advance(hours=3)
    alerts.tick()
    assert len(twilio.calls()) == 1


def test_forged_replayed_or_foreign_answers_change_nothing(
    svc: Services, alerts: AlertsComponent, api: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc)
    case_id = resolved_case(svc, alerts, pattern="double")
    first_attempt(svc, alerts, clock)
    row = row_of(svc, case_id)
    assert row.id is not None and row.call_sid
    sid = row.call_sid
    answer(api, row.id, sid)  # the question "ok" is asked
    path = f"{SURVEY}?cb={row.id}&q=ok"

    forged = signed(api, path, {"CallSid": sid, "Digits": "2"}, token="not-the-token")
    unsigned = api.post(path, data={"CallSid": sid, "Digits": "2"})
    foreign = signed(api, path, {"CallSid": "CA" + "e" * 32, "Digits": "2"})
    skipped = signed(api, f"{SURVEY}?cb={row.id}&q=satisfaction", {"CallSid": sid, "Digits": "1"})
    assert [r.status_code for r in (forged, unsigned, foreign, skipped)] == [403, 403, 409, 409]
    after = row_of(svc, case_id)
    assert (after.state, after.question, after.answers) == ("asking", "ok", {})

    answer(api, row.id, sid, "ok", "1")
    replay = signed(api, path, {"CallSid": sid, "Digits": "2"})
    assert replay.status_code == 409  # "ok" was answered already
    assert row_of(svc, case_id).answers == {"ok": True}
    assert callbacks(svc, case_id) == []
    assert case_state(svc, case_id) == "resolved"


def test_three_unanswered_attempts_in_working_hours_fall_back_to_the_operator_list(
    svc: Services,
    alerts: AlertsComponent,
    api: TestClient,
    twilio: RecordingTwilioServer,
    clock: FakeClock,
) -> None:
    # Friday 2026-11-27, 17:00 in Shanghai: the third attempt falls after hours, on Monday.
    clock.advance(days=4, hours=7)
    seed_elder(svc)
    case_id = resolved_case(svc, alerts)  # an emergency: the family is called back
    alerts.tick()

    rang: list[datetime] = []
    for _ in range(3):
        # Move to the next attempt's time, whatever it is, without sleeping.
        due = _next_due(svc, case_id)
        clock.advance(seconds=max((due - clock.now()).total_seconds(), 0))
        alerts.tick()
        rang.append(clock.now())
        row = row_of(svc, case_id)
        assert row.id is not None and row.call_sid
        ended = {"CallSid": row.call_sid, "CallStatus": "no-answer"}
        response = signed(api, f"{SURVEY}/status?cb={row.id}", ended)
        assert response.status_code == 200

    assert [c.form["To"] for c in twilio.calls()] == [FIRST_CONTACT] * 3
    local = [t.astimezone(svc.tz) for t in rang]
    assert [(t.strftime("%a"), t.hour, t.minute) for t in local] == [
        ("Fri", 17, 30),
        ("Fri", 19, 30),
        ("Mon", 8, 0),  # not at night nor at the weekend
    ]
    due = _next_due(svc, case_id)
    clock.advance(seconds=(due - clock.now()).total_seconds())
    alerts.tick()

    listed = api.get("/api/v1/callbacks/due", headers=operator(svc))
    assert listed.status_code == 200
    [line] = listed.json()
    assert (line["case_id"], line["phone"], line["attempts"]) == (case_id, FIRST_CONTACT, 3)
    assert (
        datetime.fromisoformat(line["due_at"]).astimezone(svc.tz).strftime("%a %H:%M")
        == "Mon 10:00"
    )
    assert len(twilio.calls()) == 3
    assert notes(svc, case_id)[-1].startswith("operator to call back by ")
    assert callbacks(svc, case_id) == []  # nobody answered: no callback row
    assert case_state(svc, case_id) == "resolved"  # the operator still owes it


def _next_due(svc: Services, case_id: str) -> datetime:

    with svc.uow() as uow:
        timer = uow.session.exec(
            select(Timer)
            .where(
                Timer.case_id == case_id,
                Timer.purpose == TimerPurpose.AUTO_CALLBACK,
                col(Timer.fired_at).is_(None),
            )
            .order_by(col(Timer.due_at))
        ).first()
        assert timer is not None
        return timer.due_at


def test_not_all_right_goes_to_an_operator_at_once(
    svc: Services, alerts: AlertsComponent, api: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc)
    case_id = resolved_case(svc, alerts, pattern="double")
    first_attempt(svc, alerts, clock)
    row = row_of(svc, case_id)
    assert row.id is not None and row.call_sid
    answer(api, row.id, row.call_sid)

    bye = answer(api, row.id, row.call_sid, "ok", "2")

    assert bye.findtext("Say") == "An operator will call you back soon. Goodbye."
    [line] = api.get("/api/v1/callbacks/due", headers=operator(svc)).json()
    assert line["reason"] == "the callee still needs help"
    chinese = {**operator(svc), "Accept-Language": "zh-CN"}
    [line] = api.get("/api/v1/callbacks/due", headers=chinese).json()
    assert line["reason"] == "被回访人仍需要帮助"
    assert datetime.fromisoformat(line["due_at"]) == clock.now()


def test_no_key_at_all_is_asked_twice_then_the_call_ends_unreached(
    svc: Services, alerts: AlertsComponent, api: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc)
    case_id = resolved_case(svc, alerts, pattern="double")
    first_attempt(svc, alerts, clock)
    row = row_of(svc, case_id)
    assert row.id is not None and row.call_sid
    answer(api, row.id, row.call_sid)

    again = answer(api, row.id, row.call_sid, "ok")  # the <Redirect> after a silent Gather
    assert asked(again)[0] == "ok"
    bye = answer(api, row.id, row.call_sid, "ok")
    assert bye.findtext("Say") == "We will call you again later. Goodbye."
    assert row_of(svc, case_id).state == "waiting"


def test_switched_off_the_service_makes_no_callback(
    db_url: str, clock: FakeClock, twilio: RecordingTwilioServer
) -> None:
    svc = _services(db_url, clock, twilio, auto_callbacks=False)
    alerts = outbox_alerts(svc)
    try:
        seed_elder(svc)
        case_id = resolved_case(svc, alerts, pattern="double")
        first_attempt(svc, alerts, clock)
        clock.advance(days=1)
        alerts.tick()
        assert twilio.calls() == []
        with svc.uow() as uow:
            assert uow.session.exec(select(AutoCallback)).all() == []
        assert case_state(svc, case_id) == "resolved"
    finally:
        alerts.stop()
        svc.close()


def test_without_twilio_but_switched_on_the_callback_goes_to_the_outbox(
    db_url: str, clock: FakeClock
) -> None:
    svc = build_services(make_settings(db_url, auto_callbacks=True), clock=clock)
    alerts = outbox_alerts(svc)
    try:
        seed_elder(svc)
        case_id = resolved_case(svc, alerts, pattern="double")
        first_attempt(svc, alerts, clock)
        with svc.uow() as uow:
            sms = uow.session.exec(
                select(Notification).where(
                    Notification.case_id == case_id, Notification.recipient == "elder"
                )
            ).all()
            assert [n.body for n in sms] == [
                "Hello, this is the care centre asking about your recent help. Please answer by "
                "SMS with the number. Is everything all right now? Press 1 for yes, or 2 if you "
                "still need help."
            ]
    finally:
        alerts.stop()
        svc.close()


def test_satisfaction_figures_come_from_the_callback_rows_not_the_history_text(
    svc: Services, alerts: AlertsComponent, api: TestClient
) -> None:
    seed_elder(svc)
    case_id = resolved_case(svc, alerts, pattern="double")
    now = svc.clock.now()
    with svc.uow() as uow:
        # A callback row whose history line says otherwise (an old import, a typo'd note).
        uow.session.add(Callback(case_id=case_id, at=now, by="operator:Li Na", satisfaction=2))
        uow.session.add(
            CaseEvent(case_id=case_id, at=now, by="x", action="callback", why="satisfaction=5")
        )
        uow.commit()

    kpi = api.get(
        "/api/v1/reports/kpi",
        headers=operator(svc),
        params={"from": "2026-11-23", "to": "2026-11-23"},
    )

    assert kpi.json()["satisfaction_rate"] == 0.0
    assert kpi.json()["callbacks"] == 1


def test_where_a_merchant_served_the_price_is_asked_and_a_bad_callback_is_a_strike(
    svc: Services, alerts: AlertsComponent, api: TestClient, clock: FakeClock
) -> None:

    seed_elder(svc, lat=29.1, lon=119.65)
    outcome = record_device_report(svc.uow, press(pattern="single"), now=clock.now(), tz=svc.tz)
    assert outcome.case_id is not None
    case_id = outcome.case_id
    alerts.run_pending()
    now = clock.now()
    with svc.uow() as uow:
        data = {"name": "Golden Spoon", "phone": "+8615100000001", "categories": ["meals"]}
        merchant = create_merchant(uow.session, {**data, "lat": 29.11, "lon": 119.65}, now)
        uow.commit()
        merchant_id = merchant.id
    with svc.uow() as uow:
        order, _ = place_order(
            uow,
            case_id,
            category="meals",
            note="",
            strategy=Strategy("balanced"),
            by="operator:Li Na",
            now=now,
            tz=svc.tz,
        )
        uow.commit()
        order_id = order.id
    assert order_id is not None and merchant_id is not None
    with svc.uow() as uow:
        confirm_contact(uow, order_id, merchant_id, now=now)
        uow.commit()
    with svc.uow() as uow:
        complete_order(uow, order_id, merchant_id, by="merchant:Golden Spoon", now=now)
        uow.commit()
    alerts.run_pending()
    first_attempt(svc, alerts, clock)
    row = row_of(svc, case_id)
    assert row.id is not None and row.call_sid
    sid = row.call_sid

    answer(api, row.id, sid)
    answer(api, row.id, sid, "ok", "1")
    answer(api, row.id, sid, "satisfaction", "1")
    key, said = asked(answer(api, row.id, sid, "time_ok", "1"))
    assert (key, said) == ("price_ok", "Was the price fair? Press 1 for yes, 2 for no.")
    answer(api, row.id, sid, "price_ok", "2")

    [typed] = callbacks(svc, case_id)
    assert (typed.satisfaction, typed.price_ok) == (1, False)
    with svc.uow() as uow:
        strikes = uow.session.exec(select(MerchantStrike)).all()
        assert [s.merchant_id for s in strikes] == [merchant_id]


def test_attempts_go_on_after_a_restart_from_the_timer_rows(
    svc: Services, alerts: AlertsComponent, twilio: RecordingTwilioServer, clock: FakeClock
) -> None:
    seed_elder(svc)
    resolved_case(svc, alerts, pattern="double")
    alerts.tick()  # the first attempt is scheduled, then the process stops
    alerts.stop()

    restarted = outbox_alerts(svc)
    try:
        clock.advance(minutes=30)
        restarted.tick()
    finally:
        restarted.stop()

    assert [c.form["To"] for c in twilio.calls()] == [ELDER_PHONE]


def test_a_callback_made_by_hand_meanwhile_ends_the_machine_call_politely(
    svc: Services, alerts: AlertsComponent, api: TestClient, clock: FakeClock
) -> None:
    seed_elder(svc)
    case_id = resolved_case(svc, alerts, pattern="double")
    first_attempt(svc, alerts, clock)
    row = row_of(svc, case_id)
    assert row.id is not None and row.call_sid
    by_hand = api.post(
        f"/api/v1/cases/{case_id}/callback", json={"satisfaction": 5}, headers=operator(svc)
    )
    assert by_hand.status_code == 200, by_hand.text

    bye = answer(api, row.id, row.call_sid)

    assert bye.findtext("Say") == "This call has ended. Goodbye."
    assert [c.by for c in callbacks(svc, case_id)] == ["operator:Li Na"]


def _sms_body(svc: Services, case_id: str) -> list[str]:
    with svc.uow() as uow:
        rows = uow.session.exec(
            select(Notification)
            .where(Notification.case_id == case_id, Notification.recipient == "elder")
            .order_by(col(Notification.id))
        ).all()
        return [n.body for n in rows]


def _sms_in(api: TestClient, sid: str, phone: str, body: str) -> str:
    response = signed(api, "/webhooks/twilio/sms", {"MessageSid": sid, "From": phone, "Body": body})
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text).findtext("Message") or ""


def test_a_survey_sent_by_sms_is_answered_by_the_elders_sms_replies(
    db_url: str, clock: FakeClock, twilio: RecordingTwilioServer
) -> None:
    svc = _services(db_url, clock, twilio, auto_callback_channel="sms")
    alerts = outbox_alerts(svc)
    api = TestClient(create_app(svc, routers=CALL_ROUTERS, state=alerts.app_state()))
    try:
        seed_elder(svc)
        case_id = resolved_case(svc, alerts, pattern="double")
        first_attempt(svc, alerts, clock)
        assert twilio.calls() == []  # by SMS, not by a call
        [sent] = _sms_body(svc, case_id)
        assert sent.startswith("Hello, this is the care centre asking about your recent help.")
        assert sent.endswith("Press 1 for yes, or 2 if you still need help.")
        # The elder's replies answer the survey, one question after the other.
        assert _sms_in(api, "SM1", "13800000000", "1").startswith("How satisfied")
        assert _sms_in(api, "SM2", ELDER_PHONE, "9").startswith("Sorry, that key")
        assert _sms_in(api, "SM3", ELDER_PHONE, " 5 ").startswith("Did the help come on time")
        assert _sms_in(api, "SM4", ELDER_PHONE, "1") == "Thank you for your answers. Goodbye."
        # A replay of a signed reply changes nothing.
        params = {"MessageSid": "SM4", "From": ELDER_PHONE, "Body": "1"}
        assert signed(api, "/webhooks/twilio/sms", params).status_code == 409
        [typed] = callbacks(svc, case_id)
        assert (typed.reached, typed.satisfaction, typed.time_ok) == (True, 5, True)
        assert case_state(svc, case_id) == "closed"
        assert row_of(svc, case_id).attempts == 1
        # Done: the next text from the elder is a new message for the operator, not an answer.
        assert _sms_in(api, "SM5", ELDER_PHONE, "1").startswith("Your message reached")
        clock.advance(hours=3)
        alerts.tick()
        assert len(_sms_body(svc, case_id)) == 1  # nobody is asked again
    finally:
        alerts.stop()
        svc.close()


def test_a_contact_alerted_to_a_new_emergency_takes_it_with_1_not_the_survey(
    db_url: str, clock: FakeClock, twilio: RecordingTwilioServer
) -> None:
    svc = _services(db_url, clock, twilio, auto_callback_channel="sms")
    alerts = outbox_alerts(svc)
    api = TestClient(create_app(svc, routers=CALL_ROUTERS, state=alerts.app_state()))
    try:
        seed_elder(svc)
        old = resolved_case(svc, alerts)  # an emergency: the family's first contact is asked
        first_attempt(svc, alerts, clock)
        assert row_of(svc, old).state == "texting"
        clock.advance(minutes=1)
        outcome = record_device_report(
            svc.uow, press(seq=2, pattern="long"), now=svc.clock.now(), tz=svc.tz
        )
        new = outcome.case_id
        assert new is not None and new != old
        for _ in range(6):  # the ladder reaches the family
            alerts.run_pending()
            with svc.uow() as uow:
                paged = uow.session.exec(
                    select(Notification).where(
                        Notification.case_id == new, Notification.to == FIRST_CONTACT
                    )
                ).first()
            if paged is not None:
                break
            clock.advance(minutes=2)
            alerts.tick()
        assert paged is not None
        reply = _sms_in(api, "SM9", FIRST_CONTACT, "1")
        assert "Ok" in reply or new in reply, reply
        assert case_state(svc, new) == "accepted"
        assert row_of(svc, old).answers == {}  # the survey did not take the "1"
    finally:
        alerts.stop()
        svc.close()
