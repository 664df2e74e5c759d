"""The operator console: its page and files, the live case stream, and the reads it needs."""

import asyncio
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from care_api.domain.access import Principal, is_staff
from care_api.domain.answer_times import ShiftHours
from care_api.domain.kpi import MAX_PERIOD_DAYS, compute_kpi
from care_api.http.deps import (
    CaseStreamDep,
    ServicesDep,
    StaffDep,
    UowDep,
    check_token,
    client_source,
    cookie_principal,
)
from care_api.http.models.cases import CasePublic
from care_api.http.models.console import (
    AnswerTimesPublic,
    BoardCase,
    BoardPublic,
    KpiReport,
    ReclassifyBody,
)
from care_api.http.models.desk import name_owners, tile_origin
from care_api.http.models.hotline import HotlineCallPublic, HotlineKpiPublic
from care_api.services import Services
from care_api.usecases.cases.countdown import next_due_of
from care_api.usecases.cases.desk import outcome_counts
from care_api.usecases.cases.reclassify import reclassify
from care_api.usecases.hotline.calls import missed_calls
from care_api.usecases.hotline.kpi import hotline_kpi
from care_api.usecases.reports.console import board, kpi_inputs
from care_api.usecases.reports.kpi import answer_kpi, parse_bound, service_kpi

log = logging.getLogger(__name__)

CONSOLE_DIR = FsPath(__file__).resolve().parent.parent / "console"
API = "/api/v1"
DEFAULT_KPI_DAYS = 7

# The page may load only its own files and talk only to its own origin.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def page_headers(map_tiles: str | None) -> dict[str, str]:
    """The page's headers; the map's tile server (VNH_MAP_TILES) is the one outside image source."""
    origin = tile_origin(map_tiles)
    if origin is None:
        return PAGE_HEADERS
    policy = PAGE_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self' data:;", f"img-src 'self' data: {origin};"
    )
    return {**PAGE_HEADERS, "Content-Security-Policy": policy}


STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


class _RedactTokenFilter(logging.Filter):
    """Hides `token=` query values in access-log lines (EventSource must send it there)."""

    _TOKEN = re.compile(r"([?&]token=)[^&\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def redact_access_log() -> None:
    """Hide the stream's `token=` query values in uvicorn's access log (once per process)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactTokenFilter) for f in access.filters):
        access.addFilter(_RedactTokenFilter())


def _stream_principal(
    services: Services, token: str | None, source: str, request: Request
) -> Principal:
    with services.uow() as uow:
        if token is None:  # a console signed in with a password: its session cookie
            principal = cookie_principal(request, services, uow.session)
            if principal is None:
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated")
            return principal
        return check_token(services, uow.session, token, source)


router = APIRouter()
router.mount("/console/static", StaticFiles(directory=CONSOLE_DIR), name="console-static")


@router.get("/", include_in_schema=False)
def page(services: ServicesDep) -> FileResponse:
    """The console's single page; it asks for a token before showing anything."""
    headers = page_headers(services.settings.map_tiles)
    return FileResponse(CONSOLE_DIR / "index.html", headers=headers)


@router.get(f"{API}/stream", tags=["console"], response_class=StreamingResponse)
async def case_stream(
    request: Request,
    services: ServicesDep,
    cases: CaseStreamDep,
    token: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> StreamingResponse:
    """Server-sent `case` events for staff: a token in the query, else the session cookie."""
    principal = await run_in_threadpool(
        _stream_principal, services, token, client_source(request), request
    )
    if not is_staff(principal):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the case stream is for staff")
    client = cases.connect(asyncio.get_running_loop())
    log.info("console stream opened for %s (%d open)", principal.actor, cases.client_count)
    return StreamingResponse(
        cases.frames(client), media_type="text/event-stream", headers=STREAM_HEADERS
    )


@router.get(f"{API}/console/board", tags=["console"])
def read_board(services: ServicesDep, uow: UowDep, _staff: StaffDep) -> BoardPublic:
    """Open cases, newest emergency first, with their elder's name and the server's time."""
    rows = board(uow.session)
    cases = [BoardCase.of(r.case, r.elder_name, r.flags) for r in rows]
    due = next_due_of(uow.session, [r.case for r in rows])
    for row in cases:
        row.next_escalation_at = due.get(row.id)
    return BoardPublic(
        now=services.clock.now(),
        cases=name_owners(uow.session, cases),
        missed_calls=[HotlineCallPublic.of(c) for c in missed_calls(uow.session)],
    )


# The fleet view, GET /api/v1/devices, lives in routes/devices.py with the other
# terminal routes, so that it is served with or without the console.


@router.get(f"{API}/reports/kpi", tags=["reports"])
def read_kpi(
    services: ServicesDep,
    uow: UowDep,
    _staff: StaffDep,
    days: Annotated[int, Query(ge=1, le=MAX_PERIOD_DAYS)] = DEFAULT_KPI_DAYS,
    since: datetime | None = None,
    until: datetime | None = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
    drill: Annotated[bool, Query()] = False,
) -> KpiReport:
    """The centre's figures over `[since, until)`; by default the last `days` local days.

    `from` / `to` give the same bounds as local dates ("2026-11-22"; `to` included) or
    as times with a UTC offset. Drill cases are never counted; `drill=true` reports
    them alone instead.
    """
    # By default whole local days: today's so far and the `days - 1` before it.
    now = services.clock.now()
    today = now.astimezone(services.tz)
    midnight = today.replace(hour=0, minute=0, second=0, microsecond=0)
    if to is not None:
        until = parse_bound(to, services.tz, end=True)
    if from_ is not None:
        since = parse_bound(from_, services.tz, end=False)
    end = _aware(until) if until is not None else midnight + timedelta(days=1)
    start = _aware(since) if since is not None else end - timedelta(days=days)
    facts, callbacks = kpi_inputs(uow.session, start, end, drill=drill)
    kpi = compute_kpi(facts, callbacks, since=start, until=end, tz=services.tz)
    hours = ShiftHours(
        services.settings.day_shift_start_hour, services.settings.night_shift_start_hour
    )
    answers = answer_kpi(uow.session, start, end, now=now, tz=services.tz, hours=hours, drill=drill)
    # Merchants' orders and filed deadlines are never drills: none in the drill report.
    service_since = end if drill else start
    report = KpiReport.build(
        kpi,
        service_kpi(uow.session, facts, service_since, end, now),
        AnswerTimesPublic.build(answers, hours),
    )
    if not drill:  # a call to the centre is never a drill
        report.hotline = HotlineKpiPublic.of(hotline_kpi(uow.session, start, end))
    report.by_outcome = outcome_counts(uow.session, start, end, drill=drill)
    return report


@router.post(f"{API}/cases/{{case_id}}/reclassify", tags=["cases"])
def post_reclassify(
    case_id: Annotated[str, Path(min_length=1, max_length=32)],
    body: ReclassifyBody,
    services: ServicesDep,
    uow: UowDep,
    principal: StaffDep,
) -> CasePublic:
    """Give the case another kind or service line (a single press that is really legal help).

    With only a line the kind follows it where it must (legal → consult); a kind and a
    line that do not go together are a 422.
    """
    case = reclassify(
        uow,
        case_id,
        body.kind,
        line=body.line,
        by=principal.actor,
        note=body.note,
        now=services.clock.now(),
        tz=services.tz,
    )
    uow.commit()  # publishes CaseReclassified: the console hears it, alerts restarts the ladder
    return CasePublic.of(case)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "times need a UTC offset")
    return value
