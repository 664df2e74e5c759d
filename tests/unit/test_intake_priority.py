"""Intake first: alerts and case news wait for a burst of presses to be over, not longer."""

from __future__ import annotations

import math
import threading

import pytest

from care_api.priority import IntakePriority, calm_needed


class ManualClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_calm_needed_is_infinite_while_the_intake_works() -> None:
    assert calm_needed(busy=1, last_busy_at=0.0, now=50.0, calm_s=0.015) == math.inf


def test_calm_needed_counts_down_from_the_intake_s_last_work() -> None:
    assert calm_needed(busy=0, last_busy_at=10.0, now=10.005, calm_s=0.015) == (
        10.0 + 0.015 - 10.005
    )
    assert calm_needed(busy=0, last_busy_at=10.0, now=10.015, calm_s=0.015) == 0.0
    assert calm_needed(busy=0, last_busy_at=-math.inf, now=0.0, calm_s=0.015) == 0.0


def test_a_quiet_intake_lets_background_work_through_at_once() -> None:
    priority = IntakePriority(monotonic=ManualClock())
    assert priority.step_aside(max_s=0.0) is True


def test_the_calm_after_a_run_is_waited_for_and_then_over() -> None:
    clock = ManualClock()
    priority = IntakePriority(calm_s=0.015, monotonic=clock)
    with priority.busy():
        pass
    # Just after the run: a zero wait finds no calm yet (the rest of a burst may follow).
    assert priority.step_aside(max_s=0.0) is False
    clock.now += 0.015
    assert priority.step_aside(max_s=0.0) is True


def test_busy_is_counted_across_workers() -> None:
    clock = ManualClock()
    priority = IntakePriority(calm_s=0.0, monotonic=clock)
    with priority.busy():
        with priority.busy():
            pass
        assert priority.step_aside(max_s=0.0) is False  # the other worker still works
    assert priority.step_aside(max_s=0.0) is True


@pytest.mark.parametrize("wait", ["step_aside", "let_through"])
def test_a_waiting_thread_goes_on_when_the_intake_finishes(wait: str) -> None:
    priority = IntakePriority(calm_s=0.0)
    entered, result = threading.Event(), []
    release = threading.Event()

    def gateway() -> None:
        with priority.busy():
            entered.set()
            release.wait(10)

    worker = threading.Thread(target=gateway)
    worker.start()
    entered.wait(10)
    waiter = threading.Thread(target=lambda: result.append(getattr(priority, wait)(max_s=30.0)))
    waiter.start()
    release.set()
    worker.join(10)
    waiter.join(10)
    # Woken by the end of the run, well before its 30 s bound.
    assert result == [True]
    assert not waiter.is_alive()


def test_let_through_goes_on_at_once_when_no_press_is_being_recorded() -> None:
    clock = ManualClock()
    priority = IntakePriority(calm_s=10.0, monotonic=clock)
    with priority.busy():
        pass
    # No calm is waited for: only a batch being recorded holds background work back.
    assert priority.let_through(max_s=0.0) is True


def test_let_through_waits_for_the_batch_being_recorded_at_most_max_s() -> None:
    clock = ManualClock()
    priority = IntakePriority(monotonic=clock)
    with priority.busy():
        assert priority.let_through(max_s=0.0) is False
