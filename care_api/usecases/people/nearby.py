"""What a map of an elder's home shows: the home, the responders near it, the watch's position."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlmodel import Session, col, select

from care_api.domain.geo import haversine_km
from care_api.store.tables import Elder, Merchant, Volunteer

NEAR_KM = 5.0
MAX_SHOWN = 12
KM_PER_DEGREE = 111.0


@dataclass(frozen=True, slots=True)
class Responder:
    """A volunteer or merchant within reach of the elder's home."""

    role: str
    id: int
    name: str
    lat: float
    lon: float
    distance_km: float


def responders_near(
    session: Session, elder: Elder, *, radius_km: float = NEAR_KM
) -> list[Responder]:
    """Active volunteers and merchants within `radius_km` of the home, nearest first."""
    if elder.lat is None or elder.lon is None:
        return []
    home = (elder.lat, elder.lon)
    # A box around the home first, so a city's thousands of volunteers are not all read.
    span = radius_km / KM_PER_DEGREE / max(0.1, math.cos(math.radians(elder.lat)))
    box_v = (
        col(Volunteer.lat).between(elder.lat - span, elder.lat + span),
        col(Volunteer.lon).between(elder.lon - span, elder.lon + span),
    )
    found: list[Responder] = []
    for v in session.exec(select(Volunteer).where(col(Volunteer.active).is_(True), *box_v)).all():
        found.append(
            Responder(
                "volunteer", v.id or 0, v.name, v.lat, v.lon, haversine_km(*home, v.lat, v.lon)
            )
        )
    merchants = select(Merchant).where(
        col(Merchant.status).in_(["active", "yellow"]),
        col(Merchant.lat).between(elder.lat - span, elder.lat + span),
        col(Merchant.lon).between(elder.lon - span, elder.lon + span),
    )
    for m in session.exec(merchants).all():
        if m.lat is not None and m.lon is not None:
            far = haversine_km(*home, m.lat, m.lon)
            found.append(Responder("merchant", m.id or 0, m.name, m.lat, m.lon, far))
    near = sorted((r for r in found if r.distance_km <= radius_km), key=lambda r: r.distance_km)
    return near[:MAX_SHOWN]
