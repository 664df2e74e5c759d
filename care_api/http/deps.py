"""Request dependencies: services, a unit of work, the authenticated principal, role checks.

Route modules (ours and those other packages pass to `create_app`) import exactly these:
`ServicesDep`, `UowDep`, `PrincipalDep`, `require_roles`, and the shorthands `StaffDep`,
`AdminDep`; the console's routes also `CaseStreamDep`.
"""

import logging
import math
from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.params import Depends as DependsMarker
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from care_api.domain.access import Principal
from care_api.domain.model import Role
from care_api.http.case_stream import CaseStream
from care_api.services import Services
from care_api.store.uow import SqlUnitOfWork
from care_api.throttle import Gate
from care_api.usecases.people.staff import session_principal
from care_api.usecases.people.tokens import authenticate

log = logging.getLogger(__name__)


def get_services(request: Request) -> Services:
    """The services `create_app` was given."""
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_case_stream(request: Request) -> CaseStream:
    """The consoles' live fan-out `create_app` made (or was given)."""
    return cast(CaseStream, request.app.state.case_stream)


CaseStreamDep = Annotated[CaseStream, Depends(get_case_stream)]


def get_uow(services: ServicesDep) -> Iterator[SqlUnitOfWork]:
    """One unit of work per request; routes that write call `uow.commit()` themselves."""
    with services.uow() as uow:
        yield uow


# "function" scope closes the session when the route returns, not after the response is
# sent, so a slow client never holds a database connection.
UowDep = Annotated[SqlUnitOfWork, Depends(get_uow, scope="function")]

_bearer = HTTPBearer(
    auto_error=False,
    description="A token from POST /api/v1/tokens, or the configured VNH_ADMIN_TOKEN.",
)


def _unauthenticated() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="not authenticated",
        headers={"WWW-Authenticate": "Bearer"},
    )


def client_source(request: Request) -> str:
    """The address a request came from (behind a local proxy: the one it forwarded for)."""
    return request.client.host if request.client is not None else "unknown"


def too_many_failures(retry_after_s: float) -> HTTPException:
    """429 for a source shut out after too many failed logins."""
    wait = max(1, math.ceil(retry_after_s))
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"too many failed attempts from this address; try again in {wait} s",
        headers={"Retry-After": str(wait)},
    )


def check_token(services: Services, session: Session, token: str, source: str) -> Principal:
    """The principal behind `token` presented from `source`; 401 when bad, 429 when shut out.

    A bad token counts against its source; after a few, the source waits (backoff) and its
    tokens are not even looked at meanwhile.
    """
    throttle = services.auth[Gate.BEARER]
    now = services.clock.now()
    wait = throttle.retry_after(source, now)
    if wait is not None:
        raise too_many_failures(wait)
    admin = services.settings.admin_token
    principal = authenticate(
        session,
        token,
        admin_token=admin.get_secret_value() if admin is not None else None,
        now=now,
    )
    if principal is None:
        if throttle.failed(source, now) is not None:
            log.warning("bearer tokens from %s refused for a while: too many bad ones", source)
        raise _unauthenticated()
    return principal


# The console's session cookie (HttpOnly, SameSite=Strict) and the header its every call sends:
# a cross-site form or image cannot set a custom header, so a cookie-authenticated write
# without it is refused (CSRF), on top of what SameSite=Strict already keeps out.
SESSION_COOKIE = "vnh_session"
CSRF_HEADER = "X-VNH-Console"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cookie_principal(request: Request, services: Services, session: Session) -> Principal | None:
    """The staff member behind the session cookie, or None without a cookie; 401/403 when bad."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    principal = session_principal(session, secret, services.clock.now())
    if principal is None:
        raise _unauthenticated()
    if request.method not in _SAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"a write with the session cookie needs the {CSRF_HEADER}: 1 header",
        )
    return principal


def get_principal(
    request: Request,
    services: ServicesDep,
    uow: UowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    """The person behind the bearer token or the console's session cookie; 401 without one."""
    if credentials is None or not credentials.credentials:
        principal = cookie_principal(request, services, uow.session)
        if principal is None:
            raise _unauthenticated()
        return principal
    return check_token(services, uow.session, credentials.credentials, client_source(request))


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_optional_principal(
    request: Request,
    services: ServicesDep,
    uow: UowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal | None:
    """The person behind the bearer token or cookie, or None without one; 401 for a bad one."""
    if credentials is None:
        return cookie_principal(request, services, uow.session)
    return get_principal(request, services, uow, credentials)


OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]


def require_roles(*roles: Role) -> DependsMarker:
    """A dependency giving the principal if their role is one of `roles`, else 403.

    Use it for roles that may never call a route; objects a permitted role may not see
    answer 404 in the route instead, so their existence does not leak.

        principal: Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR)]
    """
    allowed = frozenset(roles)
    names = ", ".join(sorted(allowed))

    def check_role(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role} may not do this (needs one of: {names})",
            )
        return principal

    return cast(DependsMarker, Depends(check_role))


StaffDep = Annotated[Principal, require_roles(Role.ADMIN, Role.OPERATOR)]
AdminDep = Annotated[Principal, require_roles(Role.ADMIN)]
