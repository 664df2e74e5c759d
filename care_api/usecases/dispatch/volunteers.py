"""Volunteers: their profiles, and which of them a care task can be offered to right now."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from care_api.domain.errors import InvalidInput, NotFound
from care_api.domain.geo import EARTH_RADIUS_KM
from care_api.domain.phones import DEFAULT_REGION, to_e164
from care_api.domain.texts import Msg
from care_api.domain.volunteering import (
    ALWAYS,
    Offeree,
    VolunteerSpot,
    nearest_eligible,
    validate_availability,
)
from care_api.store.tables import Volunteer

VOLUNTEER = "volunteer"
MAX_SKILLS = 20
_KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180


def volunteer_actor(volunteer_id: int) -> str:
    """How case histories and owners name a volunteer: "volunteer:3"."""
    return f"{VOLUNTEER}:{volunteer_id}"


def volunteer_id_of(actor: str | None) -> int | None:
    """The volunteer id in an actor string, or None when the actor is someone else."""
    kind, _, ident = (actor or "").partition(":")
    return int(ident) if kind == VOLUNTEER and ident.isdigit() else None


VOLUNTEER_FIELDS = frozenset({"name", "phone", "lat", "lon", "active", "drill_opt_in", "language"})


def create_volunteer(
    session: Session, data: Mapping[str, object], now: datetime, *, region: str = DEFAULT_REGION
) -> Volunteer:
    """Add a volunteer; availability defaults to every hour of every day; phone in E.164."""
    raw = data.get("availability")
    availability = validate_availability(raw if isinstance(raw, Mapping) else ALWAYS)
    skills = data.get("skills") or []
    if not isinstance(skills, Sequence) or isinstance(skills, str) or len(skills) > MAX_SKILLS:
        raise InvalidInput(Msg("skills must be a list of at most {most} words", most=MAX_SKILLS))
    volunteer = Volunteer.model_validate(
        {
            **{k: v for k, v in data.items() if k in VOLUNTEER_FIELDS},
            "phone": to_e164(str(data.get("phone") or ""), region),
            "skills": sorted({str(s).strip().lower() for s in skills if str(s).strip()}),
            "availability": availability,
            "created_at": now,
        }
    )
    session.add(volunteer)
    session.flush()
    return volunteer


def set_volunteer_hours(
    session: Session, volunteer_id: int, availability: Mapping[str, Sequence[str]]
) -> Volunteer:
    """Set the weekly hours the volunteer takes offers in; offers skip them outside these."""
    volunteer = get_volunteer(session, volunteer_id)
    volunteer.availability = validate_availability(availability)
    session.add(volunteer)
    return volunteer


def get_volunteer(session: Session, volunteer_id: int) -> Volunteer:
    """The volunteer, or NotFound."""
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise NotFound(Msg("volunteer {volunteer_id} not found", volunteer_id=volunteer_id))
    return volunteer


def list_volunteers(session: Session, *, limit: int, offset: int) -> list[Volunteer]:
    """Volunteers by id, a page at a time."""
    query = select(Volunteer).order_by(col(Volunteer.id)).offset(offset).limit(limit)
    return list(session.exec(query).all())


def nearest_volunteers(
    session: Session,
    *,
    lat: float,
    lon: float,
    local_now: datetime,
    radius_km: float,
    skill: str | None = None,
    exclude: Collection[int] = (),
) -> list[tuple[Volunteer, Offeree]]:
    """Active volunteers within `radius_km` of (lat, lon), available at `local_now`, nearest first.

    A bounding box in SQL keeps the candidates few; the exact rule is the domain's.
    """
    dlat = radius_km / _KM_PER_DEGREE
    dlon = radius_km / (_KM_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    rows = session.exec(
        select(Volunteer).where(
            col(Volunteer.active).is_(True),
            col(Volunteer.lat).between(lat - dlat, lat + dlat),
            col(Volunteer.lon).between(lon - dlon, lon + dlon),
        )
    ).all()
    by_id = {v.id: v for v in rows if v.id is not None}
    spots = [
        VolunteerSpot(vid, v.lat, v.lon, v.skills, v.availability, v.active)
        for vid, v in by_id.items()
    ]
    chosen = nearest_eligible(
        spots,
        lat=lat,
        lon=lon,
        local_now=local_now,
        radius_km=radius_km,
        skill=skill,
        exclude=exclude,
    )
    return [(by_id[o.volunteer_id], o) for o in chosen]
