"""Revoking a person's bearer token (kept apart from tokens.py, which another engineer owns)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from care_api.domain.errors import NotFound
from care_api.store.tables import ApiToken


def revoke_token(session: Session, token_id: int, *, now: datetime) -> ApiToken:
    """Stop the token working from `now`; revoking twice keeps the first time."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
    return row
