"""OutboxNotifier: the default without a Twilio account; messages stay in the outbox and log."""

from __future__ import annotations

import logging

from alerts.ports import DeliveryReceipt, OutboundMessage
from care_api.log_privacy import mask_phone, mask_phones_in

logger = logging.getLogger(__name__)


class OutboxNotifier:
    """Delivers to the local outbox: the caller's notification row plus one INFO log line.

    The caller has already written the notification row (the outbox is that table), so this
    adapter only makes the message visible in the log and reports it queued.
    """

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Log `message` and report it queued in the outbox."""
        logger.info(
            "outbox %s to=%s: %s",
            message.channel,
            mask_phone(message.to),
            mask_phones_in(message.body),
        )
        return DeliveryReceipt("queued", provider_id=f"outbox-{message.notification_id}")
