"""Single sign-on for staff (OpenID Connect): the console's "sign in with the centre's IdP"."""

from __future__ import annotations

import logging
from typing import Annotated

from authlib.common.errors import AuthlibBaseError
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse

from care_api.http.deps import SESSION_COOKIE, ServicesDep, UowDep
from care_api.http.models.sso import SsoPublic
from care_api.http.sso import OidcClient, SsoRefused
from care_api.services import Services
from care_api.usecases.people.staff import LoginRefused, open_session, sso_user

log = logging.getLogger(__name__)

router = APIRouter(prefix="/session/sso", tags=["staff"])

STATE_COOKIE = "vnh_sso_state"
STATE_PATH = "/api/v1/session/sso"
# Where the browser lands: the console, signed in, or its login page told why not.
SIGNED_IN = "/?sso=ok#/board"
REFUSED = "/?sso=refused"


def _client(request: Request, services: Services) -> OidcClient:
    # One client per app: discovery is read once and the pending sign-ins are kept in it.
    client: OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        client = OidcClient.from_settings(services.settings)
        if client is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="single sign-on is not set up")
        request.app.state.oidc = client
    return client


def _redirect_uri(request: Request, services: Services) -> str:
    base = services.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}{STATE_PATH}/callback"


@router.get("")
def read_sso(services: ServicesDep) -> SsoPublic:
    """Whether VNH_OIDC_ISSUER is set (the login page then shows the button)."""
    return SsoPublic(enabled=OidcClient.from_settings(services.settings) is not None)


# The two redirects are the browser's, not the JSON API's: they stay out of /openapi.json.
@router.get("/login", include_in_schema=False)
def sso_login(request: Request, services: ServicesDep) -> RedirectResponse:
    """Send the browser to the IdP (code flow with PKCE); a cookie binds it to this browser."""
    try:
        url, state = _client(request, services).start(_redirect_uri(request, services))
    except (SsoRefused, AuthlibBaseError, OSError, ValueError, KeyError) as exc:
        log.warning("single sign-on: the IdP cannot be reached or read: %s", exc)
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail="the IdP did not answer") from None
    answer = RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
    # Lax, not Strict: the IdP sends the browser back from its own site to the callback.
    answer.set_cookie(
        STATE_COOKIE,
        state,
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=STATE_PATH,
    )
    return answer


@router.get("/callback", include_in_schema=False)
def sso_callback(
    request: Request,
    services: ServicesDep,
    uow: UowDep,
    code: Annotated[str, Query(min_length=1, max_length=2048)],
    state: Annotated[str, Query(min_length=1, max_length=256)],
) -> RedirectResponse:
    """The IdP's answer: check it, open a session for the staff login it names, go to the board."""
    client = _client(request, services)
    try:
        claims = client.finish(
            _redirect_uri(request, services),
            code=code,
            state=state,
            cookie_state=request.cookies.get(STATE_COOKIE),
        )
        user = sso_user(uow.session, claims, email_domain=services.settings.oidc_email_domain)
    except (SsoRefused, LoginRefused, AuthlibBaseError, OSError, ValueError, KeyError) as exc:
        log.info("single sign-on refused: %s", exc or type(exc).__name__)
        answer = RedirectResponse(REFUSED, status_code=status.HTTP_303_SEE_OTHER)
        answer.delete_cookie(STATE_COOKIE, path=STATE_PATH)
        return answer
    now = services.clock.now()
    signed = open_session(uow.session, user, now=now)
    uow.commit()
    log.info("staff %s signed in through single sign-on", user.username)
    answer = RedirectResponse(SIGNED_IN, status_code=status.HTTP_303_SEE_OTHER)
    answer.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    answer.set_cookie(
        SESSION_COOKIE,
        signed.secret,
        max_age=int((signed.expires_at - now).total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer
