"""Bearer tokens for people: minting, revoking, and turning a presented token into a principal."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, select

from care_api.domain.access import Principal
from care_api.domain.errors import NotFound
from care_api.domain.model import Role
from care_api.domain.texts import Msg
from care_api.store.tables import ApiToken
from care_api.usecases.people.credentials import hash_secret, new_secret, secret_matches


def mint_token(
    session: Session,
    *,
    role: Role,
    name: str,
    now: datetime,
    subject_id: int | None = None,
    elder_ids: Iterable[int] = (),
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for a person; the token itself is returned once and only its hash kept."""
    secret = new_secret()
    row = ApiToken(
        token_hash=hash_secret(secret),
        role=role,
        name=name,
        subject_id=subject_id,
        elder_ids=sorted(set(elder_ids)) or None,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, secret


def authenticate(
    session: Session, token: str, *, admin_token: str | None, now: datetime
) -> Principal | None:
    """The principal behind `token`, or None when it is unknown, expired or revoked."""
    if admin_token and secret_matches(token, hash_secret(admin_token)):
        return Principal(role=Role.ADMIN, name="admin")
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_secret(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return Principal(
        role=Role(row.role),
        name=row.name,
        token_id=row.id,
        subject_id=row.subject_id,
        elder_ids=frozenset(row.elder_ids or ()),
    )


def revoke_token(session: Session, token_id: int, *, now: datetime) -> ApiToken:
    """Stop the token working from `now`; revoking twice keeps the first time."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(Msg("token {token_id} not found", token_id=token_id))
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
    return row
