"""Choosing volunteers, pure: distance, availability hours, skills, and the widening rings."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from care_api.domain.geo import haversine_km
from care_api.domain.volunteering import (
    ALWAYS,
    RING_RADII_KM,
    VolunteerSpot,
    is_available,
    nearest_eligible,
    ring_radius_km,
    validate_availability,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
ELDER = (29.1, 119.65)  # Jinhua
KM = 1 / 111.2  # degrees of latitude per kilometre


def spot(
    vid: int,
    km_north: float,
    skills: tuple[str, ...] = (),
    availability: dict[str, list[str]] = ALWAYS,
    *,
    active: bool = True,
) -> VolunteerSpot:
    return VolunteerSpot(vid, ELDER[0] + km_north * KM, ELDER[1], skills, availability, active)


def chosen(
    spots: list[VolunteerSpot],
    radius_km: float,
    skill: str | None = None,
    exclude: frozenset[int] = frozenset(),
) -> list[int]:
    found = nearest_eligible(
        spots,
        lat=ELDER[0],
        lon=ELDER[1],
        local_now=MONDAY_10,
        radius_km=radius_km,
        skill=skill,
        exclude=exclude,
    )
    return [o.volunteer_id for o in found]


def test_haversine_known_distances() -> None:
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.19, abs=0.01)
    # Jinhua to Yongkang, about 50 km.
    assert haversine_km(29.08, 119.65, 28.89, 120.03) == pytest.approx(42.6, abs=1)
    assert haversine_km(10, 20, 10, 20) == 0


def test_nearest_eligible_within_radius_nearest_first() -> None:
    spots = [spot(1, 2.5), spot(2, 0.5), spot(3, 4.0), spot(4, 0.5)]
    assert chosen(spots, 3.0) == [2, 4, 1]  # equal distances by id; 4 km is outside
    assert chosen(spots, 3.0, exclude=frozenset({2})) == [4, 1]


def test_nearest_eligible_needs_the_skill_the_hours_and_an_active_volunteer() -> None:
    spots = [
        spot(1, 0.5, skills=("cooking",)),
        spot(2, 1.0, skills=("Nursing",)),
        spot(3, 1.5, skills=("nursing",), availability={"mon": ["14:00-18:00"]}),
        spot(4, 2.0, skills=("nursing",), active=False),
    ]
    assert chosen(spots, 3.0, skill="nursing") == [2]
    assert chosen(spots, 3.0) == [1, 2]


@pytest.mark.parametrize(
    ("spans", "local", "expected"),
    [
        (["08:00-12:00"], MONDAY_10, True),
        (["08:00-10:00"], MONDAY_10, False),  # the end is not included
        (["00:00-24:00"], MONDAY_10.replace(hour=23, minute=59), True),
        ([], MONDAY_10, False),
    ],
)
def test_is_available_by_weekday_span(spans: list[str], local: datetime, expected: bool) -> None:
    assert is_available({"mon": spans, "tue": ["00:00-24:00"]}, local) is expected


def test_validate_availability_normalises_days_and_refuses_nonsense() -> None:
    assert validate_availability({"Monday": [" 08:00-12:00"]}) == {"mon": ["08:00-12:00"]}
    bad_tables: list[dict[str, list[str]]] = [
        {"xyz": []},
        {"mon": ["12:00-08:00"]},
        {"mon": ["8-12"]},
        {"mon": ["00:00-24:30"]},
    ]
    for bad in bad_tables:
        with pytest.raises(ValueError, match="availability"):
            validate_availability(bad)


def test_rings_widen_then_run_out() -> None:
    assert [ring_radius_km(i) for i in range(len(RING_RADII_KM) + 1)] == [*RING_RADII_KM, None]
    assert ring_radius_km(-1) is None
