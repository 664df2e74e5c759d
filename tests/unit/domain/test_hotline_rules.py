"""The hotline's rules: the elder's menu keys and the 5-minute callback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.hotline import (
    MENU_KEYS,
    Choice,
    callback_due,
    called_back_in_time,
    menu_choice,
)
from care_api.domain.model import ServiceLine

MISSED = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_the_menu_puts_emergency_aid_first_and_every_line_on_a_key() -> None:
    assert menu_choice("1") is ServiceLine.EMERGENCY
    assert set(MENU_KEYS.values()) == set(ServiceLine)
    assert menu_choice("0") is Choice.OPERATOR


def test_silence_is_an_emergency_like_a_long_press() -> None:
    assert menu_choice("") is ServiceLine.EMERGENCY
    assert menu_choice(None) is ServiceLine.EMERGENCY
    assert menu_choice("  ") is ServiceLine.EMERGENCY


@given(st.text(max_size=5))
def test_any_key_reaches_a_line_or_an_operator_never_nothing(digits: str) -> None:
    choice = menu_choice(digits)
    key = digits.strip()[:1]
    if key in MENU_KEYS:
        assert choice is MENU_KEYS[key]
    elif key:
        assert choice is Choice.OPERATOR
    else:
        assert choice is ServiceLine.EMERGENCY


def test_a_missed_call_is_due_back_in_5_minutes_and_on_time_up_to_then() -> None:
    due = callback_due(MISSED)
    assert due == MISSED + timedelta(minutes=5)
    assert called_back_in_time(due, due)
    assert not called_back_in_time(due, due + timedelta(seconds=1))
    assert not called_back_in_time(due, None)
