"""The send bounds' pure rules: which message goes, waits, is held for folding or suppressed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.bounds import (
    Bound,
    Outgoing,
    Recent,
    SendLimits,
    Verdict,
    judge,
    pace,
)
from alerts.sms_segments import sms_segments

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
LIMITS = SendLimits(
    per_case_per_hour=5,
    per_person_per_hour=4,
    per_terminal_per_hour=6,
    overall_per_minute=10,
    emergency_fold_s=120,
)
NOTICE = Outgoing(urgent=False)
ALERT = Outgoing(urgent=True, foldable=True)


def test_bounds_send_a_notice_under_every_bound() -> None:
    assert judge(NOTICE, Recent(3, 4, 5, 9), LIMITS, NOW).verdict is Verdict.SEND


@pytest.mark.parametrize(
    ("recent", "bound"),
    [
        (Recent(about_case=5), Bound.PER_CASE),
        (Recent(to_person=4), Bound.PER_PERSON),
        (Recent(from_terminal=6), Bound.PER_TERMINAL),
    ],
)
def test_bounds_suppress_a_notice_over_an_hourly_bound(recent: Recent, bound: Bound) -> None:
    decision = judge(NOTICE, recent, LIMITS, NOW)
    assert (decision.verdict, decision.bound) == (Verdict.SUPPRESS, bound)
    assert "in the last hour" in decision.why


def test_bounds_make_a_notice_wait_over_the_overall_minute() -> None:
    decision = judge(NOTICE, Recent(overall=10), LIMITS, NOW)
    assert (decision.verdict, decision.bound) == (Verdict.WAIT, Bound.OVERALL)
    assert decision.at == NOW + timedelta(seconds=6)  # 60 s spread over 10 messages


def test_bounds_never_hold_back_an_emergency_alert_by_a_count() -> None:
    every_count_over = Recent(100, 100, 100, 100)
    assert judge(ALERT, every_count_over, LIMITS, NOW).verdict is Verdict.SEND


def test_bounds_fold_an_alert_about_another_emergency_within_the_window() -> None:
    decision = judge(ALERT, Recent(other_alert_at=NOW - timedelta(seconds=30)), LIMITS, NOW)
    assert (decision.verdict, decision.bound) == (Verdict.HOLD, Bound.FOLD)
    assert decision.at == NOW + timedelta(seconds=90)  # when the window ends
    assert "30 s ago" in decision.why


def test_bounds_send_the_alert_once_the_fold_window_passed() -> None:
    decision = judge(ALERT, Recent(other_alert_at=NOW - timedelta(seconds=120)), LIMITS, NOW)
    assert decision.verdict is Verdict.SEND


def test_bounds_switched_off_by_zero() -> None:
    off = SendLimits(0, 0, 0, 0, 0)
    assert judge(NOTICE, Recent(99, 99, 99, 99), off, NOW).verdict is Verdict.SEND
    assert judge(ALERT, Recent(other_alert_at=NOW), off, NOW).verdict is Verdict.SEND


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("[" * 80, 1),  # extended characters take two septets
        ("[" * 81, 2),
        ("王" * 70, 1),
        ("王" * 71, 2),
        ("王" * 134, 2),
        ("王" * 135, 3),
    ],
)
def test_bounds_count_sms_segments(body: str, segments: int) -> None:
    assert sms_segments(body) == segments


def test_bounds_pace_sms_per_sender_number() -> None:
    start, free = pace(None, NOW, 2, 1.0)
    assert (start, free) == (NOW, NOW + timedelta(seconds=2))
    later, free2 = pace(free, NOW + timedelta(seconds=1), 1, 1.0)
    assert (later, free2) == (NOW + timedelta(seconds=2), NOW + timedelta(seconds=3))
    assert pace(free2, NOW, 3, 0) == (NOW, NOW)  # 0: not paced
