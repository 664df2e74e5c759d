"""WeChat for families: bind by code, template alerts, replies, signatures, tokens, fallback."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from itertools import count

import pytest
from fastapi import FastAPI
from httpx import Response
from pydantic import SecretStr
from sqlmodel import col, select
from typer.testing import CliRunner

from alerts import wechat_webhook
from alerts.notify import registry
from alerts.notify.registry import ChannelWithoutAdapter, adapter_config_error
from alerts.notify.wechat import WechatApi
from alerts.ports import NotifyError
from alerts.runtime import AlertsComponent
from alerts.wechat_webhook import signature
from care_api.domain.model import CaseState
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.store.channel_tables import PersonAddress
from care_api.store.tables import Case, Notification
from care_api.throttle import FREE_FAILURES
from care_api.usecases.cases.actions import acknowledge
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.addresses import new_bind_code, set_preferred
from tests.api.support import ADMIN_TOKEN, TestClient, mint
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder
from tests.twilio_server import RecordingTwilioServer
from tests.wechat_server import APP_ID, APP_SECRET, RecordingWechatServer
from vnh import cli

WECHAT_TOKEN = "webhook-token-0123"
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
DAUGHTER = "+8613900000000"  # seed_elder's first contact: contact:1, the centre's language
_msgids = count(1)


@pytest.fixture
def twilio() -> Iterator[RecordingTwilioServer]:
    with RecordingTwilioServer() as server:
        yield server


@pytest.fixture
def wechat() -> Iterator[RecordingWechatServer]:
    with RecordingWechatServer() as server:
        yield server


@pytest.fixture
def svc(
    db_url: str, clock: FakeClock, twilio: RecordingTwilioServer, wechat: RecordingWechatServer
) -> Iterator[Services]:
    settings = make_settings(
        db_url,
        language="zh-CN",
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=twilio.auth_token,
        twilio_from="+15005550006",
        twilio_api_url=twilio.base_url,
        wechat_app_id=APP_ID,
        wechat_app_secret=APP_SECRET,
        wechat_template_id="TEMPLATE-1",
        wechat_token=WECHAT_TOKEN,
        wechat_api_base=wechat.base_url,
    )
    services = build_services(settings, clock=clock)
    yield services
    services.close()


@pytest.fixture
def alerts(svc: Services) -> Iterator[AlertsComponent]:
    component = AlertsComponent(svc.settings, svc)  # the registry's adapters, as serve builds
    component.attach()
    yield component
    component.stop()


@pytest.fixture
def client(svc: Services) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.services = svc  # what the webhook's dependencies read
    app.include_router(wechat_webhook.router)
    with TestClient(app) as test_client:
        yield test_client


def signed(svc: Services, token: str = WECHAT_TOKEN) -> dict[str, str]:
    timestamp = str(int(svc.clock.now().timestamp()))
    nonce = "nonce42"
    return {"timestamp": timestamp, "nonce": nonce, "signature": signature(token, timestamp, nonce)}


def send_text(
    client: TestClient, svc: Services, text: str, *, openid: str = OPENID, **query: str
) -> Response:
    body = (
        f"<xml><ToUserName><![CDATA[gh_centre]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>1</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
        f"<MsgId>{next(_msgids)}</MsgId></xml>"
    )
    params = {**signed(svc), **query}
    response: Response = client.post("/webhooks/wechat", params=params, content=body.encode())
    return response


def reply_text(response: Response) -> str:
    assert response.status_code == 200, response.text
    content = ET.fromstring(response.text).findtext("Content")
    assert content
    return content


def bind_daughter(svc: Services, client: TestClient) -> None:
    with svc.uow() as uow:
        code, _ = new_bind_code(uow.session, "contact:1", now=svc.clock.now())
        uow.commit()
    assert "微信" in reply_text(send_text(client, svc, code))  # told in her language


def press_emergency(svc: Services, alerts: AlertsComponent) -> str:
    outcome = record_device_report(svc.uow, press(), now=svc.clock.now(), tz=svc.tz)
    assert outcome.case_id is not None
    alerts.run_pending()
    return outcome.case_id


def test_wechat_bound_daughter_gets_the_template_and_takes_the_case_by_replying(
    svc: Services,
    alerts: AlertsComponent,
    client: TestClient,
    twilio: RecordingTwilioServer,
    wechat: RecordingWechatServer,
) -> None:
    seed_elder(svc, contacts=1, name="张秀英", address="金华市婺城区五一路3号")
    bind_daughter(svc, client)
    case_id = press_emergency(svc, alerts)
    [sent] = wechat.sends()
    assert sent.body is not None and sent.body["touser"] == OPENID
    assert sent.body["template_id"] == "TEMPLATE-1"
    first = sent.body["data"]["first"]["value"]
    assert first.startswith("【紧急求助】张秀英") and "回复1接单" in first and case_id in first
    # One text message per person: WeChat instead of SMS; the call still rings.
    assert [m.form["To"] for m in twilio.messages()] == []
    assert [c.form["To"] for c in twilio.calls()] == [DAUGHTER]
    answer = reply_text(send_text(client, svc, "1"))
    assert case_id in answer
    with svc.uow() as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        assert (case.state, case.owner) == (CaseState.ACCEPTED.value, "contact:1")


def test_wechat_forged_webhook_is_refused_and_changes_nothing(
    svc: Services, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    with svc.uow() as uow:
        code, _ = new_bind_code(uow.session, "contact:1", now=svc.clock.now())
        uow.commit()
    forged = send_text(client, svc, code, signature="0" * 40)
    assert forged.status_code == 403
    stale = {**signed(svc), "timestamp": "1000"}  # an old request replayed
    assert client.get("/webhooks/wechat", params={**stale, "echostr": "x"}).status_code == 403
    with svc.uow() as uow:
        assert uow.session.exec(select(PersonAddress)).all() == []
    # WeChat's own URL check passes, and the real code still binds afterwards.
    echo = client.get("/webhooks/wechat", params={**signed(svc), "echostr": "hello"})
    assert (echo.status_code, echo.text) == (200, "hello")
    assert reply_text(send_text(client, svc, code))
    with svc.uow() as uow:
        [bound] = uow.session.exec(select(PersonAddress)).all()
        assert (bound.actor, bound.address) == ("contact:1", OPENID)


def test_wechat_access_token_is_cached_and_refreshed(wechat: RecordingWechatServer) -> None:
    now = [0.0]
    api = WechatApi(APP_ID, APP_SECRET, base_url=wechat.base_url, monotonic=lambda: now[0])
    try:
        data = {"first": {"value": "hi"}}
        api.send_template(OPENID, "T", data, None)
        api.send_template(OPENID, "T", data, None)
        assert len(wechat.token_requests()) == 1  # cached
        now[0] += 7200  # expires_in ran out
        api.send_template(OPENID, "T", data, None)
        assert len(wechat.token_requests()) == 2
        wechat.expire_tokens()  # WeChat says 42001 before our clock does
        api.send_template(OPENID, "T", data, None)
        assert len(wechat.token_requests()) == 3
        assert len(wechat.sends()) == 5  # the refused send, then its retry
        tokens = [s.query["access_token"] for s in wechat.sends()]
        assert tokens == ["ACCESS_TOKEN_1"] * 2 + ["ACCESS_TOKEN_2"] * 2 + ["ACCESS_TOKEN_3"]
    finally:
        api.close()


def test_wechat_timeout_is_a_retryable_failure(wechat: RecordingWechatServer) -> None:
    api = WechatApi(APP_ID, APP_SECRET, base_url=wechat.base_url, timeout_s=0.2)
    wechat.hang_s = 1.0
    try:
        with pytest.raises(NotifyError) as failed:
            api.send_template(OPENID, "T", {"first": {"value": "hi"}}, None)
        assert failed.value.retryable
    finally:
        api.close()


def test_wechat_the_notices_after_an_alert_come_where_the_alert_came(
    svc: Services,
    alerts: AlertsComponent,
    client: TestClient,
    twilio: RecordingTwilioServer,
    wechat: RecordingWechatServer,
) -> None:
    seed_elder(svc, contacts=2, name="张秀英")
    bind_daughter(svc, client)
    case_id = press_emergency(svc, alerts)
    alerts.run_pending()
    son = [m.form["To"] for m in twilio.messages()]
    assert len(wechat.sends()) == 1 and DAUGHTER not in son  # alerted on WeChat alone
    with svc.uow() as uow:
        acknowledge(uow, case_id, by="operator:Li", now=svc.clock.now(), via="console")
        uow.commit()
    alerts.run_pending()
    # "Taken by …" reaches her on WeChat, as the alert did; her son gets his by SMS.
    alert, taken = wechat.sends()
    assert taken.body is not None and taken.body["touser"] == OPENID
    assert case_id in taken.body["data"]["first"]["value"]
    assert taken.body["data"]["first"]["value"] != alert.body["data"]["first"]["value"]  # type: ignore[index]
    texts = [m.form["To"] for m in twilio.messages()]
    assert DAUGHTER not in texts and len(texts) == 2 * len(son)


def test_wechat_failure_falls_back_to_sms_for_that_person(
    svc: Services,
    alerts: AlertsComponent,
    client: TestClient,
    twilio: RecordingTwilioServer,
    wechat: RecordingWechatServer,
) -> None:
    seed_elder(svc, contacts=1, name="张秀英")
    bind_daughter(svc, client)
    wechat.fail_with = 43004  # she unfollowed the account
    case_id = press_emergency(svc, alerts)
    alerts.run_pending()
    [sms] = twilio.messages()
    assert sms.form["To"] == DAUGHTER and case_id in sms.form["Body"]
    with svc.uow() as uow:
        rows = uow.session.exec(
            select(Notification).where(col(Notification.recipient) == "contact:1")
        ).all()
    by_channel = {r.channel: r for r in rows}
    assert by_channel["wechat"].status == "failed"
    assert "sent by sms instead" in (by_channel["wechat"].detail or "")
    assert by_channel["sms"].status == "sent"
    # Her SMS "1" answers the alert like any other.
    assert by_channel["sms"].idempotency_key == f"ladder:{case_id}:0:contact:1:sms:emergency"


def test_channel_without_adapter_fails_at_start(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert adapter_config_error() is None  # every declared channel has its adapter
    without = {c: f for c, f in registry.ADAPTERS.items() if c.value != "wechat"}
    monkeypatch.setattr(registry, "ADAPTERS", without)
    with pytest.raises(ChannelWithoutAdapter, match="wechat"):
        AlertsComponent(svc.settings, svc)
    monkeypatch.setenv("VNH_DATABASE_URL", svc.settings.database_url)
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 2
    assert "wechat" in result.output and "alerts/notify/registry.py" in result.output


def test_wechat_code_by_sms_from_the_operator_binds_the_daughter(
    svc: Services, alerts: AlertsComponent, twilio: RecordingTwilioServer, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    svc.settings = svc.settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})
    with TestClient(create_app(svc)) as api:
        operator = mint(api, "operator", "Li")
        caregiver = mint(api, "caregiver", "Wu")
        refused = api.post("/api/v1/contacts/1/wechat/code", json={}, headers=caregiver)
        assert refused.status_code == 403
        too_soon = api.put(
            "/api/v1/contacts/1/channels", json={"preferred": "wechat"}, headers=operator
        )
        assert too_soon.status_code == 422  # nothing bound to prefer yet
        made = api.post("/api/v1/contacts/1/wechat/code", json={"send_sms": True}, headers=operator)
        assert made.status_code == 201, made.text
        code = made.json()["code"]
        alerts.tick()  # the sender's beat takes the queued SMS
        alerts.run_pending()
        [sms] = twilio.messages()
        assert sms.form["To"] == DAUGHTER and code in sms.form["Body"]
        assert "公众号" in sms.form["Body"]  # in her language (the centre's)
        assert "微信" in reply_text(send_text(client, svc, code))
        again = send_text(client, svc, code, openid="o_someone_else")
        assert "8" in reply_text(again)  # a used code binds nobody else: "send the 8-digit code"
        shown = api.get("/api/v1/contacts/1/channels", headers=operator).json()
        assert shown == {"phone": DAUGHTER, "wechat_bound": True, "preferred": None}
        assert OPENID not in str(shown)


def test_wechat_message_from_an_unbound_account_or_seen_before_changes_nothing(
    svc: Services, alerts: AlertsComponent, client: TestClient
) -> None:
    seed_elder(svc, contacts=1)
    case_id = press_emergency(svc, alerts)
    assert "8" in reply_text(send_text(client, svc, "1", openid="o_stranger"))
    bind_daughter(svc, client)
    body = (
        f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName>"
        "<MsgType>text</MsgType><Content>2</Content><MsgId>777</MsgId></xml>"
    )
    first = client.post("/webhooks/wechat", params=signed(svc), content=body.encode())
    assert case_id in reply_text(first)  # "we will ask someone else"
    resent = client.post("/webhooks/wechat", params=signed(svc), content=body.encode())
    assert resent.text == "success"  # WeChat's resend is taken once
    entity = b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Content>&a;</Content></xml>'
    assert client.post("/webhooks/wechat", params=signed(svc), content=entity).status_code == 400
    with svc.uow() as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None and case.owner is None


def test_wechat_guessing_bind_codes_is_held_back(svc: Services, client: TestClient) -> None:
    seed_elder(svc, contacts=1)
    with svc.uow() as uow:
        code, _ = new_bind_code(uow.session, "contact:1", now=svc.clock.now())
        uow.commit()
    wrong = "00000000" if code != "00000000" else "11111111"
    for _ in range(FREE_FAILURES + 1):
        reply_text(send_text(client, svc, wrong, openid="o_guesser"))
    reply_text(send_text(client, svc, code, openid="o_guesser"))  # right, but held back
    with svc.uow() as uow:
        assert uow.session.exec(select(PersonAddress)).all() == []


def test_wechat_report_of_a_blocked_account_falls_back_to_sms(
    svc: Services,
    alerts: AlertsComponent,
    client: TestClient,
    twilio: RecordingTwilioServer,
    wechat: RecordingWechatServer,
) -> None:
    seed_elder(svc, contacts=1)
    bind_daughter(svc, client)
    case_id = press_emergency(svc, alerts)
    assert twilio.messages() == []
    with svc.uow() as uow:
        row = uow.session.exec(
            select(Notification).where(col(Notification.channel) == "wechat")
        ).one()
    assert row.provider_id is not None
    msgid = row.provider_id.removeprefix("wx-")
    report = (
        f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName>"
        "<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event>"
        f"<MsgID>{msgid}</MsgID><Status>failed:user block</Status></xml>"
    )
    forged = client.post("/webhooks/wechat", params={**signed(svc), "nonce": "x"}, content=report)
    assert forged.status_code == 403
    answered = client.post("/webhooks/wechat", params=signed(svc), content=report.encode())
    assert answered.text == "success"
    alerts.tick()  # the sender's beat
    alerts.run_pending()
    [sms] = twilio.messages()
    assert sms.form["To"] == DAUGHTER and case_id in sms.form["Body"]


def test_wechat_a_person_who_prefers_sms_gets_sms_though_bound(
    svc: Services,
    alerts: AlertsComponent,
    client: TestClient,
    twilio: RecordingTwilioServer,
    wechat: RecordingWechatServer,
) -> None:
    seed_elder(svc, contacts=1)
    bind_daughter(svc, client)
    with svc.uow() as uow:
        set_preferred(uow.session, "contact:1", "sms", now=svc.clock.now())
        uow.commit()
    press_emergency(svc, alerts)
    assert wechat.sends() == []
    assert [m.form["To"] for m in twilio.messages()] == [DAUGHTER]


def test_wechat_the_owner_who_took_it_there_is_reminded_there(
    svc: Services,
    alerts: AlertsComponent,
    client: TestClient,
    twilio: RecordingTwilioServer,
    wechat: RecordingWechatServer,
    clock: FakeClock,
) -> None:
    seed_elder(svc, contacts=1, name="张秀英")
    bind_daughter(svc, client)
    case_id = press_emergency(svc, alerts)
    assert case_id in reply_text(send_text(client, svc, "1"))  # she takes it on WeChat
    alerts.run_pending()
    sent_before = len(wechat.sends())
    clock.advance(seconds=svc.settings.on_site_within_s)
    alerts.tick()
    alerts.run_pending()
    # Not on site in time: her reminder comes where she reads the centre, the call rings.
    [late] = wechat.sends()[sent_before:]
    assert late.body is not None and late.body["touser"] == OPENID
    assert case_id in late.body["data"]["first"]["value"]
    assert DAUGHTER not in [m.form["To"] for m in twilio.messages()]
    assert [c.form["To"] for c in twilio.calls()] == [DAUGHTER, DAUGHTER]
    clock.advance(seconds=svc.settings.resolve_within_s)
    alerts.tick()
    alerts.run_pending()
    # Nor resolved: the chase too.
    chased = [s for s in wechat.sends()[sent_before + 1 :] if s.body is not None]
    assert chased and all(s.body["touser"] == OPENID for s in chased)  # type: ignore[index]
    assert DAUGHTER not in [m.form["To"] for m in twilio.messages()]
