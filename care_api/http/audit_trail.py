"""The request's audit trail: routes that show an elder's data say so, and it is committed."""

from typing import Annotated

from fastapi import Depends, Request
from starlette.routing import BaseRoute

from care_api.http.deps import PrincipalDep, ServicesDep, UowDep
from care_api.usecases.people.audit import ElderRead, record_reads


class AuditTrail:
    """Records what a route showed of which elders, as the person who asked."""

    def __init__(
        self, request: Request, services: ServicesDep, uow: UowDep, who: PrincipalDep
    ) -> None:
        self._services = services
        self._uow = uow
        self._principal = who
        self.route = f"{request.method} {_route_template(request)}"

    def shown(self, what: str, elder_id: int, ref: str | None = None) -> None:
        """One elder's data was shown; committed at once, before the answer leaves."""
        self.shown_all([ElderRead(what, elder_id, ref)])

    def shown_all(self, reads: list[ElderRead]) -> None:
        """Several were shown (a list); nothing is written for an empty list."""
        if not reads:
            return
        record_reads(
            self._uow.session,
            self._principal,
            reads,
            route=self.route,
            now=self._services.clock.now(),
        )
        self._uow.commit()


def _route_template(request: Request) -> str:
    """`/api/v1/elders/{elder_id}`: the matched route with the prefixes it was included under."""
    path: str = request.scope["path"]
    route: BaseRoute | None = request.scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return path
    # An included router's route keeps its own path; the part of the URL before what it
    # matched is the prefix it was included under.
    try:
        matched = template.format_map({k: str(v) for k, v in request.path_params.items()})
    except (KeyError, ValueError):
        return template
    return path.removesuffix(matched) + template if path.endswith(matched) else template


AuditDep = Annotated[AuditTrail, Depends()]
