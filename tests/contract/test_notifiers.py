"""Notifier adapters: the outbox, and the Twilio ones through the real client and a local server."""

from __future__ import annotations

import json
import logging
import ssl
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.rest import Client

from alerts.notify.outbox import OutboxNotifier
from alerts.notify.twilio import (
    TwilioSmsNotifier,
    TwilioVoiceNotifier,
    close_twilio_client,
    make_twilio_client,
    notifiers_from_settings,
)
from alerts.notify.twilio_http import RebasedTwilioHttpClient, ThreadSafeTwilioHttpClient
from alerts.ports import Channel, DeliveryReceipt, Notifier, NotifyError, OutboundMessage
from tests.tls_cert import self_signed_cert
from tests.twilio_server import RecordingTwilioServer

FROM = "+15005550006"
TO = "+8613800000001"
SMS = OutboundMessage(
    7, Channel.sms, TO, "紧急求助: 张奶奶 pressed the button. Reply 1 to take it."
)
CALL = OutboundMessage(
    8, Channel.voice, TO, "voice call: emergency at 张奶奶", say="张奶奶需要紧急帮助, 请回电."
)


@pytest.fixture
def server() -> Iterator[RecordingTwilioServer]:
    with RecordingTwilioServer() as srv:
        yield srv


@pytest.fixture
def client(server: RecordingTwilioServer) -> Iterator[Client]:
    twilio_client = make_twilio_client(
        server.account_sid, server.auth_token, api_base_url=server.base_url
    )
    yield twilio_client
    close_twilio_client(twilio_client)


def _twiml_says(twiml: str) -> list[str | None]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return [say.text for say in root.iter("Say")]


def test_sms_notifier_posts_to_from_body_to_messages(
    server: RecordingTwilioServer, client: Client
) -> None:
    receipt = TwilioSmsNotifier(client, FROM).send(SMS)

    assert receipt.status == "sent"
    assert receipt.provider_id is not None
    assert receipt.provider_id.startswith("SM")
    assert len(receipt.provider_id) == 34
    [request] = server.received
    assert request.path == f"/2010-04-01/Accounts/{server.account_sid}/Messages.json"
    assert request.auth_ok
    assert request.form["To"] == TO
    assert request.form["From"] == FROM
    assert request.form["Body"] == SMS.body
    assert "StatusCallback" not in request.form


def test_sms_notifier_passes_status_callback(server: RecordingTwilioServer, client: Client) -> None:
    callback = "https://vnh.example.org/webhooks/twilio/status"

    TwilioSmsNotifier(client, FROM, status_callback=callback).send(SMS)

    assert server.messages()[0].form["StatusCallback"] == callback


def test_voice_notifier_calls_with_twiml_saying_text_twice(
    server: RecordingTwilioServer, client: Client
) -> None:
    receipt = TwilioVoiceNotifier(client, FROM).send(CALL)

    assert receipt.status == "sent"
    assert receipt.provider_id is not None
    assert receipt.provider_id.startswith("CA")
    assert len(receipt.provider_id) == 34
    [request] = server.calls()
    assert request.path == f"/2010-04-01/Accounts/{server.account_sid}/Calls.json"
    assert request.form["To"] == TO
    assert request.form["From"] == FROM
    assert _twiml_says(request.form["Twiml"]) == [CALL.say, CALL.say]
    assert "language" not in request.form["Twiml"]


def test_voice_notifier_with_prompt_url_lets_twilio_fetch_the_press_1_prompt(
    server: RecordingTwilioServer, client: Client
) -> None:
    prompt = "https://vnh.example.org/webhooks/twilio/voice"

    TwilioVoiceNotifier(client, FROM, prompt_url=prompt).send(CALL)

    [request] = server.calls()
    assert request.form["Url"] == prompt
    assert request.form["Method"] == "POST"
    assert "Twiml" not in request.form


def test_voice_notifier_speaks_body_when_no_say_text(
    server: RecordingTwilioServer, client: Client
) -> None:
    message = OutboundMessage(9, Channel.voice, TO, "Battery low at 张奶奶 <home> & garden")

    TwilioVoiceNotifier(client, FROM).send(message)

    assert _twiml_says(server.calls()[0].form["Twiml"]) == [message.body, message.body]


def test_voice_notifier_sets_language_when_configured(
    server: RecordingTwilioServer, client: Client
) -> None:
    TwilioVoiceNotifier(client, FROM, language="cmn-CN").send(CALL)

    root = ET.fromstring(server.calls()[0].form["Twiml"])
    assert [say.get("language") for say in root.iter("Say")] == ["cmn-CN", "cmn-CN"]


def test_notifier_wrong_auth_token_raises_notify_error(server: RecordingTwilioServer) -> None:
    wrong = make_twilio_client(server.account_sid, "not-the-token", api_base_url=server.base_url)
    try:
        with pytest.raises(NotifyError, match=r"HTTP 401, code 20003") as caught:
            TwilioSmsNotifier(wrong, FROM).send(SMS)
    finally:
        close_twilio_client(wrong)

    assert not caught.value.retryable
    assert caught.value.provider_code == 20003
    assert isinstance(caught.value.__cause__, TwilioRestException)
    assert [r.auth_ok for r in server.received] == [False]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_notifier_provider_outage_raises_retryable_notify_error(
    server: RecordingTwilioServer, client: Client, status: int
) -> None:
    server.fail_next(1, status=status)
    notifier = TwilioVoiceNotifier(client, FROM)

    with pytest.raises(NotifyError, match=rf"voice call for notification 8 .*HTTP {status}") as e:
        notifier.send(CALL)

    assert e.value.retryable
    assert notifier.send(CALL).status == "sent"  # the outage was one request long


def test_notifier_rejected_message_is_not_retryable(
    server: RecordingTwilioServer, client: Client
) -> None:
    server.fail_next(1, status=400, code=21211, message="Invalid 'To' Phone Number")

    with pytest.raises(NotifyError, match="Invalid 'To' Phone Number") as caught:
        TwilioSmsNotifier(client, FROM).send(SMS)

    assert not caught.value.retryable
    assert caught.value.provider_code == 21211


def test_notifier_slow_provider_raises_notify_error_after_timeout(
    server: RecordingTwilioServer,
) -> None:
    server.delay_next(30.0)
    impatient = make_twilio_client(
        server.account_sid, server.auth_token, api_base_url=server.base_url, timeout_s=0.2
    )
    try:
        with pytest.raises(NotifyError, match=r"unreachable.*Timeout") as caught:
            TwilioSmsNotifier(impatient, FROM).send(SMS)
    finally:
        close_twilio_client(impatient)

    assert caught.value.retryable


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[RecordingTwilioServer, Path]]:
    """A Twilio look-alike on HTTPS with a certificate no public CA signed, and that certificate."""
    certfile, keyfile = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    with RecordingTwilioServer(tls=context) as srv:
        yield srv, certfile


def test_notifier_sends_nothing_to_a_twilio_whose_certificate_it_cannot_verify(
    tls_server: tuple[RecordingTwilioServer, Path],
) -> None:
    server, _ = tls_server
    client = make_twilio_client(server.account_sid, server.auth_token, api_base_url=server.base_url)
    try:
        with pytest.raises(
            NotifyError, match=r"unreachable: SSLError: .*CERTIFICATE_VERIFY_FAILED"
        ):
            TwilioSmsNotifier(client, FROM).send(SMS)
    finally:
        close_twilio_client(client)
    assert server.received == []


def test_notifier_trusts_the_ca_bundle_the_environment_names(
    tls_server: tuple[RecordingTwilioServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # REQUESTS_CA_BUNDLE, as for any program built on requests: a centre behind a TLS proxy.
    server, certfile = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certfile))
    client = make_twilio_client(server.account_sid, server.auth_token, api_base_url=server.base_url)
    try:
        receipt = TwilioSmsNotifier(client, FROM).send(SMS)
    finally:
        close_twilio_client(client)
    assert receipt.status == "sent"
    [request] = server.messages()
    assert (request.auth_ok, request.form["Body"]) == (True, SMS.body)


def test_notifier_unreachable_provider_raises_notify_error() -> None:
    with RecordingTwilioServer() as srv:
        base_url, sid, token = srv.base_url, srv.account_sid, srv.auth_token
    closed = make_twilio_client(sid, token, api_base_url=base_url, timeout_s=2.0)
    try:
        refused = r"unreachable: NewConnectionError: .*Connection refused"
        with pytest.raises(NotifyError, match=refused) as caught:
            TwilioSmsNotifier(closed, FROM).send(SMS)
    finally:
        close_twilio_client(closed)

    assert caught.value.retryable


def test_outbox_notifier_queues_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="alerts.notify.outbox")

    receipt = OutboxNotifier().send(SMS)

    assert receipt == DeliveryReceipt("queued", provider_id="outbox-7")
    # Logs carry a number only as its last 4 digits.
    assert [r.getMessage() for r in caplog.records] == [f"outbox sms to=***{TO[-4:]}: {SMS.body}"]


@pytest.mark.parametrize(
    ("sid", "token", "from_number"),
    [
        (None, None, None),
        ("AC123", "token", None),
        ("AC123", None, FROM),
        (None, "token", FROM),
        ("", "", ""),
    ],
)
def test_notifiers_from_settings_picks_outbox_when_twilio_not_fully_set(
    sid: str | None, token: str | None, from_number: str | None
) -> None:
    notifiers = notifiers_from_settings(sid, token, from_number, None)

    assert set(notifiers) == {Channel.sms, Channel.voice}
    assert all(isinstance(n, OutboxNotifier) for n in notifiers.values())


def test_notifiers_from_settings_picks_twilio_when_configured(
    server: RecordingTwilioServer,
) -> None:
    notifiers = notifiers_from_settings(
        server.account_sid, server.auth_token, FROM, server.base_url
    )
    try:
        assert isinstance(notifiers[Channel.sms], TwilioSmsNotifier)
        assert isinstance(notifiers[Channel.voice], TwilioVoiceNotifier)
        notifiers[Channel.sms].send(SMS)
        notifiers[Channel.voice].send(CALL)
    finally:
        close_twilio_client(notifiers[Channel.sms]._client)  # type: ignore[attr-defined]

    assert [r.resource for r in server.received] == ["Messages", "Calls"]
    assert all(r.form["From"] == FROM for r in server.received)


def test_make_twilio_client_without_base_url_talks_to_twilio() -> None:
    client = make_twilio_client("AC123", "token", timeout_s=3.0)
    try:
        assert type(client.http_client) is ThreadSafeTwilioHttpClient
        assert isinstance(client.http_client, HttpClient)
        assert client.http_client.timeout == 3.0
    finally:
        close_twilio_client(client)


def test_each_sending_thread_gets_its_own_twilio_answer(
    server: RecordingTwilioServer, client: Client
) -> None:
    # twilio-python returns the answer it kept on the client: the sender's threads share
    # one client, so an answer kept by one thread must not be what another one returns.
    first = client.messages.create(to=TO, from_=FROM, body="one")
    http = client.http_client
    seen: list[object] = []
    other = threading.Thread(target=lambda: seen.append(http._test_only_last_response))
    other.start()
    other.join()
    assert seen == [None]
    assert http._test_only_last_response is not None
    assert first.sid == json.loads(http._test_only_last_response.text)["sid"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "http://127.0.0.1:8765/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://api.sydney.au1.twilio.com/2010-04-01/Calls.json?PageSize=5",
            "http://127.0.0.1:8765/2010-04-01/Calls.json?PageSize=5",
        ),
        ("https://example.com/x", "https://example.com/x"),
        ("https://eviltwilio.com/x", "https://eviltwilio.com/x"),
        ("http://api.twilio.com/x", "http://api.twilio.com/x"),
    ],
)
def test_rebased_http_client_rewrites_only_twilio_urls(url: str, expected: str) -> None:
    http_client = RebasedTwilioHttpClient("http://127.0.0.1:8765", timeout=1.0)
    try:
        assert http_client.rebase(url) == expected
    finally:
        http_client.close()


@given(
    path=st.lists(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True), max_size=5),
    query=st.from_regex(r"([A-Za-z0-9]{1,8}=[A-Za-z0-9%]{0,8}&?){0,3}", fullmatch=True),
    prefix=st.sampled_from(["", "/", "/twilio", "/twilio/"]),
)
def test_rebased_http_client_keeps_path_and_query(path: list[str], query: str, prefix: str) -> None:
    http_client = RebasedTwilioHttpClient(f"http://localhost:9{prefix}", timeout=1.0)
    try:
        original = "https://api.twilio.com/" + "/".join(path) + (f"?{query}" if query else "")
        rebased = http_client.rebase(original)
    finally:
        http_client.close()

    suffix = original.removeprefix("https://api.twilio.com")
    assert rebased == "http://localhost:9" + prefix.rstrip("/") + suffix


def test_rebased_http_client_rejects_non_http_base_url() -> None:
    with pytest.raises(ValueError, match="http"):
        RebasedTwilioHttpClient("127.0.0.1:8765")


def test_delivery_receipt_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="delivered"):
        DeliveryReceipt("delivered")  # type: ignore[arg-type]


NotifierFactory = Callable[[Client], Notifier]


@pytest.mark.parametrize(
    ("make_notifier", "message"),
    [
        pytest.param(lambda _c: OutboxNotifier(), SMS, id="outbox-sms"),
        pytest.param(lambda _c: OutboxNotifier(), CALL, id="outbox-voice"),
        pytest.param(lambda c: TwilioSmsNotifier(c, FROM), SMS, id="twilio-sms"),
        pytest.param(lambda c: TwilioVoiceNotifier(c, FROM), CALL, id="twilio-voice"),
    ],
)
def test_notifier_returns_receipt_for_good_message(
    client: Client, make_notifier: NotifierFactory, message: OutboundMessage
) -> None:
    notifier = make_notifier(client)

    receipt = notifier.send(message)

    assert isinstance(notifier, Notifier)
    assert isinstance(receipt, DeliveryReceipt)
    assert receipt.status in {"sent", "queued"}
    assert receipt.provider_id


def test_voice_notifier_speaks_each_message_in_its_own_language_and_voice(
    server: RecordingTwilioServer, client: Client
) -> None:
    notifier = TwilioVoiceNotifier(
        client, FROM, language="zh-CN", voices={"zh-CN": "Polly.Zhiyu", "en": "Polly.Joanna"}
    )
    notifier.send(OutboundMessage(7, Channel.voice, TO, "紧急", say="紧急求助"))
    notifier.send(OutboundMessage(8, Channel.voice, TO, "Help", say="Help", language="en"))
    first, second = (ET.fromstring(c.form["Twiml"]) for c in server.calls())
    assert {(s.get("language"), s.get("voice")) for s in first.iter("Say")} == {
        ("zh-CN", "Polly.Zhiyu")
    }
    assert {(s.get("language"), s.get("voice")) for s in second.iter("Say")} == {
        ("en", "Polly.Joanna")
    }
