"""Area incidents (alarm storms) for the console board and the technicians' fleet view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from care_api.http.deps import StaffDep, UowDep
from care_api.http.models.incidents import IncidentPublic
from care_api.http.reader_language import in_reader_language
from care_api.store.incident_tables import Incident
from care_api.usecases.fleet.storms import still_down

router = APIRouter(prefix="/incidents", tags=["incidents"])

MAX_ROWS = 200


@router.get("")
def list_incidents(
    uow: UowDep,
    _staff: StaffDep,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 50,
) -> list[IncidentPublic]:
    """Open incidents first, then the latest closed; staff only (they span many elders)."""
    query = select(Incident)
    if open_only:
        query = query.where(col(Incident.closed_at).is_(None))
    rows = uow.session.exec(
        query.order_by(col(Incident.closed_at).is_not(None), col(Incident.opened_at).desc()).limit(
            limit
        )
    ).all()
    return [
        IncidentPublic(
            id=row.id or 0,
            trouble=row.trouble,
            scope=row.scope,
            area=row.area,
            terminals=row.terminals,
            back=row.back,
            still_down=still_down(uow.session, row),
            since=row.since,
            last_signal_at=row.last_signal_at,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            close_reason=in_reader_language(row.close_reason, row.close_reason_msg),
        )
        for row in rows
    ]
