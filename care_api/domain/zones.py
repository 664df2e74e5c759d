"""Safe zones: is a reported position outside the circle round an elder's home?"""

from __future__ import annotations

from care_api.domain.errors import InvalidInput
from care_api.domain.fleet import DevicePosition, PositionSource
from care_api.domain.geo import haversine_km
from care_api.domain.texts import Msg

RADIUS_MIN_M = 50  # below GPS error: every walk to the door would be a departure
RADIUS_MAX_M = 50_000
# A Wi-Fi position is good to about a hundred metres: only that much beyond counts.
WIFI_MARGIN_M = 100.0


def check_zone(lat: float, lon: float, radius_m: int) -> None:
    """A zone the service can watch; InvalidInput says what is wrong."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(Msg("lat must be -90..90 and lon -180..180"))
    if not RADIUS_MIN_M <= radius_m <= RADIUS_MAX_M:
        raise InvalidInput(
            Msg(
                "radius_m must be {radius_min_m} to {radius_max_m}",
                radius_min_m=RADIUS_MIN_M,
                radius_max_m=RADIUS_MAX_M,
            )
        )


def distance_m(lat: float, lon: float, position: DevicePosition) -> float:
    """Metres from the zone's centre to `position`."""
    return haversine_km(lat, lon, position.lat, position.lon) * 1000


def is_outside(lat: float, lon: float, radius_m: int, position: DevicePosition) -> bool | None:
    """True outside, False inside, None when the position is too coarse to say (cell only).

    A GPS fix counts as it is; a Wi-Fi position only beyond its own error. A cell tower
    says the elder is somewhere within kilometres: neither in nor out.
    """
    if position.source is PositionSource.GPS and position.fix:
        margin = 0.0
    elif position.source is PositionSource.WIFI:
        margin = WIFI_MARGIN_M
    else:
        return None
    return distance_m(lat, lon, position) > radius_m + margin
