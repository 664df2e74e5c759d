"""The audit log of reads of elders' data; the admin's alone."""

from typing import Annotated

from fastapi import APIRouter, Query

from care_api.http.deps import AdminDep, UowDep
from care_api.http.models.audit import AuditPublic
from care_api.usecases.cases.queries import MAX_PAGE, Page
from care_api.usecases.people.audit import list_audit

router = APIRouter(prefix="/audit", tags=["audit"])


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
