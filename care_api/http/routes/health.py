"""Liveness and readiness (/healthz) and Prometheus metrics (/metrics).

Anyone may ask whether the service is up; what its parts report (addresses, counters, errors)
is for staff, so /healthz shows it only with an admin or operator token.
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any, cast

from fastapi import APIRouter, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from care_api.domain.access import is_staff
from care_api.http.deps import OptionalPrincipalDep, ServicesDep
from care_api.services import Services

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

HealthCheck = Callable[[], dict[str, Any]]


def _database_status(services: Services) -> str:
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable: %s", exc)
        return f"error: {type(exc).__name__}"
    return "ok"


@router.get("/healthz", response_class=JSONResponse)
def healthz(
    request: Request, services: ServicesDep, principal: OptionalPrincipalDep
) -> JSONResponse:
    """200 when the service can work, 503 when a part is down; details for staff only.

    Without a staff token the answer is `{"status": "ok"}` or `{"status": "degraded"}`. With
    one it adds each part's report: a component reports through the dict its check returns,
    and a check that raises marks the service degraded.
    """
    report: dict[str, Any] = {"status": "ok", "database": _database_status(services)}
    healthy = report["database"] == "ok"
    checks = cast(Mapping[str, HealthCheck], request.app.state.health_checks)
    for name, check in checks.items():
        try:
            report[name] = check()
        except Exception as exc:
            log.warning("health check %s failed: %s", name, exc)
            report[name] = {"error": str(exc) or type(exc).__name__}
            healthy = False
    if not healthy:
        report["status"] = "degraded"
    code = status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE
    if principal is None or not is_staff(principal):
        report = {"status": report["status"]}
    return JSONResponse(jsonable_encoder(report), status_code=code)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of this app's registry."""
    registry = cast(CollectorRegistry, request.app.state.metrics_registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
