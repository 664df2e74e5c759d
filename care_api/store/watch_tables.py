"""Tables of the 4G watches: the track of positions, health readings, safe zones."""

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from care_api.store.types import UtcDateTime


def _ts(*, nullable: bool = False) -> Any:  # noqa: ANN401
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable))


class PositionPoint(SQLModel, table=True):
    """Every position a terminal reported: the track shown on a case."""

    __tablename__ = "position_point"
    __table_args__ = (
        Index("ix_position_point_elder_at", "elder_id", "at"),
        Index("ix_position_point_received_at", "received_at"),  # the retention job's (0028)
    )
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.device_id", max_length=64)
    elder_id: int | None = Field(default=None, foreign_key="elder.id")
    at: datetime = _ts()  # the watch's own time (the receive time when it had none)
    lat: float
    lon: float
    fix: bool
    source: str = Field(max_length=8)  # gps | wifi | cell
    received_at: datetime = _ts()


class HealthReading(SQLModel, table=True):
    """A measurement a watch sent (heart rate, blood pressure, temperature); opens nothing."""

    __tablename__ = "health_reading"
    __table_args__ = (Index("ix_health_reading_elder_at", "elder_id", "received_at"),)
    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elder.id")
    device_id: str = Field(foreign_key="device.device_id", max_length=64)
    keyword: str = Field(max_length=16)  # heart | bphrt | btemp2 | PULSE | BLOOD
    heart_rate: int | None = None  # beats a minute
    systolic: int | None = None  # mmHg
    diastolic: int | None = None  # mmHg
    temperature_c: float | None = None
    received_at: datetime = _ts()


class SafeZone(SQLModel, table=True):
    """An elder's safe zone (a circle round home); leaving it opens a care case."""

    __tablename__ = "safe_zone"
    elder_id: int = Field(foreign_key="elder.id", primary_key=True)
    lat: float
    lon: float
    radius_m: int
    # Set while the elder is known to be outside: one case a departure, not one a position.
    outside_since: datetime | None = _ts(nullable=True)
    case_id: str | None = Field(default=None, max_length=32)  # the last departure's case
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = _ts()
