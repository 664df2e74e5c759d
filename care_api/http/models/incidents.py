"""API model of a fleet incident (many terminals down at once)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class IncidentPublic(BaseModel):
    """One area incident: what, where, how many terminals, since when, and how it ended."""

    id: int
    trouble: str
    scope: str
    area: str
    terminals: int
    back: int
    still_down: int
    since: datetime
    last_signal_at: datetime
    opened_at: datetime
    closed_at: datetime | None
    close_reason: str
