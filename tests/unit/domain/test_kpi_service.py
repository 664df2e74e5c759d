"""The service figures, pure: speed by kind, merchants' contact in time, overdue matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from care_api.domain.kpi import CaseFacts
from care_api.domain.kpi_service import (
    ContactFacts,
    DeadlineFacts,
    compute_service_kpi,
)
from care_api.domain.model import CaseKind, CaseState

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def turn(outcome: str, contacted_after_min: float | None = None) -> ContactFacts:
    contacted = T0 + contacted_after_min * MIN if contacted_after_min is not None else None
    return ContactFacts(T0, T0 + 10 * MIN, contacted, outcome)


def test_service_kpi_merchant_turns_count_in_time_contacts_only() -> None:
    turns = [
        turn("contacted", 3),
        turn("contacted", 10),  # exactly on the limit still counts
        turn("contacted", 12),  # confirmed late
        turn("missed"),
        turn("declined"),
        turn("withdrawn"),  # the order was cancelled: says nothing about the merchant
        turn("pending"),  # still within its 10 minutes at `now`
    ]
    kpi = compute_service_kpi([], turns, [], now=T0 + 5 * MIN)
    assert (kpi.merchant_turns, kpi.merchant_contacts_in_time) == (5, 2)
    assert kpi.merchant_contact_rate == pytest.approx(2 / 5)
    later = compute_service_kpi([], [turn("pending")], [], now=T0 + 11 * MIN)
    assert (later.merchant_turns, later.merchant_contact_rate) == (1, 0.0)  # ran out: a miss


def test_service_kpi_overdue_is_late_or_still_open_past_due() -> None:
    due = T0 + timedelta(days=1)
    deadlines = [
        DeadlineFacts("C-1", due, settled_at=due - MIN),
        DeadlineFacts("C-2", due, settled_at=due + MIN),
        DeadlineFacts("C-3", due, settled_at=None),
        DeadlineFacts("C-4", due, settled_at=None, cancelled=True),
    ]
    kpi = compute_service_kpi([], [], deadlines, now=due + timedelta(hours=1))
    assert (kpi.deadlines, kpi.overdue, kpi.overdue_case_ids) == (3, 2, ["C-2", "C-3"])
    early = compute_service_kpi([], [], deadlines, now=due - timedelta(hours=1))
    assert early.overdue == 1  # only the one answered late


def test_service_kpi_ack_percentiles_by_kind_and_the_kind_state_table() -> None:
    cases = [
        CaseFacts(CaseKind.EMERGENCY, CaseState.ACCEPTED, T0, acknowledged_at=T0 + s * MIN)
        for s in (1, 2, 3, 10)
    ] + [CaseFacts(CaseKind.CARE, CaseState.OPEN, T0)]
    kpi = compute_service_kpi(cases, [], [], now=T0)
    emergency = kpi.ack_by_kind["emergency"]
    assert (emergency.count, emergency.p50_s, emergency.p90_s) == (4, 120.0, 600.0)
    assert kpi.ack_by_kind["care"].count == 0 and kpi.ack_by_kind["care"].p50_s is None
    assert kpi.by_kind_state["emergency"]["accepted"] == 4
    assert kpi.by_kind_state["care"]["open"] == 1
    assert sum(kpi.by_kind_state["device"].values()) == 0
