"""The no-activity watch's rule, pure: wait, prompt, answered, case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from care_api.domain.quiet import QuietAction, QuietDecision, check_periods, decide

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
QUIET, GRACE = timedelta(hours=13), timedelta(minutes=15)
H = timedelta(hours=1)


def at(
    now: datetime, last: datetime, prompted: datetime | None = None, away: bool = False
) -> QuietDecision:
    return decide(
        now=now, last_activity=last, prompted_at=prompted, quiet=QUIET, grace=GRACE, away=away
    )


def test_waits_until_the_quiet_period_after_the_last_sign_of_life() -> None:
    assert at(T0 + 12 * H, T0) == QuietDecision(QuietAction.WAIT, T0 + QUIET)


def test_prompts_once_quiet_then_waits_out_the_grace() -> None:
    now = T0 + QUIET
    assert at(now, T0) == QuietDecision(QuietAction.PROMPT, now + GRACE)
    assert at(now + GRACE / 2, T0, prompted=now) == QuietDecision(QuietAction.WAIT, now + GRACE)


def test_a_press_after_the_prompt_answers_it() -> None:
    prompted = T0 + QUIET
    pressed = prompted + timedelta(minutes=3)
    decision = at(prompted + GRACE, pressed, prompted=prompted)
    assert decision == QuietDecision(QuietAction.ANSWERED, pressed + QUIET)


def test_no_press_after_the_grace_opens_a_case_and_a_new_period() -> None:
    prompted = T0 + QUIET
    now = prompted + GRACE
    assert at(now, T0, prompted=prompted) == QuietDecision(QuietAction.CASE, now + QUIET)


def test_an_away_elder_is_not_prompted() -> None:
    now = T0 + 20 * H
    assert at(now, T0, away=True) == QuietDecision(QuietAction.WAIT, now + QUIET)


@pytest.mark.parametrize(("quiet_h", "grace_min"), [(0.5, 15), (73, 15), (13, 0), (13, 121)])
def test_periods_out_of_range_are_refused(quiet_h: float, grace_min: int) -> None:
    with pytest.raises(ValueError):
        check_periods(timedelta(hours=quiet_h), timedelta(minutes=grace_min))
