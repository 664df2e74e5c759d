"""Named staff logins: argon2 passwords, cookie sessions, and a lockout after failed attempts."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func
from sqlmodel import Session, col, select

from care_api.domain.access import STAFF, Principal
from care_api.domain.errors import Conflict, InvalidInput, NotFound
from care_api.domain.model import Role
from care_api.domain.texts import Msg
from care_api.store.staff_tables import LoginFailure, StaffSession, StaffUser
from care_api.usecases.people.credentials import hash_secret, new_secret

# Five wrong passwords for one username within 15 minutes lock it for the rest of that window.
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
# A night shift and its handover; then the operator signs in again.
SESSION_LIFETIME = timedelta(hours=12)
PASSWORD_MIN = 10
PASSWORD_MAX = 128
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")

# VNH_PASSWORD_HASH_COST: "standard" is argon2-cffi's default (64 MiB, 3 passes, 4 lanes:
# about 0.2 s of CPU a hash); "minimal" is for test suites, whose passwords guard nothing.
_HASHERS = {
    "standard": PasswordHash((Argon2Hasher(),)),
    "minimal": PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),)),
}
_hasher = _HASHERS["standard"]


def use_password_hash_cost(cost: str) -> None:
    """Hash passwords from now on at `cost` (VNH_PASSWORD_HASH_COST); set as services are built."""
    global _hasher
    _hasher = _HASHERS[cost]


class LoginRefused(Exception):
    """Unknown username, wrong password or a disabled user: one answer for all three."""


class LockedOut(Exception):
    """Too many recent failures for this username; `retry_after` tells when to try again."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(f"locked for {retry_after}")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the user, and the secret for the cookie (shown only now)."""

    user: StaffUser
    secret: str
    expires_at: datetime


def _username(raw: str) -> str:
    name = raw.strip().lower()
    if not USERNAME_RE.fullmatch(name):
        raise InvalidInput(
            "username must be 2-64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def _password(raw: str) -> str:
    if not PASSWORD_MIN <= len(raw) <= PASSWORD_MAX:
        raise InvalidInput(
            Msg(
                "password must be {least} to {most} characters",
                least=PASSWORD_MIN,
                most=PASSWORD_MAX,
            )
        )
    return raw


def _role(raw: Role | str) -> Role:
    try:
        role = Role(raw)
    except ValueError:
        role = None
    if role is None or role not in STAFF:
        raise InvalidInput(Msg("a staff login is for an admin or an operator"))
    return role


def add_user(
    session: Session,
    *,
    username: str,
    role: Role | str,
    password: str,
    now: datetime,
    name: str = "",
) -> StaffUser:
    """Create a staff login; the password is kept only as an argon2 hash."""
    login = _username(username)
    if session.exec(select(StaffUser).where(StaffUser.username == login)).first() is not None:
        raise Conflict(Msg("username {login} is taken", login=login))
    user = StaffUser(
        username=login,
        name=name.strip()[:80],
        role=_role(role),
        password_hash=_hasher.hash(_password(password)),
        created_at=now,
        password_set_at=now,
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[StaffUser]:
    """Every staff login, by username."""
    return list(session.exec(select(StaffUser).order_by(col(StaffUser.username))).all())


def get_user(session: Session, user_id: int) -> StaffUser:
    """The staff login, or NotFound."""
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(Msg("user {user_id} not found", user_id=user_id))
    return user


def find_user(session: Session, username: str) -> StaffUser:
    """The staff login by username, or NotFound."""
    user = session.exec(
        select(StaffUser).where(StaffUser.username == username.strip().lower())
    ).first()
    if user is None:
        raise NotFound(Msg("user {username} not found", username=username))
    return user


def _end_sessions(session: Session, user_id: int, now: datetime) -> None:
    for row in session.exec(
        select(StaffSession).where(
            StaffSession.user_id == user_id, col(StaffSession.ended_at).is_(None)
        )
    ).all():
        row.ended_at = now
        session.add(row)


def reset_password(session: Session, user_id: int, password: str, now: datetime) -> StaffUser:
    """An admin sets a new password: the user's sessions end and their lockout is lifted."""
    user = get_user(session, user_id)
    user.password_hash = _hasher.hash(_password(password))
    user.password_set_at = now
    session.add(user)
    _end_sessions(session, user_id, now)
    failures = session.exec(select(LoginFailure).where(LoginFailure.username == user.username))
    for failure in failures.all():
        session.delete(failure)
    return user


def set_active(session: Session, user_id: int, active: bool, now: datetime) -> StaffUser:
    """Enable or disable a login; disabling ends its sessions at once."""
    user = get_user(session, user_id)
    user.active = active
    session.add(user)
    if not active:
        _end_sessions(session, user_id, now)
    return user


def locked_for(session: Session, username: str, now: datetime) -> timedelta | None:
    """How long `username` is still locked out, or None when it may try."""
    since = now - LOCKOUT_WINDOW
    recent = session.exec(
        select(LoginFailure.at)
        .where(LoginFailure.username == username, col(LoginFailure.at) > since)
        .order_by(col(LoginFailure.at).desc())
        .limit(LOCKOUT_FAILURES)
    ).all()
    if len(recent) < LOCKOUT_FAILURES:
        return None
    # Locked until the oldest of the last five failures leaves the window.
    return recent[-1] + LOCKOUT_WINDOW - now


def sign_in(
    session: Session, username: str, password: str, *, now: datetime, source: str = ""
) -> SignedIn:
    """Check the password and open a session.

    Raises:
        LockedOut: the username failed too often lately; the password is not even checked.
        LoginRefused: unknown username, wrong password, or a disabled login (recorded as a
            failure, the caller commits it).
    """
    login = username.strip().lower()[:64]
    wait = locked_for(session, login, now)
    if wait is not None:
        raise LockedOut(wait)
    user = session.exec(select(StaffUser).where(StaffUser.username == login)).first()
    # An unknown username still costs a hash, so timing does not tell which names exist.
    valid, new_hash = _hasher.verify_and_update(
        password[:PASSWORD_MAX], user.password_hash if user else _dummy_hash(_hasher)
    )
    if user is None or not valid or not user.active:
        session.add(LoginFailure(username=login, at=now, source=source[:64]))
        raise LoginRefused
    if new_hash is not None:  # argon2 parameters changed since: keep the stronger hash
        user.password_hash = new_hash
        session.add(user)
    return open_session(session, user, now=now)


def open_session(session: Session, user: StaffUser, *, now: datetime) -> SignedIn:
    """A new session for `user`, whose identity the caller checked (password or single sign-on)."""
    secret = new_secret()
    expires = now + SESSION_LIFETIME
    session.add(
        StaffSession(
            token_hash=hash_secret(secret), user_id=user.id or 0, created_at=now, expires_at=expires
        )
    )
    session.flush()
    return SignedIn(user=user, secret=secret, expires_at=expires)


@functools.cache
def _dummy_hash(hasher: PasswordHash) -> str:
    # Made on first use, not at import: every process importing this module paid 0.2 s.
    return hasher.hash("not-a-password-anyone-has")


def sso_user(
    session: Session, claims: Mapping[str, object], *, email_domain: str | None = None
) -> StaffUser:
    """The active staff login an identity provider's verified claims name, or LoginRefused.

    The IdP's `preferred_username` is the login's username; without one, a verified e-mail
    at the centre's own domain (`email_domain`) names it by the part before the "@". Nobody
    is created: the admin adds the login first, so the IdP alone never makes an operator.
    """
    wanted = claims.get("preferred_username")
    email = claims.get("email")
    if not isinstance(wanted, str) and email_domain and isinstance(email, str):
        local, _, domain = email.strip().lower().rpartition("@")
        if claims.get("email_verified") is True and domain == email_domain.strip().lower():
            wanted = local
    login = wanted.strip().lower() if isinstance(wanted, str) else ""
    if not USERNAME_RE.fullmatch(login):
        raise LoginRefused
    user = session.exec(select(StaffUser).where(StaffUser.username == login)).first()
    if user is None or not user.active:
        raise LoginRefused
    return user


def session_principal(session: Session, secret: str, now: datetime) -> Principal | None:
    """The staff member behind a session cookie, or None when unknown, ended or expired."""
    row = session.exec(
        select(StaffSession, StaffUser)
        .join(StaffUser, col(StaffUser.id) == col(StaffSession.user_id))
        .where(StaffSession.token_hash == hash_secret(secret))
    ).first()
    if row is None:
        return None
    staff_session, user = row
    if staff_session.ended_at is not None or staff_session.expires_at <= now or not user.active:
        return None
    return Principal(role=Role(user.role), name=user.username)


def sign_out(session: Session, secret: str, now: datetime) -> None:
    """End the session of this cookie; an unknown or ended one is left as it is."""
    row = session.exec(
        select(StaffSession).where(StaffSession.token_hash == hash_secret(secret))
    ).first()
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)


def count_users(session: Session) -> int:
    """How many staff logins exist (the first one is made with `vnh user add`)."""
    return int(session.exec(select(func.count()).select_from(StaffUser)).one())
