"""Phone numbers stay out of the logs: the helpers every log site uses, and a safety net.

Logs travel further than the database (files, collectors, support tickets), so a person's
number appears there only as its last four digits: enough to tell two contacts apart, not
enough to call them.
"""

from __future__ import annotations

import logging
import re

KEPT_DIGITS = 4
MASK = "***"
# A number with a leading "+" (E.164, maybe grouped by spaces or dashes) or "00", or a
# Chinese mobile written bare (11 digits, 1[3-9]…). Not digits inside a word (a Twilio SID,
# a token), and no other bare runs: case numbers (C-20261122-0001), event counters (boot,
# seq up to 2**31) and a watch's 15-digit IMEI in "device=…" must stay readable, or no log
# line could be traced to its event.
_PHONE_IN_TEXT = re.compile(r"(?<![\w+])(?:\+\d(?:[ \-]?\d){6,14}|00\d{8,13}|1[3-9]\d{9})(?!\w)")


def mask_phone(phone: str | None) -> str:
    """`phone` with all but its last four digits hidden ("+8613900000001" → "***0001")."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if not digits:
        return MASK if phone else ""
    return MASK + digits[-KEPT_DIGITS:]


def mask_phones_in(text: str) -> str:
    """`text` with every phone number in it masked (message bodies, provider errors)."""
    return _PHONE_IN_TEXT.sub(lambda found: mask_phone(found.group()), text)


class PhoneMaskFilter(logging.Filter):
    """A handler filter that masks any phone number left in a record's message.

    The log sites mask what they log; this catches what they miss (a library's message, an
    exception's text) before the record is written anywhere.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with its phone numbers masked; never drops it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string: leave it to the handler
            return True
        masked = mask_phones_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # The traceback's text is formatted once and cached here; mask that cache.
            record.exc_text = mask_phones_in(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_phones_in(record.exc_text)
        return True


def install_phone_mask(logger: logging.Logger | None = None) -> None:
    """Put the phone mask on every handler of `logger` (the root logger by default), once."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, PhoneMaskFilter) for f in handler.filters):
            handler.addFilter(PhoneMaskFilter())
