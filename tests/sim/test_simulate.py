"""`vnh simulate`: small districts whose figures follow by hand, on the service's own code."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from care_api.domain.errors import InvalidInput
from care_api.store.tables import Case, Contact, Device, Elder, Merchant, Volunteer
from vnh.cli import app
from vnh.simulate import SUPERVISOR_PHONE, Scenario, Simulation, simulate, table

SCENARIOS = Path(__file__).parents[2] / "scenarios"

ONLY_EMERGENCIES = {
    "emergency_per_elder_day": 2.0,
    "false_alarm_per_elder_day": 0,
    "service_per_elder_day": 0,
    "care_per_elder_day": 0,
}


def tiny(**tables: Any) -> Scenario:
    """Three elders pressing only for emergencies; every answer exactly on time."""
    data: dict[str, Any] = {
        "district": {"elders": 3, "family_share": 1.0, "family_count": 1},
        "presses": ONLY_EMERGENCIES,
        "volunteers": {"count": 0},
        "supervisor": {"answer": 1.0, "delay_median_s": 30, "delay_p90_s": 30},
    }
    for key, given in tables.items():  # a table given merges into the tiny one
        data[key] = {**data.get(key, {}), **given}
    return Scenario.of(data, name="tiny")


def cases_of(sim: Simulation) -> list[Case]:
    with sim.services.uow() as uow:
        rows = list(uow.session.exec(select(Case)).all())
        uow.session.expunge_all()
        return rows


def test_simulate_an_elder_without_family_or_volunteers_is_answered_by_the_supervisor(
    tmp_path: Path,
) -> None:
    scenario = tiny(district={"elders": 3, "family_share": 0.0})
    sim = Simulation(scenario, seed=3, days=1, workdir=tmp_path)
    try:
        figures = sim.run()
        cases = cases_of(sim)
    finally:
        sim.close()

    # A press while the elder's case is open joins it: count cases, not presses.
    emergencies = len(cases)
    assert 0 < emergencies <= figures.presses["emergency"]
    # Nobody at steps 0 and 1: the supervisor's rung runs at once and answers in 30 s.
    assert {c.level for c in cases} == {2}
    assert all(c.acknowledged_at is not None for c in cases)
    assert figures.taken_by == {"supervisor": emergencies}
    assert figures.answers.overall.within[60] == 1.0
    ack = figures.service.ack_by_kind["emergency"]
    assert (ack.p50_s, ack.p90_s) == pytest.approx((30.0, 30.0), abs=0.01)
    assert sim.services.settings.supervisor_phone == SUPERVISOR_PHONE


def test_simulate_family_answering_at_once_takes_every_emergency_at_step_0(
    tmp_path: Path,
) -> None:
    scenario = tiny(
        # One press per elder at most on this seed: a second emergency of the same elder
        # minutes after the first has its alerts held by the service's throttle, on purpose.
        district={"elders": 12, "family_share": 1.0, "family_count": 1},
        presses={"emergency_per_elder_day": 0.5},
        families={"answer": 1.0, "delay_median_s": 0, "delay_p90_s": 0},
        visits={"on_site_median_s": 0, "visit_median_s": 0},
    )
    sim = Simulation(scenario, seed=5, days=1, workdir=tmp_path)
    try:
        figures = sim.run()
        cases = cases_of(sim)
    finally:
        sim.close()

    # A press while the elder's case is open joins it: count cases, not presses.
    emergencies = len(cases)
    assert 0 < emergencies <= figures.presses["emergency"]
    assert {c.level for c in cases} == {0}
    assert all(c.owner and c.owner.startswith("contact:") for c in cases)
    assert all(c.acknowledged_at == c.opened_at for c in cases)
    assert figures.taken_by == {"family": emergencies}
    assert figures.answers.overall.within == {60: 1.0, 180: 1.0}
    # Step 0 texts and calls the one contact; nobody else is ever alerted. The other SMS
    # are the callbacks' surveys after each case is resolved.
    assert figures.sent == {"sms": emergencies + figures.surveys, "voice": emergencies}


def test_simulate_the_same_seed_gives_the_same_figures() -> None:
    scenario = tiny(
        district={"elders": 20, "family_share": 0.5, "family_count": 2},
        presses={"emergency_per_elder_day": 0.3, "false_alarm_per_elder_day": 0.3},
        volunteers={"count": 3, "answer": 0.5},
    )
    first = table([simulate(scenario, seed=7, days=1)], "en")
    assert first == table([simulate(scenario, seed=7, days=1)], "en")
    assert "answered by a person within 60 s" in first


def test_simulate_refuses_a_bad_scenario_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        Scenario.of({"families": {"answer": 1.5}})
    with pytest.raises(InvalidInput, match="hour_weights"):
        Scenario.of({"presses": {"hour_weights": [1, 2]}})
    bad = tmp_path / "bad.toml"
    bad.write_text("[district\nelders = 3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", str(bad), "--days", "1"])
    assert result.exit_code == 2
    # The error names the file; the panel may wrap a long path over its lines.
    assert "bad.toml" in re.sub(r"[\s│]", "", result.output)


def test_simulate_command_compares_two_scenarios_side_by_side(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text(
        'name = "base"\n[district]\nelders = 5\nfamily_share = 0.0\n'
        "[presses]\nemergency_per_elder_day = 1.0\n[volunteers]\ncount = 0\n",
        encoding="utf-8",
    )
    more = tmp_path / "more.toml"
    more.write_text(base.read_text().replace('"base"', '"more"').replace("0.0", "1.0"))
    result = CliRunner().invoke(
        app, ["simulate", str(base), "--compare", str(more), "--days", "1", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "figure" in line)
    assert header.index("base") < header.index("more")
    assert "merchant contact within 10 min" in result.output


def test_simulate_a_later_supervisor_step_comes_from_the_scenario(tmp_path: Path) -> None:
    # Two family members never answer: step 1 (the second one) at 120 s, the supervisor
    # `supervisor_after_s` later, who answers in 30 s.
    scenario = Scenario.of(
        {
            "district": {"elders": 3, "family_share": 1.0, "family_count": 2},
            "presses": ONLY_EMERGENCIES,
            "families": {"answer": 0.0},
            "volunteers": {"count": 0},
            "supervisor": {"answer": 1.0, "delay_median_s": 30, "delay_p90_s": 30},
            "ladders": {"supervisor_after_s": 60},
        }
    )
    figures = simulate(scenario, seed=3, days=1)
    ack = figures.service.ack_by_kind["emergency"]
    assert ack.count > 0
    assert (ack.p50_s, ack.p90_s) == pytest.approx((120 + 60 + 30, 120 + 60 + 30), abs=0.01)
    assert figures.answers.overall.within == {60: 0.0, 180: 0.0}


def test_simulate_a_merchant_calling_in_a_minute_meets_the_10_minute_rule() -> None:
    # Service presses only; the operator orders at once from the one merchant, who calls the
    # elder 60 s later: every turn is a contact in time.
    scenario = Scenario.of(
        {
            "district": {"elders": 4, "family_share": 0.0},
            "presses": {
                **ONLY_EMERGENCIES,
                "emergency_per_elder_day": 0,
                "service_per_elder_day": 1,
            },
            "volunteers": {"count": 0},
            "merchants": {
                "count": 1,
                "answer": 1.0,
                "delay_median_s": 60,
                "delay_p90_s": 60,
                "order_after_median_s": 0,
            },
        }
    )
    figures = simulate(scenario, seed=4, days=1)
    turns = figures.service.merchant_turns
    assert turns > 0
    assert figures.service.merchant_contacts_in_time == turns
    assert figures.service.merchant_contact_rate == 1.0
    assert figures.taken_by == {"merchant": turns}


def test_simulate_sets_up_the_district_through_the_register_import(tmp_path: Path) -> None:
    # Four family members each: three fit the import's contact columns, the fourth is added
    # after it; every elder gets its terminal, and the family their place in the ladder.
    scenario = tiny(district={"elders": 3, "family_share": 1.0, "family_count": 4})
    sim = Simulation(scenario, seed=1, days=1, workdir=tmp_path)
    try:
        devices = sim.populate()
        with sim.services.uow() as uow:
            elders = uow.session.exec(select(Elder).order_by(col(Elder.id))).all()
            contacts = uow.session.exec(select(Contact.elder_id, Contact.priority)).all()
            terminals = uow.session.exec(select(Device.device_id, Device.elder_id)).all()
    finally:
        sim.close()

    assert [e.name for e in elders] == ["Elder 1", "Elder 2", "Elder 3"]
    ids = [e.id for e in elders]
    assert sorted(contacts) == [(i, p) for i in ids for p in (1, 2, 3, 4)]
    assert sorted(terminals) == list(zip(devices, ids, strict=True))
    assert sum(1 for role in sim.people.values() if role == "family") == 12


def test_a_what_if_scenario_extends_the_district_and_changes_only_what_it_names(
    tmp_path: Path,
) -> None:
    district = Scenario.load(SCENARIOS / "district.toml")
    more = Scenario.load(SCENARIOS / "district-more-volunteers.toml")
    first = Scenario.load(SCENARIOS / "district-volunteers-first.toml")
    assert (more.name, more.volunteers) == ("+20 volunteers", district.volunteers + 20)
    # Everything else is the district's, the tables added to it later included.
    assert replace(more, name=district.name, volunteers=district.volunteers) == district
    assert replace(first, name=district.name, ladders=district.ladders) == district
    assert first.ladders != district.ladders

    (tmp_path / "a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="extends itself"):
        Scenario.load(tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text('extends = "missing.toml"\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"missing\.toml"):
        Scenario.load(tmp_path / "c.toml")


def test_more_volunteers_leave_the_elders_the_merchants_and_the_first_volunteers_in_place(
    tmp_path: Path,
) -> None:
    def places(volunteers: int) -> tuple[list[Any], list[Any], list[Any]]:
        scenario = tiny(volunteers={"count": volunteers}, merchants={"count": 3})
        workdir = tmp_path / str(volunteers)
        workdir.mkdir()
        sim = Simulation(scenario, seed=1, days=1, workdir=workdir)
        try:
            sim.populate()
            with sim.services.uow() as uow:
                where = [
                    [(r.lat, r.lon) for r in uow.session.exec(select(t).order_by(col(t.id)))]
                    for t in (Elder, Volunteer, Merchant)
                ]
        finally:
            sim.close()
        return where[0], where[1], where[2]

    elders, volunteers, merchants = places(2)
    elders_more, volunteers_more, merchants_more = places(5)
    # A what-if of 3 more volunteers changes that alone: the shops did not move.
    assert (elders_more, merchants_more) == (elders, merchants)
    assert volunteers_more[:2] == volunteers and len(volunteers_more) == 5
