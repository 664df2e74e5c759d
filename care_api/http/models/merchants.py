"""API models of franchised merchants: profile, hours, record and strikes."""

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field

from care_api.http.models.common import (
    Availability,
    Language,
    Latitude,
    Longitude,
    Name,
    Phone,
    Timestamp,
    Word,
)
from care_api.store.tables import Merchant, MerchantStrike, OrderAttempt

Reason = Annotated[str, Field(min_length=1, max_length=500)]


class MerchantCreate(BaseModel):
    """A new merchant and the categories of service it takes orders for."""

    name: Name
    phone: Phone
    categories: Annotated[list[Word], Field(min_length=1, max_length=20, examples=[["meals"]])]
    lat: Latitude | None = None
    lon: Longitude | None = None
    rating: Annotated[float, Field(ge=0, le=5)] = 3.0
    hours: Availability | None = None  # opening hours, local time; none given: always open
    language: Language | None = None


class MerchantHours(BaseModel):
    """A merchant's weekly opening hours (local time); null: always open."""

    hours: Availability | None


class MerchantPublic(BaseModel):
    """A merchant's profile and standing."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str
    categories: list[str]
    lat: float | None
    lon: float | None
    rating: float
    status: str
    red_until: Timestamp | None
    created_at: Timestamp
    hours: dict[str, list[str]] | None = None  # None: always open
    language: str | None = None

    @classmethod
    def of(cls, row: Merchant) -> Self:
        """The public view of a merchant row."""
        return cls.model_validate(row)


class StrikePublic(BaseModel):
    """A strike (card) against a merchant, and its revocation if an admin took it back."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: str
    at: Timestamp
    card: str
    reason: str
    revoked_at: Timestamp | None
    revoked_by: str | None
    revoke_reason: str | None


class TurnPublic(BaseModel):
    """One of the merchant's turns at an order: contacted in time, missed or declined."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    assigned_at: Timestamp
    contact_due_at: Timestamp
    outcome: str
    ended_at: Timestamp | None
    score: float
    distance_km: float | None


class MerchantDetail(MerchantPublic):
    """A merchant with every strike and its latest turns at orders."""

    strikes_in_force: int
    strikes: list[StrikePublic]
    missed_contacts: int
    record: list[TurnPublic]

    @classmethod
    def build(
        cls, row: Merchant, strikes: list[MerchantStrike], record: list[OrderAttempt]
    ) -> Self:
        """Assemble the detail view from the rows."""
        return cls(
            **dict(MerchantPublic.of(row)),
            strikes_in_force=sum(1 for s in strikes if s.revoked_at is None),
            strikes=[StrikePublic.model_validate(s) for s in strikes],
            missed_contacts=sum(1 for a in record if a.outcome == "missed"),
            record=[TurnPublic.model_validate(a) for a in record],
        )


class RevokeBody(BaseModel):
    """Why the admin takes the strike back."""

    reason: Reason
