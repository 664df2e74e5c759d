"""Tables of the channel model: a person's addresses besides their phone, and WeChat binding."""

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from care_api.store.types import UtcDateTime


def _ts(*, nullable: bool = False) -> Any:  # noqa: ANN401
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable))


class PersonAddress(SQLModel, table=True):
    """Where a person ("contact:3", "volunteer:5") is reached besides their phone (migration 0023).

    `kind` is an AddressKind ("wechat_openid"); one address per kind and person. The same
    openid may belong to several actors (a daughter who is the contact of two parents).
    """

    __tablename__ = "person_address"
    __table_args__ = (
        UniqueConstraint("actor", "kind", name="uq_person_address_actor_kind"),
        Index("ix_person_address_kind_address", "kind", "address"),
    )
    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=100)
    kind: str = Field(max_length=20)
    address: str = Field(max_length=128)
    bound_at: datetime = _ts()


class PersonPreference(SQLModel, table=True):
    """The channel a person wants to be reached on first (migration 0023)."""

    __tablename__ = "person_preference"
    actor: str = Field(primary_key=True, max_length=100)
    channel: str = Field(max_length=20)
    updated_at: datetime = _ts()


class WechatBindCode(SQLModel, table=True):
    """A one-time code a person sends to the official account to bind their WeChat (0023).

    Only the code's SHA-256 is kept; it binds `actor` once, before `expires_at`.
    """

    __tablename__ = "wechat_bind_code"
    code_hash: str = Field(primary_key=True, max_length=64)
    actor: str = Field(max_length=100, index=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)
    used_by: str | None = Field(default=None, max_length=128)
