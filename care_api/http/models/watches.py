"""API models of the 4G watches' data: readings, safe zones, the track of positions."""

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field

from care_api.domain.zones import RADIUS_MAX_M, RADIUS_MIN_M
from care_api.http.models.common import Timestamp
from care_api.store.watch_tables import HealthReading, PositionPoint, SafeZone


class ReadingPublic(BaseModel):
    """A measurement a watch sent; null where the frame said nothing of it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: str
    keyword: str
    heart_rate: int | None
    systolic: int | None
    diastolic: int | None
    temperature_c: float | None
    received_at: Timestamp

    @classmethod
    def of(cls, row: HealthReading) -> Self:
        """The public view of a reading row."""
        return cls.model_validate(row)


class ZoneSet(BaseModel):
    """A circle round the elder's home: leaving it opens a care case (for wandering elders)."""

    lat: Annotated[float, Field(ge=-90, le=90, examples=[29.0790])]
    lon: Annotated[float, Field(ge=-180, le=180, examples=[119.6470])]
    radius_m: Annotated[int, Field(ge=RADIUS_MIN_M, le=RADIUS_MAX_M, examples=[500])]


class ZonePublic(ZoneSet):
    """The zone, whether the elder is outside since a time, and the last departure's case."""

    model_config = ConfigDict(from_attributes=True)

    elder_id: int
    outside_since: Timestamp | None
    case_id: str | None
    updated_by: str
    updated_at: Timestamp

    @classmethod
    def of(cls, row: SafeZone) -> Self:
        """The public view of a zone row."""
        return cls.model_validate(row)


class PointPublic(BaseModel):
    """One position on a track: the watch's time, GPS fix or not, found by gps/wifi/cell."""

    model_config = ConfigDict(from_attributes=True)

    device_id: str
    at: Timestamp
    lat: float
    lon: float
    fix: bool
    source: str

    @classmethod
    def of(cls, row: PositionPoint) -> Self:
        """The public view of a track point."""
        return cls.model_validate(row)


class TrackPublic(BaseModel):
    """Where the elder went over a case's time (from half an hour before), oldest first."""

    case_id: str
    elder_id: int
    points: list[PointPublic]
    last: PointPublic | None  # the newest position known, even after the case ended
