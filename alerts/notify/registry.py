"""The one place a channel's notifier adapter is registered, and the check that all are.

Every person channel of `care_api.domain.channels` has a factory here. A factory builds the
channel's adapter from the settings, or returns None when the channel is not configured
(WeChat without an account): nobody is reached on it then, and people are reached on their
other channels. A channel with no factory at all is a programming error: `vnh serve` refuses
to start and the alerts engine raises, rather than leaving its messages unsent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from twilio.rest import Client

from alerts.notify.outbox import OutboxNotifier
from alerts.notify.twilio import (
    TwilioSmsNotifier,
    TwilioVoiceNotifier,
    close_twilio_client,
    make_twilio_client,
    notifiers_from_settings,
)
from alerts.notify.wechat import WechatApi, WechatTemplateNotifier
from alerts.ports import Notifier
from care_api.domain.channels import PERSON_CHANNELS, Channel
from care_api.i18n import CHINESE, ENGLISH, language_of
from care_api.settings import Settings

log = logging.getLogger(__name__)


class ChannelWithoutAdapter(RuntimeError):
    """A declared channel has no notifier adapter registered: its messages could not go out."""


@dataclass
class AdapterContext:
    """What factories share: the settings, Twilio's webhook base URL, one Twilio client."""

    settings: Settings
    twilio_webhooks: str | None = None  # e.g. https://vnh.example.org/webhooks/twilio
    closers: list[Callable[[], None]] = field(default_factory=list)
    _twilio: Client | None = None

    def twilio(self) -> Client | None:
        """The Twilio client (built once), or None without a full Twilio account."""
        s = self.settings
        token = s.twilio_auth_token.get_secret_value() if s.twilio_auth_token else None
        if not (s.twilio_account_sid and token and s.twilio_from):
            return None
        if self._twilio is None:
            self._twilio = make_twilio_client(s.twilio_account_sid, token, s.twilio_api_url)
            client = self._twilio
            self.closers.append(lambda: close_twilio_client(client))
        return self._twilio

    def outbox(self) -> Notifier:
        """The local outbox; warns once about a half-done Twilio configuration."""
        s = self.settings
        token = s.twilio_auth_token.get_secret_value() if s.twilio_auth_token else None
        return notifiers_from_settings(s.twilio_account_sid, token, s.twilio_from, None)[
            Channel.sms
        ]


AdapterFactory = Callable[[AdapterContext], Notifier | None]


def _sms(ctx: AdapterContext) -> Notifier | None:
    client = ctx.twilio()
    if client is None or not ctx.settings.twilio_from:
        return ctx.outbox()
    callback = f"{ctx.twilio_webhooks}/status" if ctx.twilio_webhooks else None
    return TwilioSmsNotifier(client, ctx.settings.twilio_from, callback)


def _voice(ctx: AdapterContext) -> Notifier | None:
    client = ctx.twilio()
    s = ctx.settings
    if client is None or not s.twilio_from:
        return OutboxNotifier()
    base = ctx.twilio_webhooks
    return TwilioVoiceNotifier(
        client,
        s.twilio_from,
        f"{base}/status" if base else None,
        prompt_url=f"{base}/voice" if base else None,
        language=language_of(s.language),
        voices={CHINESE: s.twilio_voice_zh, ENGLISH: s.twilio_voice_en},
    )


def _wechat(ctx: AdapterContext) -> Notifier | None:
    s = ctx.settings
    if not (s.wechat_configured and s.wechat_app_id and s.wechat_app_secret):
        return None  # off: people with WeChat are reached by SMS
    api = WechatApi(
        s.wechat_app_id, s.wechat_app_secret.get_secret_value(), base_url=s.wechat_api_base
    )
    ctx.closers.append(api.close)
    return WechatTemplateNotifier(api, str(s.wechat_template_id))


# One line per channel: adding a channel is its adapter file plus its line here.
ADAPTERS: dict[Channel, AdapterFactory] = {
    Channel.sms: _sms,
    Channel.voice: _voice,
    Channel.wechat: _wechat,
}


def adapter_config_error(adapters: Mapping[Channel, AdapterFactory] | None = None) -> str | None:
    """Why the alerts cannot start: a declared channel without an adapter; None when all have."""
    registered = ADAPTERS if adapters is None else adapters
    missing = [c for c in PERSON_CHANNELS if Channel(c) not in registered]
    if not missing:
        return None
    return (
        f"channel(s) {', '.join(missing)} declared in care_api/domain/channels.py have no "
        "notifier adapter: register one in alerts/notify/registry.py (ADAPTERS), or their "
        "messages would never be sent"
    )


def build_notifiers(
    settings: Settings,
    *,
    twilio_webhooks: str | None = None,
    adapters: Mapping[Channel, AdapterFactory] | None = None,
) -> tuple[dict[Channel, Notifier], list[Callable[[], None]]]:
    """Each configured channel's adapter, and what to call to close them on shutdown.

    Raises ChannelWithoutAdapter when a declared channel has no adapter registered.
    """
    registered = ADAPTERS if adapters is None else adapters
    problem = adapter_config_error(registered)
    if problem is not None:
        raise ChannelWithoutAdapter(problem)
    ctx = AdapterContext(settings, twilio_webhooks)
    notifiers: dict[Channel, Notifier] = {}
    for channel, factory in registered.items():
        notifier = factory(ctx)
        if notifier is not None:
            notifiers[channel] = notifier
    off = [c.value for c in registered if c not in notifiers]
    if off:
        log.info("channels not configured (people are reached on their others): %s", off)
    return notifiers, ctx.closers
