"""Twilio adapters of the Notifier port: SMS, voice calls, and the client that talks to Twilio."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from alerts.notify.outbox import OutboxNotifier
from alerts.ports import Channel, DeliveryReceipt, Notifier, NotifyError, OutboundMessage
from care_api.log_privacy import mask_phone

if TYPE_CHECKING:
    from twilio.http.response import Response

logger = logging.getLogger(__name__)
# twilio-python logs every request at INFO, ten lines with its headers: more log than the
# rest of a message's work, on the sender's threads. Its warnings and errors still show.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

DEFAULT_TIMEOUT_S = 10.0
# A short gap lets a startled callee catch the second reading of the message.
VOICE_REPEAT_PAUSE_S = 1
TWILIO_DOMAIN = "twilio.com"

# requests.RequestException already derives from OSError; named for whoever reads this list.
# JSONDecodeError: Twilio (or a proxy in front of it) answered 2xx with a body that is not JSON.
_PROVIDER_ERRORS = (TwilioException, requests.RequestException, OSError, json.JSONDecodeError)
PROVIDER_ERRORS = _PROVIDER_ERRORS  # for the other modules that call Twilio (alerts/calls.py)


MergeSettings = Callable[[str, Any, Any, Any, Any], dict[str, Any]]


def _settled(merge: MergeSettings) -> MergeSettings:
    """`requests.Session.merge_environment_settings`, read from the environment once per host.

    requests reads the proxy variables (and the CA bundle ones) before every request: a
    fifth of a message's CPU in the sending threads. The service's environment does not
    change while it runs, and these requests go to one or two hosts.
    """
    settled: dict[tuple[str, str, Any, Any, Any, Any], dict[str, Any]] = {}
    lock = threading.Lock()

    def merge_once(url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:  # noqa: ANN401
        parts = urlsplit(url)
        key = (
            parts.scheme,
            parts.netloc,
            tuple(sorted((proxies or {}).items())),
            stream,
            verify,
            cert,
        )
        with lock:
            found = settled.get(key)
        if found is None:
            found = merge(url, proxies, stream, verify, cert)
            with lock:
                settled[key] = found
        return dict(found)  # the caller's own copy

    return merge_once


class ThreadSafeTwilioHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """A TwilioHttpClient that several threads may send through at once.

    twilio-python keeps each response on the client (`_test_only_last_response`) and
    returns it from there: two requests in flight at once could each get the other's
    answer (and record the other message's SID). Here each thread keeps its own.
    """

    def __init__(self, *, timeout: float | None = None) -> None:
        self._mine = threading.local()  # before the base class sets the attributes below
        super().__init__(timeout=timeout)
        if self.session is not None:
            self.session.merge_environment_settings = _settled(
                self.session.merge_environment_settings
            )

    @property
    def _test_only_last_request(self) -> object:
        return getattr(self._mine, "request", None)

    @_test_only_last_request.setter
    def _test_only_last_request(self, value: object) -> None:
        self._mine.request = value

    @property
    def _test_only_last_response(self) -> Response | None:
        return getattr(self._mine, "response", None)

    @_test_only_last_response.setter
    def _test_only_last_response(self, value: Response | None) -> None:
        self._mine.response = value


class RebasedTwilioHttpClient(ThreadSafeTwilioHttpClient):
    """A TwilioHttpClient that sends every request meant for https://*.twilio.com elsewhere.

    twilio-python has no base-URL option; tests and Twilio-compatible gateways use this instead.
    The scheme and host (plus any path prefix of `api_base_url`) replace Twilio's; the path and
    query of the request are kept.
    """

    def __init__(self, api_base_url: str, *, timeout: float | None = None) -> None:
        base = urlsplit(api_base_url)
        if base.scheme not in {"http", "https"} or not base.netloc:
            raise ValueError(f"api_base_url must be an http(s) URL, got {api_base_url!r}")
        super().__init__(timeout=timeout)
        self._base: SplitResult = base

    def rebase(self, url: str) -> str:
        """Return `url` pointed at the base URL when it is a Twilio API URL, else unchanged."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not (
            host == TWILIO_DOMAIN or host.endswith("." + TWILIO_DOMAIN)
        ):
            return url
        path = self._base.path.rstrip("/") + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, parts.fragment))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def make_twilio_client(
    account_sid: str,
    auth_token: str,
    api_base_url: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Client:
    """Build a Twilio REST client with a request timeout.

    Args:
        account_sid: The account SID ("AC…").
        auth_token: The account's auth token.
        api_base_url: Send requests here instead of https://api.twilio.com (tests only);
            None in production.
        timeout_s: Connect and read timeout of every request, in seconds.
    """
    http_client: TwilioHttpClient
    if api_base_url is None:
        http_client = ThreadSafeTwilioHttpClient(timeout=timeout_s)
    else:
        http_client = RebasedTwilioHttpClient(api_base_url, timeout=timeout_s)
    return Client(account_sid, auth_token, http_client=http_client)


def close_twilio_client(client: Client) -> None:
    """Close the pooled connections of a client from make_twilio_client (shutdown and tests)."""
    session = getattr(client.http_client, "session", None)
    if session is not None:
        session.close()


def build_call_twiml(text: str, *, language: str | None = None, voice: str | None = None) -> str:
    """TwiML that says `text` twice with a short pause between; no language unless given."""
    response = VoiceResponse()
    response.say(text, voice=voice, language=language)
    response.pause(length=VOICE_REPEAT_PAUSE_S)
    response.say(text, voice=voice, language=language)
    return str(response)


def _notify_error(what: str, message: OutboundMessage, exc: Exception) -> NotifyError:
    """Translate a Twilio or transport failure into a NotifyError that says what happened."""
    prefix = f"{what} for notification {message.notification_id} to {message.to}"
    if isinstance(exc, TwilioRestException):
        # Twilio's own __str__ adds terminal colours; build the text from the fields instead.
        status = int(exc.status)
        return NotifyError(
            f"{prefix}: Twilio refused it (HTTP {status}, code {exc.code}): {exc.msg}",
            retryable=status == 429 or status >= 500,
            provider_code=exc.code,
        )
    if isinstance(exc, TwilioServiceException):
        status = int(exc.status)
        reason = f"{exc.title}: {exc.detail}" if exc.detail else exc.title
        return NotifyError(
            f"{prefix}: Twilio refused it (HTTP {status}, code {exc.code}): {reason}",
            retryable=status == 429 or status >= 500,
            provider_code=exc.code,
        )
    if isinstance(exc, TwilioException):
        return NotifyError(f"{prefix}: Twilio client error: {exc}", retryable=False)
    return NotifyError(f"{prefix}: Twilio unreachable: {type(exc).__name__}: {exc}")


class TwilioSmsNotifier:
    """Sends SMS through Twilio's Messages API."""

    def __init__(
        self, client: Client, from_number: str, status_callback: str | None = None
    ) -> None:
        self._client = client
        self._from = from_number
        self._status_callback = status_callback

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Hand `message.body` to Twilio; raise NotifyError if Twilio refuses or is unreachable."""
        extra: dict[str, str] = {}
        if self._status_callback:
            extra["status_callback"] = self._status_callback
        try:
            sent = self._client.messages.create(
                to=message.to, from_=self._from, body=message.body, **extra
            )
        except _PROVIDER_ERRORS as exc:
            raise _notify_error("sms", message, exc) from exc
        logger.info(
            "twilio sms %s to=%s sid=%s", message.notification_id, mask_phone(message.to), sent.sid
        )
        return DeliveryReceipt("sent", provider_id=sent.sid, detail=f"twilio status {sent.status}")


class TwilioVoiceNotifier:
    """Places voice calls through Twilio's Calls API that read the message out twice."""

    def __init__(
        self,
        client: Client,
        from_number: str,
        status_callback: str | None = None,
        *,
        language: str | None = None,
        voice: str | None = None,
        prompt_url: str | None = None,
        voices: Mapping[str, str | None] | None = None,
    ) -> None:
        self._client = client
        self._from = from_number
        self._status_callback = status_callback
        # The language a message without one of its own is spoken in, and a voice per language.
        self._language = language
        self._voice = voice
        self._voices = dict(voices or {})
        # Our voice webhook: it says who needs help and where, and gathers "press 1".
        self._prompt_url = prompt_url

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Call `message.to`; raise NotifyError on failure.

        With a prompt URL Twilio fetches the press-1 prompt from our webhook; without one
        (no public URL to reach us) the message is read out inline, twice.
        """
        extra: dict[str, str] = {}
        if self._status_callback:
            extra["status_callback"] = self._status_callback
        if self._prompt_url:
            extra.update(url=self._prompt_url, method="POST")
        else:
            language = message.language or self._language
            voice = self._voices.get(language or "") or self._voice
            extra["twiml"] = build_call_twiml(message.spoken_text, language=language, voice=voice)
        try:
            call = self._client.calls.create(to=message.to, from_=self._from, **extra)
        except _PROVIDER_ERRORS as exc:
            raise _notify_error("voice call", message, exc) from exc
        logger.info(
            "twilio call %s to=%s sid=%s", message.notification_id, mask_phone(message.to), call.sid
        )
        return DeliveryReceipt("sent", provider_id=call.sid, detail=f"twilio status {call.status}")


def notifiers_from_settings(
    account_sid: str | None,
    auth_token: str | None,
    from_number: str | None,
    api_base_url: str | None,
) -> dict[Channel, Notifier]:
    """Pick the adapter for each channel: Twilio when fully configured, else the local outbox.

    Args:
        account_sid: VNH_TWILIO_ACCOUNT_SID.
        auth_token: VNH_TWILIO_AUTH_TOKEN (the secret's value).
        from_number: VNH_TWILIO_FROM, the number messages and calls come from.
        api_base_url: A Twilio-compatible server to use instead of Twilio (tests); else None.
    """
    if not (account_sid and auth_token and from_number):
        named = {"account sid": account_sid, "auth token": auth_token, "from number": from_number}
        missing = [name for name, value in named.items() if not value]
        if len(missing) < len(named):
            logger.warning(
                "Twilio is only partly configured (missing %s): notifications go to the outbox",
                ", ".join(missing),
            )
        else:
            logger.info("no Twilio account configured: notifications go to the local outbox")
        outbox = OutboxNotifier()
        return {Channel.sms: outbox, Channel.voice: outbox}
    client = make_twilio_client(account_sid, auth_token, api_base_url)
    return {
        Channel.sms: TwilioSmsNotifier(client, from_number),
        Channel.voice: TwilioVoiceNotifier(client, from_number),
    }
