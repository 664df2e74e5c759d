"""API model of the single sign-on offer shown on the sign-in page."""

from __future__ import annotations

from pydantic import BaseModel


class SsoPublic(BaseModel):
    """Whether the console offers single sign-on."""

    enabled: bool
