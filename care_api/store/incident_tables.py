"""Area incidents: one row for an alarm storm instead of a device case per terminal (0022)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from care_api.store.types import UtcDateTime


def _ts(*, nullable: bool = False, index: bool = False) -> Any:  # noqa: ANN401
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class Incident(SQLModel, table=True):
    """Many terminals of one area with one technical trouble: what, where, how many, since."""

    __tablename__ = "incident"
    id: int | None = Field(default=None, primary_key=True)
    trouble: str = Field(max_length=16)  # domain.storms.Trouble
    scope: str = Field(max_length=16)  # domain.storms.Scope
    area: str = Field(default="", max_length=200)  # the district or hub line; "" for all
    # "scope:area" while open, null once closed: two processes never open the same one twice.
    open_key: str | None = Field(default=None, max_length=240, unique=True)
    terminals: int = 0  # distinct terminals, growing live
    back: int = 0  # of them, back (power restored, heard again)
    since: datetime = _ts()  # the first signal of the storm
    last_signal_at: datetime = _ts()
    opened_at: datetime = _ts(index=True)
    closed_at: datetime | None = _ts(nullable=True)
    close_reason: str = Field(default="", max_length=200)
    close_reason_msg: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )  # the same as a catalogue key and fields, for the reader's language (0031)


class IncidentTerminal(SQLModel, table=True):
    """A terminal held in an incident: no device case of its own while the incident holds."""

    __tablename__ = "incident_terminal"
    __table_args__ = (UniqueConstraint("incident_id", "device_id", name="uq_incident_terminal"),)
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    device_id: str = Field(max_length=64, index=True)
    trouble: str = Field(max_length=16)
    joined_at: datetime = _ts()
    back_at: datetime | None = _ts(nullable=True)


class TechSignal(SQLModel, table=True):
    """A recent technical trouble, kept for the storm window only: what detection counts."""

    __tablename__ = "tech_signal"
    __table_args__ = (Index("ix_tech_signal_at", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=64)
    trouble: str = Field(max_length=16)
    district: str = Field(default="", max_length=64)
    hub: str = Field(default="", max_length=200)
    at: datetime = _ts()
