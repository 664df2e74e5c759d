"""API models of drill mode: a terminal or a district in test mode."""

from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from care_api.http.models.common import DEVICE_ID_PATTERN, District, Timestamp
from care_api.store.tables import Drill


class DrillCreate(BaseModel):
    """Put one terminal (`device_id`) or one whole district in test mode."""

    device_id: Annotated[str | None, Field(pattern=DEVICE_ID_PATTERN, examples=["T1001"])] = None
    district: Annotated[District | None, Field(min_length=1, examples=["Wucheng"])] = None
    note: Annotated[str, Field(max_length=500)] = ""

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.device_id is None) == (self.district is None):
            raise ValueError("give either device_id or district")
        return self


class DrillPublic(BaseModel):
    """A drill: what is in test mode, who started it, and whether it still runs."""

    id: int
    device_id: str | None
    district: str | None
    note: str
    started_by: str
    started_at: Timestamp
    ended_at: Timestamp | None
    ended_by: str | None
    running: bool

    @classmethod
    def of(cls, row: Drill) -> Self:
        """The public view of a drill row."""
        return cls(
            id=row.id or 0,
            device_id=row.device_id,
            district=row.district,
            note=row.note,
            started_by=row.started_by,
            started_at=row.started_at,
            ended_at=row.ended_at,
            ended_by=row.ended_by,
            running=row.ended_at is None,
        )
