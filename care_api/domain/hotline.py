"""The hotline's rules: the elder's menu keys, who a caller is, and the 5-minute callback."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from care_api.domain.model import ServiceLine

# 遇忙时5分钟内回拨: a call nobody at the centre answered is called back within this.
CALLBACK_WITHIN = timedelta(minutes=5)
# How long the elder's menu waits for a key; silence then is an emergency (as a long press).
MENU_TIMEOUT_S = 5
# About three rings of a Chinese line (1 s on, 4 s off): the operators' phones ring this long.
DIAL_TIMEOUT_S = 18
OPERATOR_KEY = "0"
# The elder's menu: emergency aid first, as on the terminal, then the other four lines.
MENU_KEYS: dict[str, ServiceLine] = {
    "1": ServiceLine.EMERGENCY,
    "2": ServiceLine.LIFE_CARE,
    "3": ServiceLine.MEDICAL,
    "4": ServiceLine.LEGAL,
    "5": ServiceLine.CARE_HOME,
}
# Twilio's DialCallStatus values that mean no operator took the call.
UNANSWERED_DIAL = frozenset({"busy", "no-answer", "failed", "canceled"})
# Final CallStatus values of the caller's own leg (its status callback).
CALL_ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class CallerKind(StrEnum):
    """Who rang the centre, as recognised by their number."""

    ELDER = "elder"
    CONTACT = "contact"
    VOLUNTEER = "volunteer"
    MERCHANT = "merchant"
    SUPERVISOR = "supervisor"
    STRANGER = "stranger"


class CallStatus(StrEnum):
    """Where an inbound call stands: `missed` ones wait for their callback."""

    MENU = "menu"  # an elder choosing a line
    PROMPT = "prompt"  # a contact or volunteer hearing a case they were alerted to
    DIALING = "dialing"  # ringing the operators on duty
    ANSWERED = "answered"  # an operator took it
    HANDLED = "handled"  # the caller got what they rang for without an operator
    MISSED = "missed"  # nobody answered: a callback is due
    SMS = "sms"  # a text message to the centre's number


# A caller still waiting for the centre when their call ends was not served.
WAITING = frozenset({CallStatus.MENU, CallStatus.DIALING})


class Choice(StrEnum):
    """What an elder's key (or silence) asks for, besides a service line."""

    OPERATOR = "operator"


def menu_choice(digits: str | None) -> ServiceLine | Choice:
    """The line an elder's key picks: silence is emergency aid, a key off the menu an operator.

    No key within the menu's time is taken as an elder who cannot speak or press: the same
    as a long press. A key outside the menu reaches an operator rather than hanging up.
    """
    key = (digits or "").strip()[:1]
    if not key:
        return ServiceLine.EMERGENCY
    return MENU_KEYS.get(key, Choice.OPERATOR)


def callback_due(missed_at: datetime) -> datetime:
    """When a call missed at `missed_at` must have been called back."""
    return missed_at + CALLBACK_WITHIN


def called_back_in_time(due_at: datetime, called_back_at: datetime | None) -> bool:
    """True when the callback was made by its due time."""
    return called_back_at is not None and called_back_at <= due_at
