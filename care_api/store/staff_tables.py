"""Named staff logins (migration 0027): users, their cookie sessions, and failed attempts."""

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from care_api.store.types import UtcDateTime


def _ts(*, nullable: bool = False, index: bool = False) -> Any:  # noqa: ANN401
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class StaffUser(SQLModel, table=True):
    """An operator or admin who signs in to the console with a username and password."""

    __tablename__ = "staff_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    name: str = Field(default="", max_length=80)
    role: str = Field(max_length=16)  # admin | operator
    password_hash: str = Field(max_length=200)  # argon2id via pwdlib; never the password
    active: bool = True
    created_at: datetime = _ts()
    password_set_at: datetime = _ts()


class StaffSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds the secret, the row only its SHA-256."""

    __tablename__ = "staff_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)


class LoginFailure(SQLModel, table=True):
    """A wrong password for a username; enough of them recently locks the username out."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_username_at", "username", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    at: datetime = _ts()
    source: str = Field(default="", max_length=64)
