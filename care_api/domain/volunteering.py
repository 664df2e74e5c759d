"""Which volunteers a care task is offered to: near the elder, available now, with the skill."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from care_api.domain.errors import InvalidInput
from care_api.domain.geo import haversine_km
from care_api.domain.texts import Msg

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Each ring widens the circle around the elder; after the last one the operator steps in.
RING_RADII_KM = (3.0, 6.0, 12.0)
OFFERS_PER_RING = 5
RING_WAIT_S = 15 * 60  # silence this long widens the circle
EMERGENCY_RADIUS_KM = RING_RADII_KM[-1]  # the ladder's "nearest volunteers" look this far
MAX_SPANS_PER_DAY = 6
ALWAYS = {day: ["00:00-24:00"] for day in WEEKDAYS}

_SPAN = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")

Availability = Mapping[str, Sequence[str]]  # {"mon": ["08:00-12:00", "14:00-18:00"], …}


def _minutes(hours: str, minutes: str) -> int:
    return int(hours) * 60 + int(minutes)


def parse_span(span: str) -> tuple[int, int]:
    """Minutes since local midnight of an "HH:MM-HH:MM" span; ValueError when malformed."""
    match = _SPAN.match(span.strip())
    if match is None:
        raise InvalidInput(
            Msg("availability span {span} must look like 08:00-12:00", span=repr(span))
        )
    start = _minutes(match[1], match[2])
    end = _minutes(match[3], match[4])
    if end > 24 * 60 or start >= end:
        raise InvalidInput(
            Msg("availability span {span} must end after it starts, by 24:00", span=repr(span))
        )
    return start, end


def validate_availability(raw: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Check an availability table (weekday → spans) and return it normalised."""
    checked: dict[str, list[str]] = {}
    for day, spans in raw.items():
        key = day.strip().lower()[:3]
        if key not in WEEKDAYS:
            raise InvalidInput(
                Msg(
                    "availability day {day} is not one of {allowed}",
                    day=repr(day),
                    allowed=", ".join(WEEKDAYS),
                )
            )
        if isinstance(spans, str) or len(spans) > MAX_SPANS_PER_DAY:
            raise InvalidInput(
                Msg("availability of {day} must be a list of at most 6 spans", day=day)
            )
        for span in spans:
            parse_span(span)
        checked[key] = [s.strip() for s in spans]
    return checked


def is_available(availability: Availability, local_now: datetime) -> bool:
    """True when `local_now` (the centre's local time) falls in one of the day's spans."""
    spans = availability.get(WEEKDAYS[local_now.weekday()], ())
    minute = local_now.hour * 60 + local_now.minute
    return any(start <= minute < end for start, end in map(parse_span, spans))


@dataclass(frozen=True, slots=True)
class VolunteerSpot:
    """What the choice needs to know of one volunteer."""

    volunteer_id: int
    lat: float
    lon: float
    skills: Collection[str]
    availability: Availability
    active: bool = True


@dataclass(frozen=True, slots=True)
class Offeree:
    """A volunteer chosen for an offer and how far they live from the elder."""

    volunteer_id: int
    distance_km: float


def nearest_eligible(
    volunteers: Iterable[VolunteerSpot],
    *,
    lat: float,
    lon: float,
    local_now: datetime,
    radius_km: float,
    skill: str | None = None,
    exclude: Collection[int] = (),
) -> list[Offeree]:
    """Active volunteers within `radius_km` of (lat, lon), available now, with `skill`.

    Nearest first; equal distances in volunteer id order, so the choice is repeatable.
    """
    wanted = skill.strip().lower() if skill else None
    found: list[Offeree] = []
    for v in volunteers:
        if not v.active or v.volunteer_id in exclude:
            continue
        if wanted and wanted not in {s.strip().lower() for s in v.skills}:
            continue
        if not is_available(v.availability, local_now):
            continue
        distance = haversine_km(lat, lon, v.lat, v.lon)
        if distance <= radius_km:
            found.append(Offeree(v.volunteer_id, round(distance, 3)))
    return sorted(found, key=lambda o: (o.distance_km, o.volunteer_id))


def ring_radius_km(ring: int) -> float | None:
    """The radius of ring `ring` (0 first), or None once every ring has been tried."""
    return RING_RADII_KM[ring] if 0 <= ring < len(RING_RADII_KM) else None
