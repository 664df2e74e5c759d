"""Bulk import from the console: upload a CSV or XLSX, read the report, then confirm."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from care_api.http.deps import AdminDep, ServicesDep, UowDep
from care_api.http.models.imports import ImportReportPublic
from care_api.i18n import accept_language, language_of
from care_api.usecases.onboarding.imports import ImportKind, run_import
from care_api.usecases.onboarding.sheets import read_sheet

router = APIRouter(prefix="/imports", tags=["imports"])
# A file of 10,000 elders with contacts is about 2 MB; this route alone takes more than 1 MB.
MAX_IMPORT_BYTES = 16 * 1024 * 1024


@router.post(
    "/{kind}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
)
async def post_import(
    kind: ImportKind,
    request: Request,
    services: ServicesDep,
    uow: UowDep,
    principal: AdminDep,
    commit: Annotated[
        bool, Query(description="Write when no row is bad; else only report.")
    ] = False,
    filename: Annotated[str, Query(max_length=200)] = "",
    lang: Annotated[
        str | None, Query(max_length=16, description="Language of the reasons.")
    ] = None,
) -> ImportReportPublic:
    """Check a whole CSV/XLSX file (the request body); with `commit=true` and no bad row, add it.

    Without `commit` nothing is written: the answer is the preview the operator confirms.
    """
    data = await request.body()
    settings = services.settings
    sheet = await run_in_threadpool(read_sheet, data, filename)
    # Checking 10,000 rows takes seconds: off the event loop, like the `def` routes.
    report = await run_in_threadpool(
        run_import,
        uow.session,
        sheet,
        kind,
        now=services.clock.now(),
        commit=commit,
        lang=language_of(lang)
        if lang
        else accept_language(request.headers.get("accept-language"), settings.language),
        region=settings.phone_region,
        by=principal.actor,
        service_accounts=(settings.mqtt_username,),
    )
    if report.committed:
        await run_in_threadpool(uow.commit)
    return ImportReportPublic.of(report)
