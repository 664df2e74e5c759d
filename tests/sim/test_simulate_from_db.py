"""`vnh simulate --from-db` and `--plot`: a scenario from a centre's database, and its chart."""

from __future__ import annotations

import re
import struct
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from care_api.domain.model import CaseKind, CaseState
from care_api.store.db import make_engine
from care_api.store.tables import Case, CheckinWindow, Contact, Elder, Merchant, Volunteer
from tests.databases import migrated_sqlite_url
from vnh.cli import app
from vnh.simulate import Scenario
from vnh.simulate_from_db import scenario_from_db
from vnh.simulate_plot import INSTALL_HINT

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def centre(tmp_path: Path, *, age_days: float = 60) -> str:
    """Two districts, their people, and a month of cases, written as the service would."""
    url = migrated_sqlite_url(tmp_path / "centre.db")
    opened = NOW - timedelta(days=age_days)  # when the elders were registered
    engine = make_engine(url)
    with Session(engine) as s:
        wucheng = [
            Elder(
                name=f"W{i}",
                phone=f"+861380000000{i}",
                district="婺城区",
                lat=29.1 + i / 100,
                lon=119.65,
                language="en" if i == 0 else None,
                created_at=opened,
            )
            for i in range(4)
        ]
        jindong = [
            Elder(
                name=f"J{i}",
                phone=f"+861380000010{i}",
                district="Jindong",
                lat=29.12,
                lon=119.78 + i / 100,
                created_at=opened,
            )
            for i in range(2)
        ]
        s.add_all([*wucheng, *jindong])
        s.flush()
        # Three Wucheng elders give family: two paged contacts each (a told-only one not).
        for elder in wucheng[:3]:
            for k in (1, 2):
                s.add(Contact(elder_id=elder.id, name="f", phone="+8613900000000", priority=k))
        s.add(Contact(elder_id=wucheng[0].id, name="t", phone="+8613900000009", notify_only=True))
        near_w, near_j = (29.11, 119.65), (29.12, 119.79)
        for lat, lon, active in [(*near_w, True)] * 3 + [(*near_j, True), (*near_j, False)]:
            s.add(
                Volunteer(
                    name="v",
                    phone="+8613100000000",
                    lat=lat,
                    lon=lon,
                    active=active,
                    created_at=opened,
                )
            )
        for (lat, lon), status in [(near_w, "active"), (near_w, "yellow"), (near_j, "removed")]:
            s.add(
                Merchant(
                    name="m",
                    phone="+8615100000000",
                    lat=lat,
                    lon=lon,
                    status=status,
                    created_at=opened,
                )
            )
        cases = [
            (CaseKind.EMERGENCY, CaseState.CLOSED, 1, False),
            (CaseKind.EMERGENCY, CaseState.RESOLVED, 2, False),
            (CaseKind.EMERGENCY, CaseState.CANCELLED, 3, False),  # a false alarm
            *[(CaseKind.SERVICE, CaseState.CLOSED, d, False) for d in range(6)],
            *[(CaseKind.CARE, CaseState.CLOSED, d, False) for d in range(3)],
            (CaseKind.DEVICE, CaseState.CLOSED, 1, False),  # no press: left out
            (CaseKind.EMERGENCY, CaseState.CLOSED, 1, True),  # a drill: left out
            (CaseKind.EMERGENCY, CaseState.CLOSED, 40, False),  # before the 30 days
        ]
        for n, (kind, state, days_ago, drill) in enumerate(cases):
            opened = NOW - timedelta(days=days_ago, hours=1)
            acked = None if state is CaseState.CANCELLED else opened + timedelta(seconds=30)
            s.add(
                Case(
                    id=f"C-{n:04d}",
                    kind=kind,
                    state=state,
                    elder_id=wucheng[0].id,
                    opened_at=opened,
                    acknowledged_at=acked,
                    updated_at=opened,
                    drill=drill,
                )
            )
        s.commit()
    engine.dispose()
    return url


def test_simulate_from_db_counts_the_centres_people_and_presses(tmp_path: Path) -> None:
    text = scenario_from_db(centre(tmp_path), now=NOW, history_days=30)
    data = tomllib.loads(text)
    scenario = Scenario.of(data)
    jindong, wucheng = scenario.districts
    assert (wucheng.name, wucheng.elders, jindong.name, jindong.elders) == (
        "婺城区",
        4,
        "Jindong",
        2,
    )
    assert (wucheng.family_share, wucheng.family_count) == (0.75, 2)
    assert jindong.family_share == 0.0
    assert wucheng.languages == {"en": 0.25, "zh-CN": 0.75}
    # Active volunteers and merchants not removed, each in the district they live nearest.
    assert (wucheng.volunteers, jindong.volunteers) == (3, 1)
    assert (wucheng.merchants, jindong.merchants) == (2, 0)
    assert wucheng.box == pytest.approx((29.095, 119.645, 29.135, 119.655))
    # Per elder per day over 30 days and 6 elders; the hour shape keeps 24 weights.
    presses = data["presses"]
    assert presses["emergency_per_elder_day"] == pytest.approx(2 / 6 / 30, rel=1e-5)
    assert presses["false_alarm_per_elder_day"] == pytest.approx(1 / 6 / 30, rel=1e-5)
    assert presses["service_per_elder_day"] == pytest.approx(6 / 6 / 30, rel=1e-5)
    assert presses["care_per_elder_day"] == pytest.approx(3 / 6 / 30, rel=1e-5)
    assert len(scenario.hours) == 24
    assert "From the 12 real cases of the last 30 days (6 elders)" in text
    assert "rough" not in text


def test_simulate_from_db_of_a_young_centre_takes_rates_over_its_days(tmp_path: Path) -> None:
    # Registered 10 days ago, so the 30 days hold 10 days of presses.
    data = tomllib.loads(scenario_from_db(centre(tmp_path, age_days=10), now=NOW))
    assert data["presses"]["emergency_per_elder_day"] == pytest.approx(2 / 6 / 10, rel=1e-5)


def test_simulate_from_db_of_a_centre_hours_old_says_so_and_calls_its_rates_rough(
    tmp_path: Path,
) -> None:
    # As from the demo's database: two hours of presses are no week's shape.
    text = scenario_from_db(centre(tmp_path, age_days=2 / 24), now=NOW)
    assert "From the 2 real cases of the last 2 hours (6 elders)" in text
    assert "Under 7 days of history: these rates are rough" in text
    # One service and one care press in two hours, per elder per day.
    presses = tomllib.loads(text)["presses"]
    assert presses["service_per_elder_day"] == pytest.approx(1 / 6 / (2 / 24), rel=1e-5)


def test_simulate_from_db_of_an_empty_database_keeps_the_defaults(tmp_path: Path) -> None:
    url = migrated_sqlite_url(tmp_path / "empty.db")
    scenario = Scenario.of(tomllib.loads(scenario_from_db(url, now=NOW)))
    assert scenario.districts == ()
    assert scenario.rates == Scenario().rates
    # Nobody in the database: the documented default district, people and all.
    assert (scenario.elders, scenario.volunteers) == (Scenario().elders, Scenario().volunteers)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_simulate_command_writes_a_scenario_from_db_then_plots_its_run(tmp_path: Path) -> None:
    made, chart = tmp_path / "made.toml", tmp_path / "answers.png"
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", "--from-db", centre(tmp_path), "--out", str(made)])
    assert result.exit_code == 0, result.output
    assert Scenario.load(made).districts[1].name == "婺城区"
    # --compare repeats: the same file twice gives two equal columns (one seed).
    result = runner.invoke(
        app, ["simulate", str(made), "--compare", str(made), "--days", "1", "--plot", str(chart)]
    )
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if "cases" in row)
    assert len(set(re.findall(r"│\s*(\d+)\s*", line))) == 1
    assert line.count("│") == 4
    assert "婺城区" in result.output
    assert png_size(chart) == (1000, 500)


def test_simulate_plot_without_matplotlib_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text("[district]\nelders = 1\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 1
    assert INSTALL_HINT in result.output
    assert not (tmp_path / "p.png").exists()


def test_simulate_from_db_takes_check_in_windows_and_merchants_hours(tmp_path: Path) -> None:
    url = centre(tmp_path)
    engine = make_engine(url)
    with Session(engine) as s:
        elders = s.exec(select(Elder).order_by(col(Elder.id))).all()
        for elder, (start, end) in zip(
            elders[:3], [("08:00", "10:00"), ("08:00", "10:00"), ("18:00", "19:00")], strict=True
        ):
            s.add(
                CheckinWindow(
                    elder_id=elder.id, start=start, end=end, created_by="t", created_at=NOW
                )
            )
        for merchant in s.exec(select(Merchant)).all():
            merchant.hours = {"mon": ["07:00-20:00"]}
            s.add(merchant)
        s.commit()
    engine.dispose()

    data = tomllib.loads(scenario_from_db(url, now=NOW))
    scenario = Scenario.of(data)
    # 3 of the 6 elders have a window, the commonest 08:00-10:00; the merchants' hours.
    assert scenario.checkins.share == 0.5
    assert (scenario.checkins.start, scenario.checkins.end) == ("08:00", "10:00")
    assert scenario.merchant_hours == {"mon": ["07:00-20:00"]}
