"""`vnh simulate`: check-in windows, merchants' hours and capacity, figures that follow by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from care_api.domain.errors import InvalidInput
from care_api.store.call_tables import AutoCallback
from care_api.store.tables import Case, CaseEvent, Notification, OrderAttempt
from care_api.usecases.schedules.checkins import LATE_CHECKIN_ACTION
from vnh.simulate import START, Scenario, Simulation, rows_of, simulate, table

NO_PRESSES = {
    "emergency_per_elder_day": 0,
    "false_alarm_per_elder_day": 0,
    "service_per_elder_day": 0,
    "care_per_elder_day": 0,
}


def district(**tables: Any) -> Scenario:
    """Four elders without family who press nothing but their check-ins; no volunteers."""
    data: dict[str, Any] = {
        "district": {"elders": 4, "family_share": 0.0},
        "presses": NO_PRESSES,
        "volunteers": {"count": 0},
        "checkins": {"share": 1.0},
    }
    for key, given in tables.items():
        data[key] = {**data.get(key, {}), **given}
    return Scenario.of(data, name="checkins")


def test_simulate_every_elder_checking_in_misses_nothing() -> None:
    figures = simulate(district(checkins={"kept": 1.0}), seed=1, days=3)

    assert figures.checkins is not None
    assert (figures.checkins.windows, figures.checkins.due) == (4, 12)
    assert figures.checkins.missed == 0
    # The check-in is a single press inside the window: it opens no case, calls nobody.
    assert figures.kpi.total == 0
    assert figures.sent == {}


def test_simulate_nobody_checking_in_gets_the_services_missed_check_in_and_its_call(
    tmp_path: Path,
) -> None:
    scenario = district(checkins={"kept": 0.0, "call_back": 0.0})
    sim = Simulation(scenario, seed=1, days=2, workdir=tmp_path)
    try:
        figures = sim.run()
        with sim.services.uow() as uow:
            cases = list(uow.session.exec(select(Case)).all())
            calls = list(
                uow.session.exec(select(Notification).where(col(Notification.channel) == "voice"))
            )
            uow.session.expunge_all()
    finally:
        sim.close()

    # Each of the 4 windows closes twice unkept: alerts/checkins.py opens a care case each
    # time, at the window's end (10:00 local, 2 h after the start), and calls the elder.
    assert figures.checkins is not None
    assert (figures.checkins.due, figures.checkins.missed) == (8, 8)
    assert len(cases) == 8
    assert {c.kind for c in cases} == {"care"}
    ends = {START + timedelta(hours=2), START + timedelta(hours=26)}
    assert {c.opened_at.replace(tzinfo=START.tzinfo) for c in cases} == ends
    assert sorted(n.to for n in calls) == sorted(f"+86138{i:08d}" for i in range(4) for _ in "ab")
    # Nobody presses back and no volunteer is there: every case still waits at the end.
    assert (figures.checkins.late, figures.checkins.taken, figures.checkins.open) == (0, 0, 8)


def test_simulate_elders_pressing_after_the_call_check_in_late_and_the_operator_resolves(
    tmp_path: Path,
) -> None:
    scenario = district(
        checkins={
            "kept": 0.0,
            "call_back": 1.0,
            "call_back_median_s": 60,
            "call_back_p90_s": 60,
            "confirm_median_s": 300,
            "confirm_p90_s": 300,
        },
        callbacks={"enabled": False},
    )
    sim = Simulation(scenario, seed=1, days=1, workdir=tmp_path)
    try:
        figures = sim.run()
        with sim.services.uow() as uow:
            cases = list(uow.session.exec(select(Case)).all())
            late = list(
                uow.session.exec(
                    select(CaseEvent).where(col(CaseEvent.action) == LATE_CHECKIN_ACTION)
                )
            )
            uow.session.expunge_all()
    finally:
        sim.close()

    assert figures.checkins is not None
    assert (figures.checkins.missed, figures.checkins.late) == (4, 4)
    # The press a minute after the call went to the missed case (no service request), and
    # the operator resolved it 5 minutes later.
    assert len(cases) == 4
    opened = START + timedelta(hours=2)
    assert seconds_after(opened, [e.at for e in late]) == pytest.approx([60] * 4, abs=0.01)
    resolved = [c.resolved_at for c in cases if c.resolved_at is not None]
    assert seconds_after(opened, resolved) == pytest.approx([360] * 4, abs=0.01)
    assert figures.checkins.resolved == 4
    rows = dict(rows_of(figures, "en"))
    assert rows["check-ins due / kept"] == "4 / 0 (0.0 %)"
    assert rows["  then: checked in late / taken / open"] == "4 / 0 / 0"


def seconds_after(start: datetime, moments: list[datetime]) -> list[float]:
    """Each moment (stored naive in SQLite, UTC) as seconds after `start`."""
    return [(m.replace(tzinfo=UTC) - start).total_seconds() for m in moments]


def test_simulate_check_ins_are_the_same_for_a_seed() -> None:
    scenario = district(
        district={"elders": 10},
        checkins={"share": 0.6, "kept": 0.7, "call_back": 0.5},
        volunteers={"count": 2, "answer": 0.5},
    )
    first = simulate(scenario, seed=9, days=2)
    again = simulate(scenario, seed=9, days=2)
    assert first.checkins == again.checkins
    assert table([first], "en") == table([again], "en")
    assert first.checkins is not None and 0 < first.checkins.windows < 10


def test_simulate_refuses_a_bad_check_in_table() -> None:
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        district(checkins={"kept": 2})
    with pytest.raises(InvalidInput, match="15 minutes"):
        district(checkins={"window": ["08:00", "08:05"]})


def one_merchant(**merchants: Any) -> Scenario:
    """Two elders, one merchant who takes every order and calls the elder 60 s later."""
    return Scenario.of(
        {
            "district": {"elders": 2, "family_share": 0.0},
            "presses": NO_PRESSES,
            "volunteers": {"count": 0},
            "callbacks": {"enabled": False},
            "merchants": {
                "count": 1,
                "answer": 1.0,
                "delay_median_s": 60,
                "delay_p90_s": 60,
                "order_after_median_s": 0,
                "visit_median_s": 3000,
                **merchants,
            },
            "visits": {"visit_median_s": 3000, "visit_p90_s": 3000},
        }
    )


def turns_of(sim: Simulation) -> list[str]:
    with sim.services.uow() as uow:
        rows = uow.session.exec(select(OrderAttempt).order_by(col(OrderAttempt.id))).all()
        return [a.outcome for a in rows]


def run_presses(sim: Simulation, presses: list[tuple[float, str]]) -> None:
    """Service presses of the given devices at the given seconds after the start, then run."""
    for seconds, device in presses:
        sim.loop.at(START + timedelta(seconds=seconds), sim._press("service", device))
    sim.run()


def test_simulate_a_busy_merchant_lets_an_order_go_and_answers_the_next_of_the_same_case(
    tmp_path: Path,
) -> None:
    # Elder 1's order at 60 s keeps the merchant busy until 60 + 60 + 3000 s; elder 2's at
    # 120 s finds them at capacity: unanswered, it moves on after 10 minutes to nobody. Elder
    # 2 presses again at 4000 s: the press joins the open case, the operator orders again,
    # and the merchant, free by then, answers this second order of the same case.
    sim = Simulation(one_merchant(capacity=1), seed=1, days=1, workdir=tmp_path)
    try:
        run_presses(sim, [(60, "S000001"), (120, "S000002"), (4000, "S000002")])
        figures = sim.figures()
        turns = turns_of(sim)
    finally:
        sim.close()

    assert turns == ["contacted", "missed", "contacted"]
    assert (figures.service.merchant_turns, figures.service.merchant_contacts_in_time) == (3, 2)


def test_simulate_a_closed_merchant_gets_no_order_until_the_operator_orders_again(
    tmp_path: Path,
) -> None:
    # The start is 08:00 local; the shop opens at 09:00. The order at 60 s finds no merchant
    # open; the operator places it again an hour later, and the merchant answers it.
    scenario = one_merchant(hours=["09:00-20:00"], reorder_after_s=3600)
    sim = Simulation(scenario, seed=1, days=1, workdir=tmp_path)
    try:
        run_presses(sim, [(60, "S000001")])
        figures = sim.figures()
        turns = turns_of(sim)
    finally:
        sim.close()

    assert turns == ["contacted"]
    assert figures.service.merchant_contact_rate == 1.0
    assert figures.kpi.completion_rate == 1.0


def callbacks_left_to_operators(**operators: Any) -> Scenario:
    """Emergencies the family takes at once and resolves; nobody answers the survey SMS."""
    return Scenario.of(
        {
            "district": {"elders": 6, "family_share": 1.0, "family_count": 1},
            "presses": {**NO_PRESSES, "emergency_per_elder_day": 0.5},
            "volunteers": {"count": 0},
            "families": {"answer": 1.0, "delay_median_s": 0, "delay_p90_s": 0},
            "visits": {"on_site_median_s": 0, "visit_median_s": 0},
            "callbacks": {"answer": 0.0, "after_resolve_s": 60, "retry_s": 60},
            "operators": {"enabled": True, "callback_rounds": ["20:30"], **operators},
        }
    )


def test_simulate_operators_call_back_the_list_the_machine_left_them(tmp_path: Path) -> None:
    # Nobody answers the machine: after its 3 attempts every resolved case is on the
    # operators' list. One round a day at 20:30, after the machine's working hours: each
    # case on the list by then is called once and, reached, closes.
    sim = Simulation(callbacks_left_to_operators(reach=1.0), seed=2, days=2, workdir=tmp_path)
    try:
        figures = sim.run()
        with sim.services.uow() as uow:
            listed = uow.session.exec(
                select(AutoCallback.case_id).where(col(AutoCallback.state) == "operator")
            ).all()
            states = {c.id: c.state for c in uow.session.exec(select(Case)).all()}
    finally:
        sim.close()

    assert figures.callbacks_to_operators == len(listed) > 0
    assert figures.operator_callbacks == len(listed)
    assert {states[c] for c in listed} == {"closed"}


def test_simulate_operators_who_reach_nobody_close_a_callback_as_failed_after_three_calls(
    tmp_path: Path,
) -> None:
    scenario = callbacks_left_to_operators(reach=0.0, callback_rounds=["20:30", "21:00", "21:30"])
    sim = Simulation(scenario, seed=2, days=1, workdir=tmp_path)
    try:
        figures = sim.run()
        with sim.services.uow() as uow:
            listed = uow.session.exec(
                select(AutoCallback.case_id).where(col(AutoCallback.state) == "operator")
            ).all()
            states = {c.id: c.state for c in uow.session.exec(select(Case)).all()}
    finally:
        sim.close()

    # Three rounds, each unreached: the third closes every listed case (as failed).
    assert figures.operator_callbacks == 3 * len(listed) > 0
    assert {states[c] for c in listed} == {"closed"}


def test_simulate_a_press_back_after_a_volunteer_took_the_case_is_its_late_check_in() -> None:
    # Volunteers take every missed check-in's care case at once; the elder presses a minute
    # after the call, as the call asks: the press is the case's late check-in, not a
    # service request, and the volunteer who took it is told.
    scenario = district(
        volunteers={"count": 4, "answer": 1.0, "delay_median_s": 0, "delay_p90_s": 0},
        checkins={"kept": 0.0, "call_back": 1.0, "call_back_median_s": 60},
        callbacks={"enabled": False},
    )
    figures = simulate(scenario, seed=1, days=1)

    assert figures.checkins is not None
    assert figures.checkins.missed == figures.checkins.taken == 4
    assert figures.checkins.late == 4
    assert not figures.kpi.by_kind.get("service")  # no service request opened
