"""Phone numbers in one spelling, E.164 ("+8613900000001"), so that a number names one phone.

Numbers are stored and compared in E.164 only: two numbers are the same phone when their
E.164 forms are equal, never when some of their digits agree (a reply from +1 390 000 0001
must not pass for +86 139 0000 0001). Local input ("139 0000 0001") is read in the centre's
region (the `phone_region` setting).
"""

from __future__ import annotations

import functools

import phonenumbers

from care_api.domain.errors import InvalidInput

DEFAULT_REGION = "CN"  # the centre's region when nothing else is set (VNH_PHONE_REGION)


class InvalidPhone(InvalidInput):
    """Not a phone number that can be dialled: refused input, so the API answers 422."""


def checked_region(region: str) -> str:
    """`region` in upper case when phonenumbers knows it ("CN"), else InvalidPhone."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidPhone(f"phone region {region!r} is not an ISO 3166 region code")
    return code


# Pure, and asked again and again for the same few numbers (every SMS reply's sender, every
# contact read): parsing one costs about 0.1 ms. An invalid number raises, which is not kept.
@functools.lru_cache(maxsize=4096)
def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """The E.164 form of `raw`, read as a local number of `region` unless it has "+" or "00".

    Raises:
        InvalidPhone: when `raw` is no valid number (too short, unknown prefix, garbage).
    """
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]  # the international prefix most of the world dials
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"phone {raw!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"phone {raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def e164_or_none(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """The E.164 form of `raw`, or None when it is empty or no valid number (it matches nobody)."""
    if not raw:
        return None
    try:
        return to_e164(raw, region)
    except InvalidPhone:
        return None
