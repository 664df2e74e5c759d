"""Prometheus metrics of one app: requests by route and status, open cases at scrape time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_api.services import Services
from care_api.throttle import Gate
from care_api.usecases.cases.queries import (
    count_active_cases_by_kind,
    count_bounded_notifications,
    sms_segments_by_status,
)

log = logging.getLogger(__name__)

# Paths no route matched are one label value, so a scanner cannot blow up the series count.
UNMATCHED_ROUTE = "unmatched"
# The method is chosen by the client too: any token is a valid HTTP method, so only the
# standard ones get a label value of their own and the rest share one.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    """The request's method as a metrics label: a standard method, or "other"."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


class HttpMetrics:
    """The request metrics of one app, in that app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "vnh_http_requests",
            "HTTP requests served, by method, route template and status code",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "vnh_http_request_duration_seconds",
            "Time to serve an HTTP request, by route template",
            ["route"],
            registry=registry,
        )


def _full_route_templates(routes: Sequence[BaseRoute]) -> dict[int, str]:
    """Route object id → its template with every include prefix (`/api/v1/cases/{case_id}`)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazy includes copied routes: route.path is full
        return {}
    return {
        id(ctx.original_route): ctx.path_format
        for ctx in iter_route_contexts(routes)
        if ctx.path_format
    }


class MetricsMiddleware:
    """Pure ASGI middleware counting every HTTP request once it has been answered."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self._app = app
        self._metrics = metrics
        self._templates: dict[int, str] = {}

    def _route_label(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        if id(route) not in self._templates:
            # Built lazily: routers may be added after the middleware was installed.
            self._templates = _full_route_templates(scope["app"].routes)
            self._templates.setdefault(id(route), str(getattr(route, "path", UNMATCHED_ROUTE)))
        return self._templates[id(route)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status_code = 500  # what the client gets if the app dies before answering
        started = time.perf_counter()

        async def send_and_note_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_and_note_status)
        finally:
            # The router writes the matched route into this same scope dict.
            route = self._route_label(scope)
            method = method_label(scope["method"])
            self._metrics.requests.labels(method, route, str(status_code)).inc()
            self._metrics.duration.labels(route).observe(time.perf_counter() - started)


class OpenCasesCollector:
    """A gauge of cases that still need someone, by kind, read from the database per scrape."""

    NAME = "vnh_open_cases"
    HELP = "Cases not yet resolved, closed or cancelled, by kind"

    def __init__(self, services: Services) -> None:
        self._services = services

    def describe(self) -> Iterable[Metric]:
        # Lets the registry learn the name without a database query at registration.
        return [GaugeMetricFamily(self.NAME, self.HELP, labels=["kind"])]

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(self.NAME, self.HELP, labels=["kind"])
        try:
            with self._services.uow() as uow:
                counts = count_active_cases_by_kind(uow.session)
        except SQLAlchemyError as exc:
            # A scrape must still answer when the database is down; /healthz says why.
            log.warning("open-case gauge skipped: %s", exc)
            return []
        for kind, count in counts.items():
            gauge.add_metric([str(kind)], count)
        return [gauge]


class AuthFailuresCollector:
    """Failed logins at each gate, attempts refused unchecked, and sources shut out now."""

    FAILURES = "vnh_auth_failures"
    REFUSED = "vnh_auth_throttled"
    BLOCKED = "vnh_auth_blocked_sources"

    def __init__(self, services: Services) -> None:
        self._services = services

    def _families(self) -> tuple[CounterMetricFamily, CounterMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                self.FAILURES,
                "Failed bearer tokens, broker logins and webhook signatures, by gate",
                labels=["gate"],
            ),
            CounterMetricFamily(
                self.REFUSED,
                "Attempts refused unchecked while their source waited out its backoff, by gate",
                labels=["gate"],
            ),
            GaugeMetricFamily(
                self.BLOCKED, "Sources shut out after failed attempts, by gate", labels=["gate"]
            ),
        )

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        failures, refused, blocked = self._families()
        now = self._services.clock.now()
        for gate in Gate:
            throttle = self._services.auth[gate]
            failures.add_metric([gate.value], throttle.failures_total)
            refused.add_metric([gate.value], throttle.refused_total)
            blocked.add_metric([gate.value], throttle.blocked_sources(now))
        return [failures, refused, blocked]


class SmsSegmentsCollector:
    """SMS segments the outbox holds, by delivery status: what the messages cost, per scrape."""

    NAME = "vnh_sms_segments"
    HELP = "SMS segments of the messages written (GSM-7 160/153, UCS-2 70/67), by status"

    def __init__(self, services: Services) -> None:
        self._services = services

    def describe(self) -> Iterable[Metric]:
        return [CounterMetricFamily(self.NAME, self.HELP, labels=["status"])]

    def collect(self) -> Iterable[Metric]:
        counter = CounterMetricFamily(self.NAME, self.HELP, labels=["status"])
        try:
            with self._services.uow() as uow:
                totals = sms_segments_by_status(uow.session)
        except SQLAlchemyError as exc:
            log.warning("sms segment counter skipped: %s", exc)
            return []
        for status, total in totals.items():
            counter.add_metric([status], total)
        return [counter]


class BoundedMessagesCollector:
    """A counter of phone messages the send bounds stopped, by bound, read from the rows.

    The rows are the count, so every process reports the same figure and a restart loses none.
    """

    NAME = "vnh_notifications_bounded"
    HELP = "Phone messages the send bounds suppressed or folded into another, by bound"

    def __init__(self, services: Services) -> None:
        self._services = services

    def describe(self) -> Iterable[Metric]:
        return [CounterMetricFamily(self.NAME, self.HELP, labels=["bound"])]

    def collect(self) -> Iterable[Metric]:
        counter = CounterMetricFamily(self.NAME, self.HELP, labels=["bound"])
        try:
            with self._services.uow() as uow:
                counts = count_bounded_notifications(uow.session)
        except SQLAlchemyError as exc:
            log.warning("bounded-messages counter skipped: %s", exc)
            return []
        for bound, count in sorted(counts.items()):
            counter.add_metric([bound], count)
        return [counter]


def build_registry(services: Services) -> tuple[CollectorRegistry, HttpMetrics]:
    """A registry of its own for one app, so several apps in one process never clash."""
    registry = CollectorRegistry(auto_describe=True)
    metrics = HttpMetrics(registry)
    registry.register(OpenCasesCollector(services))
    registry.register(SmsSegmentsCollector(services))
    registry.register(BoundedMessagesCollector(services))
    registry.register(AuthFailuresCollector(services))
    return registry, metrics
