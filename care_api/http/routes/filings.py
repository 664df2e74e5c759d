"""Cases filed by hand with working-day deadlines, their extension, and the calendar behind them."""

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from care_api.domain.errors import Conflict, NotFound
from care_api.domain.texts import Msg
from care_api.http.deps import AdminDep, ServicesDep, StaffDep, UowDep
from care_api.http.models.cases import CasePublic
from care_api.http.models.filings import (
    CalendarDayBody,
    CalendarDayPublic,
    DeadlinePublic,
    ExtendBody,
    FiledCase,
    FilingBody,
)
from care_api.store.tables import Case, CaseDeadline
from care_api.usecases.cases.filings import extend_case, file_case, get_deadline
from care_api.usecases.schedules.workdays import clear_day, list_days, put_day

log = logging.getLogger(__name__)

router = APIRouter(tags=["cases"])

CaseId = Annotated[str, Path(min_length=1, max_length=32)]
DEFAULT_CALENDAR_DAYS = 31


def _filed(case: Case, deadline: CaseDeadline, now: dt.datetime) -> FiledCase:
    return FiledCase(**dict(CasePublic.of(case)), deadline=DeadlinePublic.of(deadline, case, now))


@router.post("/cases", status_code=status.HTTP_201_CREATED)
def post_case(
    body: FilingBody, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> FiledCase:
    """File a case by hand; its matter sets the deadline in working days (1 / 5 / 15).

    A department matter is answered within 1 working day, general affairs within 5,
    complaints within 15; an overdue case draws a supervision notice (督办通知书).
    """
    now = services.clock.now()
    case, deadline = file_case(uow, body.as_filing(), by=principal.actor, now=now, tz=services.tz)
    uow.commit()
    log.info(
        "case %s filed by %s (%s, due %s)", case.id, principal.actor, body.matter, deadline.due_at
    )
    return _filed(case, deadline, now)


@router.get("/cases/{case_id}/deadline")
def read_deadline(
    case_id: CaseId, services: ServicesDep, uow: UowDep, _staff: StaffDep
) -> DeadlinePublic:
    """The working-day deadline of a hand-filed case."""
    deadline = get_deadline(uow, case_id)
    case = uow.session.get(Case, case_id)
    if deadline is None or case is None:
        raise NotFound(Msg("case {case_id} has no deadline", case_id=case_id))
    return DeadlinePublic.of(deadline, case, services.clock.now())


@router.post("/cases/{case_id}/extend")
def post_extend(
    case_id: CaseId, body: ExtendBody, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> FiledCase:
    """Extend the deadline once, by at most 15 working days (409 for a second extension)."""
    now = services.clock.now()
    deadline = extend_case(
        uow,
        case_id,
        days=body.days,
        reason=body.reason,
        by=principal.actor,
        now=now,
        tz=services.tz,
    )
    uow.commit()
    case = uow.session.get(Case, case_id)
    if case is None:  # pragma: no cover - extend_case found it
        raise Conflict(Msg("case {case_id} vanished", case_id=case_id))
    return _filed(case, deadline, now)


@router.get("/calendar", tags=["calendar"])
def read_calendar(
    services: ServicesDep,
    uow: UowDep,
    _staff: StaffDep,
    first: Annotated[dt.date | None, Query(alias="from")] = None,
    last: Annotated[dt.date | None, Query(alias="to")] = None,
) -> list[CalendarDayPublic]:
    """Each day of `[from, to]` (default: the next 31 days) and whether it is worked."""
    start = first or services.clock.now().astimezone(services.tz).date()
    end = last or start + dt.timedelta(days=DEFAULT_CALENDAR_DAYS - 1)
    return [CalendarDayPublic.of(d) for d in list_days(uow.session, start, end)]


@router.put("/calendar/{day}", tags=["calendar"])
def put_calendar_day(
    day: dt.date, body: CalendarDayBody, services: ServicesDep, uow: UowDep, principal: AdminDep
) -> CalendarDayPublic:
    """Make a day a holiday (working=false) or a make-up working day (working=true).

    Deadlines set from now on count with it; deadlines already set keep their date.
    """
    put_day(
        uow.session,
        day,
        working=body.working,
        note=body.note,
        by=principal.actor,
        now=services.clock.now(),
    )
    uow.commit()
    log.info(
        "calendar %s set to %s by %s", day, "working" if body.working else "off", principal.actor
    )
    [view] = list_days(uow.session, day, day)
    return CalendarDayPublic.of(view)


@router.delete("/calendar/{day}", tags=["calendar"])
def delete_calendar_day(day: dt.date, uow: UowDep, principal: AdminDep) -> Response:
    """Drop the admin's setting of a day: its weekday decides again."""
    if not clear_day(uow.session, day):
        raise NotFound(Msg("{day} has no calendar setting", day=day.isoformat()))
    uow.commit()
    log.info("calendar %s reset by %s", day, principal.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
