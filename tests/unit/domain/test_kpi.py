"""The centre's figures: rates, percentiles, local days, and reading callbacks back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from care_api.domain.kpi import (
    CallbackFacts,
    CaseFacts,
    compute_kpi,
    percentile,
)
from care_api.domain.model import CaseKind, CaseState

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai


def case(
    kind: CaseKind = CaseKind.EMERGENCY,
    state: CaseState = CaseState.OPEN,
    *,
    at: datetime = T0,
    ack_after_s: float | None = None,
    resolved: bool = False,
) -> CaseFacts:
    return CaseFacts(
        kind=kind,
        state=state,
        opened_at=at,
        acknowledged_at=at + timedelta(seconds=ack_after_s) if ack_after_s is not None else None,
        resolved_at=at + timedelta(minutes=30) if resolved else None,
    )


def test_kpi_rates_leave_cancelled_cases_out_of_completion() -> None:
    cases = [
        case(state=CaseState.CLOSED, ack_after_s=30, resolved=True),
        case(CaseKind.CARE, CaseState.RESOLVED, ack_after_s=90, resolved=True),
        case(CaseKind.SERVICE, CaseState.OPEN),
        case(CaseKind.SERVICE, CaseState.CANCELLED),
        case(CaseKind.CARE, CaseState.CLOSED),  # cancelled, then closed after the check-in call
    ]
    kpi = compute_kpi(
        cases,
        [CallbackFacts(satisfaction=5), CallbackFacts(satisfaction=2)],
        since=T0 - timedelta(days=1),
        until=T0 + timedelta(days=1),
        tz=SHANGHAI,
    )
    assert kpi.total == 5
    assert kpi.by_kind == {"emergency": 1, "care": 2, "service": 2, "consult": 0, "device": 0}
    assert kpi.by_state["closed"] == 2
    assert kpi.completion_rate == pytest.approx(2 / 3)
    assert kpi.callback_rate == pytest.approx(1 / 2)
    assert kpi.satisfaction_rate == pytest.approx(1 / 2)
    assert (kpi.ack_count, kpi.ack_p50_s, kpi.ack_p90_s) == (2, 30.0, 90.0)


def test_kpi_with_no_cases_has_no_rates() -> None:
    kpi = compute_kpi([], [], since=T0, until=T0 + timedelta(days=1), tz=SHANGHAI)
    assert (kpi.total, kpi.completion_rate, kpi.satisfaction_rate, kpi.ack_p50_s) == (
        0,
        None,
        None,
        None,
    )


def test_kpi_counts_days_in_the_centres_time_zone() -> None:
    # 15:59 UTC is 23:59 in Shanghai; 16:00 UTC is already the next local day.
    late = datetime(2026, 11, 22, 15, 59, tzinfo=UTC)
    kpi = compute_kpi(
        [case(at=late), case(CaseKind.CARE, at=late + timedelta(minutes=1))],
        [],
        since=datetime(2026, 11, 21, 16, 0, tzinfo=UTC),
        until=datetime(2026, 11, 23, 16, 0, tzinfo=UTC),
        tz=SHANGHAI,
    )
    assert [(d.day, d.counts["emergency"], d.counts["care"]) for d in kpi.per_day] == [
        ("2026-11-22", 1, 0),
        ("2026-11-23", 0, 1),
    ]


def test_kpi_ignores_cases_outside_the_period() -> None:
    kpi = compute_kpi(
        [case(at=T0 - timedelta(seconds=1)), case(at=T0), case(at=T0 + timedelta(hours=1))],
        [],
        since=T0,
        until=T0 + timedelta(hours=1),
        tz=SHANGHAI,
    )
    assert kpi.total == 1


def test_kpi_refuses_an_empty_or_huge_period() -> None:
    with pytest.raises(ValueError, match="end after"):
        compute_kpi([], [], since=T0, until=T0, tz=SHANGHAI)
    with pytest.raises(ValueError, match="366"):
        compute_kpi([], [], since=T0, until=T0 + timedelta(days=400), tz=SHANGHAI)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.0
    assert percentile(values, 0.9) == 9.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.5) is None


def test_kpi_an_unreached_elder_gives_no_score() -> None:
    facts = CallbackFacts(reached=False, satisfaction=None)
    kpi = compute_kpi([], [facts], since=T0, until=T0 + timedelta(days=1), tz=SHANGHAI)
    assert (kpi.callbacks, kpi.satisfaction_rate) == (1, None)
