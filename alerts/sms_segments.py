"""How many SMS segments a text costs: GSM-7 (160, 153 when split) or UCS-2 (70, 67).

A single Chinese character makes the whole message UCS-2, so a Chinese alert has 70
characters a segment; the count goes on the notification row and into /metrics.
"""

from __future__ import annotations

import math

# GSM 03.38 default alphabet, and the extension table whose characters take two septets.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
GSM7_SINGLE_SEPTETS = 160
GSM7_PART_SEPTETS = 153  # a split message gives 7 septets of each part to its header
UCS2_SINGLE_UNITS = 70
UCS2_PART_UNITS = 67


def is_gsm7(text: str) -> bool:
    """True when every character of `text` has a GSM-7 encoding."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def sms_segments(text: str) -> int:
    """The number of segments `text` is sent as (at least one)."""
    if is_gsm7(text):
        length = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, part = GSM7_SINGLE_SEPTETS, GSM7_PART_SEPTETS
    else:
        # UTF-16 code units: a character outside the BMP (an emoji) takes two.
        length = len(text.encode("utf-16-le")) // 2
        single, part = UCS2_SINGLE_UNITS, UCS2_PART_UNITS
    return 1 if length <= single else math.ceil(length / part)
