"""API models of staff sign-in, sessions and user accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from care_api.domain.model import Role
from care_api.usecases.people.staff import PASSWORD_MAX, PASSWORD_MIN

Password = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]


class LoginBody(BaseModel):
    """A username and password typed at the console."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]


class SessionPublic(BaseModel):
    """Who is signed in."""

    name: str
    role: Role
    expires_at: datetime | None = None


class UserCreate(BaseModel):
    """A new staff login (admin or operator)."""

    username: Annotated[str, Field(min_length=2, max_length=64, examples=["li.na"])]
    role: Role
    password: Password
    name: Annotated[str, Field(max_length=80)] = ""


class UserPublic(BaseModel):
    """A staff login, without its password hash."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    name: str
    role: Role
    active: bool
    created_at: datetime
    password_set_at: datetime


class PasswordReset(BaseModel):
    """The new password an admin sets; the user's sessions end."""

    password: Password


class UserActive(BaseModel):
    """Enable or disable a login."""

    active: bool
