"""Safe zones per elder: set, read, remove, and the check every watch position goes through."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from care_api.domain.errors import NotFound
from care_api.domain.fleet import DevicePosition
from care_api.domain.model import CaseKind
from care_api.domain.texts import Msg
from care_api.domain.zones import check_zone, distance_m, is_outside
from care_api.store.tables import Case, Elder
from care_api.store.uow import SqlUnitOfWork
from care_api.store.watch_tables import SafeZone
from care_api.usecases.cases.log import add_note, open_case
from care_api.usecases.people.registry import get_elder

log = logging.getLogger(__name__)

ZONE_ACTOR = "system:safe-zone"


def put_zone(
    uow: SqlUnitOfWork,
    elder_id: int,
    *,
    lat: float,
    lon: float,
    radius_m: int,
    by: str,
    now: datetime,
) -> SafeZone:
    """Set (or move) the elder's zone; the elder counts as inside until a position says not."""
    get_elder(uow.session, elder_id)
    check_zone(lat, lon, radius_m)
    zone = uow.session.get(SafeZone, elder_id) or SafeZone(
        elder_id=elder_id, lat=lat, lon=lon, radius_m=radius_m, updated_at=now
    )
    zone.lat, zone.lon, zone.radius_m = lat, lon, radius_m
    zone.outside_since, zone.updated_by, zone.updated_at = None, by, now
    uow.session.add(zone)
    return zone


def get_zone(uow: SqlUnitOfWork, elder_id: int) -> SafeZone:
    """The elder's zone, or NotFound."""
    get_elder(uow.session, elder_id)
    zone = uow.session.get(SafeZone, elder_id)
    if zone is None:
        raise NotFound(Msg("elder {elder_id} has no safe zone", elder_id=elder_id))
    return zone


def find_zone(uow: SqlUnitOfWork, elder_id: int) -> SafeZone | None:
    """The elder's zone, None when none is set."""
    return uow.session.get(SafeZone, elder_id)


def remove_zone(uow: SqlUnitOfWork, elder_id: int) -> None:
    """Stop watching the elder's zone."""
    uow.session.delete(get_zone(uow, elder_id))


def check_departure(
    uow: SqlUnitOfWork,
    elder_id: int,
    device_id: str,
    position: DevicePosition | None,
    *,
    watch_says_left: bool,
    now: datetime,
    tz: tzinfo,
) -> Case | None:
    """Open a care case when the elder left their zone; None when nothing new happened.

    Left: a position outside the circle, or the watch's own "left the fence" bit. One
    case a departure: the zone remembers the elder is outside until a position inside.
    Only elders flagged for wandering (`Elder.wanders`) with a zone are checked.
    """
    elder = uow.session.get(Elder, elder_id)
    if elder is None or not elder.wanders:
        return None
    zone = uow.session.get(SafeZone, elder_id, with_for_update=True)
    if zone is None:
        return None
    outside = (
        is_outside(zone.lat, zone.lon, zone.radius_m, position) if position is not None else None
    )
    if outside is False and not watch_says_left:
        if zone.outside_since is not None:
            zone.outside_since = None  # back inside: the next departure is a new one
            uow.session.add(zone)
        return None
    if not (outside or watch_says_left) or zone.outside_since is not None:
        return None
    zone.outside_since = now
    where = ""
    if position is not None:
        away = distance_m(zone.lat, zone.lon, position)
        where = (
            f" ({away:.0f} m from home, {position.lat:.6f},{position.lon:.6f} {position.source})"
        )
    trigger = (
        "left the safe zone" + where
        if outside
        else "the watch says the elder left its fence" + where
    )
    case = open_case(
        uow,
        kind=CaseKind.CARE,
        elder_id=elder_id,
        trigger=trigger,
        by=ZONE_ACTOR,
        now=now,
        tz=tz,
        device_id=device_id,
    )
    add_note(
        uow,
        case,
        action="note",
        by=ZONE_ACTOR,
        why=Msg(
            "safe zone: {radius} m round {lat},{lon}",
            radius=zone.radius_m,
            lat=f"{zone.lat:.6f}",
            lon=f"{zone.lon:.6f}",
        ),
        now=now,
    )
    zone.case_id = case.id
    uow.session.add(zone)
    log.info("elder %d left the safe zone: case %s", elder_id, case.id)
    return case
