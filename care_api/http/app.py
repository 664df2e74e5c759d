"""The FastAPI app factory: our routes under /api/v1, the console, extra routers, lifecycles."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI

from care_api import __version__
from care_api.http.body_limit import BodySizeLimitMiddleware
from care_api.http.case_stream import CaseStream
from care_api.http.errors import install_error_handlers
from care_api.http.metrics import MetricsMiddleware, build_registry
from care_api.http.offline_docs import install_offline_docs
from care_api.http.reader_language import ReaderLanguageMiddleware
from care_api.http.routes import (
    audit,
    calls,
    cases,
    channels,
    checkins,
    console,
    desk,
    devices,
    drills,
    elders,
    filings,
    health,
    hotline,
    imports,
    incidents,
    ladders,
    merchants,
    notifications,
    orders,
    rotas,
    sso,
    staff,
    tokens,
    vocabulary,
    volunteers,
    watches,
)
from care_api.services import Services

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

TAGS: list[dict[str, Any]] = [
    {"name": "elders", "description": "Elders' profiles and the contacts alerted for them"},
    {"name": "devices", "description": "One-button terminals: provisioning and status"},
    {"name": "cases", "description": "Cases, their history, and the lifecycle by hand"},
    {"name": "notifications", "description": "Every message sent or queued"},
    {"name": "tokens", "description": "Bearer tokens for people, minted by the admin"},
    {"name": "ladders", "description": "Escalation ladders per case kind, editable by the admin"},
    {"name": "volunteers", "description": "Volunteers and the care tasks offered to them"},
    {"name": "merchants", "description": "Franchised merchants, their record and strikes"},
    {"name": "orders", "description": "Service orders and the 10-minute contact rule"},
    {"name": "calendar", "description": "Cases filed by hand, working-day deadlines, supervision"},
    {"name": "hotline", "description": "Calls to the centre: missed calls and callbacks"},
    {"name": "audit", "description": "Who read which elder's data, for the admin"},
    {"name": "desk", "description": "Notes, procedures, outcome codes, handover, the map"},
    {"name": "health", "description": "Health check and Prometheus metrics"},
    {"name": "staff", "description": "Named staff logins: console sessions and the user list"},
    {"name": "imports", "description": "Bulk import of elders, volunteers and merchants"},
]


class Component(Protocol):
    """A background part of the process (gateway, scheduler…) the app starts and stops."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_app(
    services: Services,
    *,
    routers: Sequence[APIRouter] = (),
    components: Sequence[Component] = (),
    health_checks: Mapping[str, Callable[[], dict[str, Any]]] | None = None,
    stream: CaseStream | None = None,
    state: Mapping[str, object] | None = None,
) -> FastAPI:
    """Build the HTTP app over `services`.

    Args:
        services: shared settings, database, clock and event bus; kept in `app.state.services`.
        routers: extra routers, included as given (each carries its own prefix, e.g.
            `/webhooks/twilio` for the alerts' webhooks, which care_api may not import).
        components: started in order when the app starts, stopped in reverse when it stops.
        health_checks: name → check; `/healthz` shows each returned dict under its name,
            and a check that raises makes the service report itself degraded (503).
        stream: the consoles' live fan-out; by default one over `services.bus`. Pass your
            own to close it when the server stops (`ConsoleAwareServer`).
        state: objects the extra routers' dependencies read from `app.state`, by name
            (e.g. the alerts engine's call desk for its webhooks).
    """
    app = FastAPI(
        title="Virtual nursing home",
        version=__version__,
        description="Cases from one-button terminals, their dispatch, alerts and callbacks.",
        openapi_tags=TAGS,
        lifespan=_lifespan(list(components)),
        docs_url=None,  # served by install_offline_docs, from the package, not a CDN
        redoc_url=None,
    )
    install_offline_docs(app)
    registry, metrics = build_registry(services)
    app.state.services = services
    app.state.health_checks = dict(health_checks or {})
    app.state.metrics_registry = registry
    app.state.case_stream = stream if stream is not None else CaseStream(services.bus)
    for name, value in (state or {}).items():
        setattr(app.state, name, value)
    app.add_middleware(  # inside metrics: 413s are counted
        BodySizeLimitMiddleware, larger={f"{API_PREFIX}/imports/": imports.MAX_IMPORT_BYTES}
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Outermost: every handler, error answers included, knows the reader's language.
    app.add_middleware(ReaderLanguageMiddleware, default=services.settings.language)
    install_error_handlers(app)
    routes = (
        elders,
        devices,
        cases,
        notifications,
        tokens,
        ladders,
        audit,
        rotas,
        checkins,
        drills,
        vocabulary,
        hotline,
        desk,
        incidents,
        watches,
        channels,
        calls,
    )
    dispatch_routes = (volunteers, merchants, orders, filings)
    onboarding_routes = (staff, sso, imports)
    for module in routes + dispatch_routes + onboarding_routes:
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router)
    # The console's page and files sit outside /api/v1; its reads carry the prefix themselves.
    console.redact_access_log()
    app.include_router(console.router)
    for router in routers:
        app.include_router(router)
    return app


def _lifespan(
    components: list[Component],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        started: list[Component] = []
        try:
            for component in components:
                log.info("starting %s", type(component).__name__)
                component.start()
                started.append(component)
            yield
        finally:
            # Reverse order: a part is stopped before the parts it relies on.
            for component in reversed(started):
                log.info("stopping %s", type(component).__name__)
                try:
                    component.stop()
                except Exception:
                    log.exception("stopping %s failed", type(component).__name__)

    return lifespan
