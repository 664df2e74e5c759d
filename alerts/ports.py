"""The Notifier port: what the alerts core hands to an SMS or voice adapter and gets back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

from care_api.domain.channels import Channel

__all__ = [
    "DELIVERY_STATUSES",
    "Channel",
    "DeliveryReceipt",
    "DeliveryStatus",
    "Notifier",
    "NotifyError",
    "OutboundMessage",
]

DeliveryStatus = Literal["sent", "queued", "failed"]
DELIVERY_STATUSES: frozenset[str] = frozenset(get_args(DeliveryStatus))


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One notification to deliver.

    Attributes:
        notification_id: Id of the notification row the caller wrote first.
        channel: The channel (care_api.domain.channels): SMS, voice call, WeChat.
        to: The recipient's address on that channel: an E.164 phone number
            ("+8613800000000") or a WeChat openid.
        body: The SMS text; for a voice call, the text that is logged and shown.
        say: For a voice call, the text spoken to the callee; None means speak `body`.
        language: The language of `body` and `say` (BCP 47: zh-CN, en); None: the centre's.
        case_id: The case the message is about, if any (a WeChat template shows it).
        key: The row's idempotency key, which says what the message is (a ladder's alert,
            an order); None: a row without one.
    """

    notification_id: int
    channel: Channel
    to: str
    body: str
    say: str | None = None
    language: str | None = None
    case_id: str | None = None
    key: str | None = None

    @property
    def spoken_text(self) -> str:
        """The text a voice call speaks: `say` when given, else `body`."""
        return self.say if self.say is not None else self.body


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What a notifier reports about one message.

    Attributes:
        status: "sent" (the provider accepted it), "queued" (kept locally) or "failed".
        provider_id: The provider's id (a Twilio SID) or the outbox id.
        detail: Free text for the notification row, e.g. a reason for failure.
    """

    status: DeliveryStatus
    provider_id: str | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.status not in DELIVERY_STATUSES:
            raise ValueError(
                f"delivery status must be one of {sorted(DELIVERY_STATUSES)}, got {self.status!r}"
            )


class NotifyError(Exception):
    """A message could not be handed to the provider; the caller marks it failed.

    Attributes:
        retryable: False when sending the same message again cannot help (bad credentials,
            an invalid number); True for outages, rate limits and network errors.
        provider_code: The provider's error code (Twilio's 2xxxx codes), when it gave one.
    """

    def __init__(
        self, message: str, *, retryable: bool = True, provider_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.provider_code = provider_code


@runtime_checkable
class Notifier(Protocol):
    """Delivers one message on one channel."""

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Deliver `message`, or raise NotifyError when the provider refused or was unreachable."""
        ...
