"""API models of calls: a bridged call from a case, and the operators' callback list."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from care_api.http.models.common import PHONE_PATTERN, Timestamp
from care_api.http.reader_language import reader_language
from care_api.i18n import render
from care_api.store.call_tables import CaseCall
from care_api.usecases.cases.auto_callbacks import DueCallback


class CallBody(BaseModel):
    """Whom to call; the number comes from the case's records, never from here."""

    model_config = ConfigDict(extra="forbid")
    to: Annotated[str, Field(min_length=1, max_length=32, examples=["elder", "contact:3"])]
    # The phone Twilio rings first; none: the caller's shift on the rota, or their last one.
    operator_phone: Annotated[str | None, Field(pattern=PHONE_PATTERN)] = None


class OwnPhone(BaseModel):
    """The phone Twilio rings first for your bridged calls; null forgets it."""

    model_config = ConfigDict(extra="forbid")
    phone: Annotated[str | None, Field(pattern=PHONE_PATTERN, examples=["+8613700000001"])]


class CallPublic(BaseModel):
    """A bridged call and how far it got."""

    id: int
    case_id: str
    party: str
    party_name: str
    operator: str
    state: str
    party_outcome: str | None
    duration_s: int | None
    detail: str
    created_at: Timestamp
    ended_at: Timestamp | None

    @classmethod
    def of(cls, call: CaseCall) -> "CallPublic":
        """The API view of a call row (no phone numbers)."""
        return cls.model_validate(call, from_attributes=True)


class CaseCalls(BaseModel):
    """The case's calls, and whether the service can place one (else dial by hand)."""

    can_call: bool
    calls: list[CallPublic]


class DueCallbackPublic(BaseModel):
    """A callback the machine could not make: an operator must call by `due_at`."""

    case_id: str
    kind: str
    elder_name: str
    phone: str
    whom: str
    due_at: Timestamp | None
    attempts: int
    reason: str

    @classmethod
    def of(cls, due: DueCallback) -> "DueCallbackPublic":
        """The API view of one line of the list."""
        view = cls.model_validate(due, from_attributes=True)
        view.reason = render(reader_language(), due.reason)
        return view
