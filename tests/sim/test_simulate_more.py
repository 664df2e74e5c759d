"""`vnh simulate`'s callbacks, districts and ladders: small districts checked by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from care_api.domain.errors import InvalidInput
from care_api.store.tables import Elder, Volunteer
from vnh.simulate import Scenario, Simulation, simulate, table

# Presses only from 09:00 to 15:00 local: every case is resolved in the centre's working
# hours (08-20 on a working day), so the machine's callback is never put off to tomorrow.
OFFICE_HOURS = [0.0] * 9 + [1.0] * 6 + [0.0] * 9
EMERGENCIES_ONLY = {
    "emergency_per_elder_day": 1.0,
    "false_alarm_per_elder_day": 0,
    "service_per_elder_day": 0,
    "care_per_elder_day": 0,
    "hour_weights": OFFICE_HOURS,
}
AT_ONCE = {"answer": 1.0, "delay_median_s": 0, "delay_p90_s": 0}


def scenario(**tables: Any) -> Scenario:
    """A few elders whose family takes each emergency at once and resolves it at once."""
    data: dict[str, Any] = {
        "district": {"elders": 6, "family_share": 1.0, "family_count": 1},
        "presses": EMERGENCIES_ONLY,
        "families": AT_ONCE,
        "volunteers": {"count": 0},
        "supervisor": {"answer": 1.0, "delay_median_s": 30, "delay_p90_s": 30},
        "visits": {"on_site_median_s": 0, "visit_median_s": 0},
    }
    for key, given in tables.items():
        data[key] = given if isinstance(given, list) else {**data.get(key, {}), **given}
    return Scenario.of(data, name="small")


def test_simulate_every_callback_answered_closes_every_case_after_it() -> None:
    figures = simulate(
        scenario(
            callbacks={
                **AT_ONCE,
                "after_resolve_s": 0,
                "still_needs_help": 0.0,
                "satisfaction": [0, 0, 0, 0, 1],
            }
        ),
        seed=2,
        days=1,
    )
    resolved = figures.kpi.by_state["closed"]
    assert resolved > 0
    # One survey SMS per case, answered at once: a typed callback row each, all satisfied.
    assert figures.kpi.callbacks == resolved == figures.surveys
    assert figures.kpi.callback_rate == 1.0
    assert figures.kpi.satisfaction_rate == 1.0
    assert figures.callbacks_to_operators == 0
    assert "callbacks" in table([figures], "en")


def test_simulate_callees_who_never_answer_leave_the_callbacks_to_the_operators() -> None:
    figures = simulate(
        scenario(callbacks={"answer": 0.0, "after_resolve_s": 0, "retry_s": 600}),
        seed=2,
        days=1,
    )
    resolved = figures.kpi.by_state["resolved"]
    assert resolved > 0
    # Three attempts 10 minutes apart, then the operators' list: no callback is recorded.
    assert figures.surveys == 3 * resolved
    assert figures.callbacks_to_operators == resolved
    assert figures.kpi.callbacks == 0
    assert figures.kpi.callback_rate == 0.0


def test_simulate_districts_are_populated_and_figured_apart(tmp_path: Path) -> None:
    # North: family answers at once. South: no family, no volunteer: the supervisor, in 90 s.
    districts = [
        {"name": "North", "elders": 5, "volunteers": 2, "box": [29.10, 119.60, 29.15, 119.66]},
        # Far from North's volunteers: nobody near enough is asked at step 1.
        {"name": "South", "elders": 3, "family_share": 0.0, "box": [30.20, 120.10, 30.25, 120.15]},
    ]
    sim = Simulation(
        Scenario.of(
            {
                "district": districts,
                "presses": EMERGENCIES_ONLY,
                "families": AT_ONCE,
                "volunteers": {"count": 0, "answer": 0.0},
                "supervisor": {"answer": 1.0, "delay_median_s": 90, "delay_p90_s": 90},
                "callbacks": {"enabled": False},
            },
            name="two",
        ),
        seed=4,
        days=1,
        workdir=tmp_path,
    )
    try:
        figures = sim.run()
        with sim.services.uow() as uow:
            elders = [e.district for e in uow.session.exec(select(Elder)).all()]
            volunteers = len(uow.session.exec(select(Volunteer)).all())
    finally:
        sim.close()
    assert scenario().districts == ()  # one [district] table: one unnamed district, as before
    assert sorted(elders) == ["North"] * 5 + ["South"] * 3
    assert volunteers == 2
    north, south = figures.by_district["North"].overall, figures.by_district["South"].overall
    assert north.emergencies > 0 and south.emergencies > 0
    assert north.within == {60: 1.0, 180: 1.0}
    assert south.within == {60: 0.0, 180: 1.0}
    # Presses from 09:00 to 15:00 are answered by the day shift.
    assert figures.by_district["South"].by_shift["day"].emergencies == south.emergencies
    text = table([figures], "en")
    assert "South, day shift" in text
    assert "North: within 60 s / 180 s" in text
    # The centre's planners read it in Chinese, the same figures on the same lines.
    chinese = table([figures], "zh-CN")
    assert "South，白班" in chinese and "North：60秒内 / 180秒内" in chinese
    assert [line.split()[-1] for line in chinese.splitlines()[2:]] == [
        line.split()[-1] for line in text.splitlines()[2:]
    ]


def test_simulate_volunteers_at_step_0_take_every_emergency_at_once() -> None:
    moved = scenario(
        district={"family_share": 0.0},
        volunteers={"count": 3, **AT_ONCE},
        ladders={"volunteers_at_step": 0},
        callbacks={"enabled": False},
    )
    figures = simulate(moved, seed=3, days=1)
    taken = figures.taken_by.get("volunteer", 0)
    assert taken > 0
    assert figures.taken_by == {"volunteer": taken}
    assert figures.answers.overall.within == {60: 1.0, 180: 1.0}
    # Out of their hours the same volunteers are never asked: the supervisor takes them all.
    asleep = scenario(
        district={"family_share": 0.0},
        volunteers={"count": 3, **AT_ONCE, "hours": ["02:00-03:00"]},
        ladders={"volunteers_at_step": 0},
        callbacks={"enabled": False},
    )
    figures = simulate(asleep, seed=3, days=1)
    assert set(figures.taken_by) == {"supervisor"}


def test_simulate_every_rung_of_the_ladder_moves() -> None:
    # Two family members never answer: rung 1 at 30 s, the supervisor 60 s later, in 30 s.
    figures = simulate(
        scenario(
            district={"family_count": 2},
            families={"answer": 0.0},
            ladders={"after_s": [0, 30, 60]},
            callbacks={"enabled": False},
        ),
        seed=3,
        days=1,
    )
    ack = figures.service.ack_by_kind["emergency"]
    assert ack.count > 0
    assert (ack.p50_s, ack.p90_s) == pytest.approx((120.0, 120.0), abs=0.01)


def test_simulate_refuses_a_ladder_the_service_would_refuse() -> None:
    with pytest.raises(InvalidInput, match="step 0 runs when the case opens"):
        scenario(ladders={"after_s": [5, 120, 300]})
    with pytest.raises(InvalidInput, match="one delay per rung"):
        scenario(ladders={"after_s": [0, 120]})
    with pytest.raises(InvalidInput, match="not a case kind"):
        scenario(ladders={"fire": {"steps": []}})
    with pytest.raises(InvalidInput, match="given twice"):
        Scenario.of({"district": [{"name": "A"}, {"name": "A"}]})
