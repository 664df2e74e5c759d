"""API models of bearer tokens minted for people."""

from typing import Annotated, Self

from pydantic import BaseModel, Field

from care_api.domain.model import Role
from care_api.http.models.common import Timestamp
from care_api.store.tables import ApiToken

# case_event.by and care_case.owner hold "role:name" in 100 characters.
PERSON_NAME_MAX = 80


class TokenCreate(BaseModel):
    """A token to mint for a person."""

    role: Role
    name: Annotated[str, Field(min_length=1, max_length=PERSON_NAME_MAX)]
    subject_id: Annotated[int | None, Field(ge=1)] = None
    elder_ids: Annotated[list[Annotated[int, Field(ge=1)]] | None, Field(max_length=1000)] = None
    expires_in_days: Annotated[int | None, Field(ge=1, le=3650)] = None


class TokenCreated(BaseModel):
    """A minted token; the token itself is shown this once and never again."""

    id: int
    role: Role
    name: str
    token: str
    expires_at: Timestamp | None

    @classmethod
    def of(cls, row: ApiToken, token: str) -> Self:
        """The answer to a mint, with the token in clear."""
        if row.id is None:
            raise RuntimeError("token has no id yet")
        return cls(
            id=row.id, role=Role(row.role), name=row.name, token=token, expires_at=row.expires_at
        )
