"""The audit log of reads of elders' data; the admin's alone."""

from typing import Annotated, Self

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from care_api.http.deps import AdminDep, UowDep
from care_api.http.models.common import Timestamp
from care_api.store.tables import AuditLog
from care_api.usecases.cases.queries import MAX_PAGE, Page
from care_api.usecases.people.audit import list_audit

router = APIRouter(prefix="/audit", tags=["audit"])


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


@router.get("")
def read_audit(
    uow: UowDep,
    _admin: AdminDep,
    elder_id: Annotated[int | None, Query(ge=1)] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AuditPublic]:
    """Who read an elder's data, newest first; filter by elder and by actor (`role:name`)."""
    rows = list_audit(
        uow.session, elder_id=elder_id, actor=actor, page=Page(limit=limit, offset=offset)
    )
    return [AuditPublic.of(r) for r in rows]
