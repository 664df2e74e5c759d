"""Routine alert work in units: presses again in a row share one transaction."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.runtime import PRESSED_AGAIN_BATCH, PressedAgain, routine_units
from care_api.domain.events import CasePressedAgain, CaseStateChanged, DomainEvent
from care_api.domain.model import CaseState


def again(case_id: str) -> CasePressedAgain:
    return CasePressedAgain(case_id, f"T-{case_id}", CaseState.OPEN)


def taken(case_id: str) -> CaseStateChanged:
    return CaseStateChanged(case_id, CaseState.OPEN, CaseState.ACCEPTED, "contact:1", None)


def nobody_told(_case_id: str) -> bool:
    return False


def test_presses_again_in_a_row_are_one_unit_each_case_once() -> None:
    events = [again("C1"), again("C2"), again("C1"), again("C3")]
    assert list(routine_units(events, nobody_told)) == [PressedAgain(["C1", "C2", "C3"])]


def test_another_event_ends_a_run_so_each_case_keeps_its_order() -> None:
    events = [again("C1"), taken("C1"), again("C1"), again("C2")]
    assert list(routine_units(events, nobody_told)) == [
        PressedAgain(["C1"]),
        taken("C1"),
        PressedAgain(["C1", "C2"]),
    ]


def test_presses_again_already_told_of_make_no_unit() -> None:
    events = [again("C1"), again("C2"), taken("C3")]
    assert list(routine_units(events, lambda case_id: case_id == "C1")) == [
        PressedAgain(["C2"]),
        taken("C3"),
    ]


def test_a_unit_holds_at_most_a_batch_of_cases() -> None:
    events = [again(f"C{n}") for n in range(PRESSED_AGAIN_BATCH + 1)]
    units = list(routine_units(events, nobody_told))
    assert [len(u.case_ids) for u in units if isinstance(u, PressedAgain)] == [
        PRESSED_AGAIN_BATCH,
        1,
    ]


@given(st.lists(st.tuples(st.booleans(), st.sampled_from(["C1", "C2", "C3", "C4"])), max_size=40))
def test_every_event_is_handled_in_order_and_no_case_is_lost(
    picks: list[tuple[bool, str]],
) -> None:
    events: list[DomainEvent] = [again(c) if is_again else taken(c) for is_again, c in picks]
    units = list(routine_units(events, nobody_told))
    # Other events pass through in order; every case pressed again is in some unit.
    assert [u for u in units if not isinstance(u, PressedAgain)] == [
        e for e in events if not isinstance(e, CasePressedAgain)
    ]
    told = {c for u in units if isinstance(u, PressedAgain) for c in u.case_ids}
    assert told == {e.case_id for e in events if isinstance(e, CasePressedAgain)}
