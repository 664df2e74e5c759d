"""The audit log's API model: one recorded read or change."""

from typing import Self

from pydantic import BaseModel, ConfigDict

from care_api.http.models.common import Timestamp
from care_api.store.tables import AuditLog


class AuditPublic(BaseModel):
    """One read of an elder's data: who, in which role, what, when, by which route."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: Timestamp
    actor: str
    role: str
    token_id: int | None
    what: str
    ref: str | None
    elder_id: int
    route: str

    @classmethod
    def of(cls, row: AuditLog) -> Self:
        """The public view of an audit row."""
        return cls.model_validate(row)
