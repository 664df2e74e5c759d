"""Twilio adapters of the Notifier port: SMS, voice calls, and the client that talks to Twilio."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse
from urllib3.exceptions import HTTPError, MaxRetryError

from alerts.notify.outbox import OutboxNotifier
from alerts.notify.twilio_http import RebasedTwilioHttpClient, ThreadSafeTwilioHttpClient
from alerts.ports import Channel, DeliveryReceipt, Notifier, NotifyError, OutboundMessage
from care_api.log_privacy import mask_phone

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
# A short gap lets a startled callee catch the second reading of the message.
VOICE_REPEAT_PAUSE_S = 1

# urllib3's errors: the transport under the client (alerts.notify.twilio_http). OSError for the
# rest of the network's. JSONDecodeError: Twilio (or a proxy in front of it) answered 2xx with
# a body that is not JSON.
_PROVIDER_ERRORS = (TwilioException, HTTPError, OSError, json.JSONDecodeError)
PROVIDER_ERRORS = _PROVIDER_ERRORS  # for the other modules that call Twilio (alerts/calls.py)


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
    http_client: ThreadSafeTwilioHttpClient
    if api_base_url is None:
        http_client = ThreadSafeTwilioHttpClient(timeout=timeout_s)
    else:
        http_client = RebasedTwilioHttpClient(api_base_url, timeout=timeout_s)
    return Client(account_sid, auth_token, http_client=http_client)


def close_twilio_client(client: Client) -> None:
    """Close the pooled connections of a client from make_twilio_client (shutdown and tests)."""
    if isinstance(client.http_client, ThreadSafeTwilioHttpClient):
        client.http_client.close()


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
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason  # urllib3's wrapper says only that no retry was left: none is made
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
