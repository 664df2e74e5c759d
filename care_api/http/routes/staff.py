"""Named staff logins: the console's sign-in (a session cookie) and the admin's user list."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request, Response, status

from care_api.domain.model import Role
from care_api.http.deps import (
    SESSION_COOKIE,
    AdminDep,
    PrincipalDep,
    ServicesDep,
    UowDep,
    client_source,
    too_many_failures,
)
from care_api.http.models.staff import (
    LoginBody,
    PasswordReset,
    SessionPublic,
    UserActive,
    UserCreate,
    UserPublic,
)
from care_api.throttle import Gate
from care_api.usecases.people.staff import (
    LockedOut,
    LoginRefused,
    add_user,
    list_users,
    reset_password,
    set_active,
    sign_in,
    sign_out,
)

router = APIRouter(tags=["staff"])


@router.post("/session")
def post_session(
    body: LoginBody, request: Request, response: Response, services: ServicesDep, uow: UowDep
) -> SessionPublic:
    """Sign in with a username and password; the answer sets the HttpOnly session cookie."""
    now = services.clock.now()
    source = client_source(request)
    throttle = services.auth[Gate.STAFF_LOGIN]
    wait_s = throttle.retry_after(source, now)
    if wait_s is not None:
        raise too_many_failures(wait_s)
    try:
        signed = sign_in(uow.session, body.username, body.password, now=now, source=source)
    except LockedOut as exc:
        wait = max(1, math.ceil(exc.retry_after.total_seconds()))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed sign-ins for this username; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        ) from None
    except LoginRefused:
        uow.commit()  # the failure counts towards the lockout
        throttle.failed(source, now)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="wrong username or password"
        ) from None
    uow.commit()
    response.set_cookie(
        SESSION_COOKIE,
        signed.secret,
        max_age=int((signed.expires_at - now).total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return SessionPublic(
        name=signed.user.username, role=Role(signed.user.role), expires_at=signed.expires_at
    )


@router.get("/session")
def get_session(principal: PrincipalDep) -> SessionPublic:
    """Who the cookie or bearer token belongs to."""
    return SessionPublic(name=principal.name, role=principal.role)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
def delete_session(request: Request, services: ServicesDep, uow: UowDep) -> Response:
    """Sign out: the session ends on the server and the cookie is cleared."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        sign_out(uow.session, secret, services.clock.now())
        uow.commit()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/users")
def get_users(uow: UowDep, _admin: AdminDep) -> list[UserPublic]:
    """Every staff login."""
    return [UserPublic.model_validate(u) for u in list_users(uow.session)]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def post_user(body: UserCreate, services: ServicesDep, uow: UowDep, _admin: AdminDep) -> UserPublic:
    """Create a staff login for an admin or an operator."""
    user = add_user(
        uow.session,
        username=body.username,
        role=body.role,
        password=body.password,
        name=body.name,
        now=services.clock.now(),
    )
    uow.commit()
    return UserPublic.model_validate(user)


@router.post("/users/{user_id}/password")
def post_password(
    user_id: int, body: PasswordReset, services: ServicesDep, uow: UowDep, _admin: AdminDep
) -> UserPublic:
    """Reset a password: the user's sessions end and a lockout is lifted."""
    user = reset_password(uow.session, user_id, body.password, services.clock.now())
    uow.commit()
    return UserPublic.model_validate(user)


@router.patch("/users/{user_id}")
def patch_user(
    user_id: int, body: UserActive, services: ServicesDep, uow: UowDep, _admin: AdminDep
) -> UserPublic:
    """Enable or disable a login; disabling signs it out everywhere."""
    user = set_active(uow.session, user_id, body.active, services.clock.now())
    uow.commit()
    return UserPublic.model_validate(user)
