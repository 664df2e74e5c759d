"""SMS segment counts: what a Chinese or an English message costs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.sms_segments import GSM7_BASIC, is_gsm7, sms_segments


def test_sms_segments_english_fits_160_then_153_a_part() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3


def test_sms_segments_one_chinese_character_makes_it_ucs2() -> None:
    assert sms_segments("紧" * 70) == 1
    assert sms_segments("紧" * 71) == 2
    assert sms_segments("a" * 69 + "紧") == 1
    assert sms_segments("紧" * 134) == 2
    assert sms_segments("紧" * 135) == 3


def test_sms_segments_extension_characters_take_two_septets() -> None:
    assert sms_segments("€" * 80) == 1
    assert sms_segments("€" * 81) == 2


@given(st.text(alphabet=sorted(GSM7_BASIC), max_size=1000))
def test_sms_segments_gsm7_never_fewer_than_its_length_allows(text: str) -> None:
    n = sms_segments(text)
    assert n >= 1
    assert len(text) <= (160 if n == 1 else 153 * n)


@given(st.text(min_size=1, max_size=500).filter(lambda s: not is_gsm7(s)))
def test_sms_segments_ucs2_parts_hold_at_most_67_units(text: str) -> None:
    n = sms_segments(text)
    units = len(text.encode("utf-16-le")) // 2
    assert units <= (70 if n == 1 else 67 * n)
    assert n == 1 or units > 67 * (n - 1)
