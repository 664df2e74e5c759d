"""API models of cases: lists, the detail with history and messages, the lifecycle bodies."""

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    field_validator,
    model_validator,
)

from care_api.domain.model import CaseKind, CaseState, ServiceLine
from care_api.http.models.common import ContactIdPublic, Timestamp, contact_id_of_row
from care_api.http.models.devices import PositionPublic
from care_api.http.models.notifications import NotificationPublic
from care_api.http.reader_language import in_reader_language
from care_api.store.tables import Case, CaseEvent, Device, Notification

# case_event.why holds 1000 characters; the callback line also names the other answers.
CALLBACK_COMMENT_MAX = 900

Note = Annotated[str, Field(max_length=1000)]


class CasePublic(BaseModel):
    """A case as lists show it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: CaseKind
    state: CaseState
    elder_id: int
    device_id: str | None
    summary: str
    owner: str | None
    level: int
    opened_at: Timestamp
    acknowledged_at: Timestamp | None
    resolved_at: Timestamp | None
    closed_at: Timestamp | None
    contact_id: ContactIdPublic | None = None  # None: a request with no alarm equivalent
    drill: bool = False  # opened by a terminal in test mode; left out of the figures
    # Life care, medical nursing, emergency aid, legal help, care-home advice; None for a
    # terminal problem or a consultation not classified yet.
    line: ServiceLine | None = None
    warnings: list[str] = Field(default_factory=list)  # the elder's ("no_contacts")
    owner_role: str | None = None  # the owner as people read it (lists fill these in)
    owner_name: str | None = None

    @field_validator("contact_id", mode="before")
    @classmethod
    def _spell_out(cls, value: object) -> object:
        return contact_id_of_row(value) if isinstance(value, str) else value

    @model_validator(mode="wrap")
    @classmethod
    def _summary_for_reader(cls, data: object, handler: ModelWrapValidatorHandler[Self]) -> Self:
        # The title is kept as a catalogue key: said in the reader's language.
        public = handler(data)
        public.summary = in_reader_language(public.summary, getattr(data, "summary_msg", None))
        return public

    @classmethod
    def of(cls, case: Case, warnings: Sequence[str] = ()) -> Self:
        """The public view of a case row, with the warnings of its elder's set-up."""
        public = cls.model_validate(case)
        public.warnings = list(warnings)
        return public


class CaseEventPublic(BaseModel):
    """One line of a case's history."""

    model_config = ConfigDict(from_attributes=True)

    at: Timestamp
    by: str
    action: str
    from_state: str | None
    to_state: str | None
    why: str

    @model_validator(mode="wrap")
    @classmethod
    def _why_for_reader(cls, data: object, handler: ModelWrapValidatorHandler[Self]) -> Self:
        line = handler(data)
        line.why = in_reader_language(line.why, getattr(data, "why_msg", None))
        return line


class CaseDetail(CasePublic):
    """One case with its full history and every message sent about it."""

    events: list[CaseEventPublic]
    notifications: list[NotificationPublic]
    # The last position of the case's terminal (a watch), for whoever may read the case.
    position: PositionPublic | None = None

    @classmethod
    def build(
        cls,
        case: Case,
        events: list[CaseEvent],
        notes: list[Notification],
        warnings: Sequence[str] = (),
        *,
        shown_to: Callable[[Notification], str] | None = None,
        device: Device | None = None,
    ) -> Self:
        """Assemble the detail view from the rows; `shown_to` words each message's `to`."""
        return cls(
            **dict(CasePublic.of(case, warnings)),
            events=[CaseEventPublic.model_validate(e) for e in events],
            notifications=[
                NotificationPublic.of(n, to=shown_to(n) if shown_to else None) for n in notes
            ],
            position=PositionPublic.of(device) if device is not None else None,
        )


class CaseElder(BaseModel):
    """The elder of a case, as much as the asker may see now (None: not for them)."""

    elder_id: int
    name: str
    phone: str
    address: str
    medical_notes: str | None
    access_notes: str | None


class AckBody(BaseModel):
    """An optional note with an acknowledgement or acceptance."""

    note: Note = ""


class ResolveBody(BaseModel):
    """How the need was met, and its outcome code (GET /outcome-codes)."""

    note: Note = ""
    outcome: Annotated[str | None, Field(max_length=32)] = None


class CallbackBody(BaseModel):
    """The callback (回访) to the elder after the case was resolved."""

    reached: bool = True
    time_ok: bool | None = None
    quality: Annotated[int | None, Field(ge=1, le=5)] = None
    price_ok: bool | None = None
    satisfaction: Annotated[int | None, Field(ge=1, le=5)] = None
    comment: Annotated[str, Field(max_length=CALLBACK_COMMENT_MAX)] = ""

    def as_result(self) -> dict[str, Any]:
        """The answers given, for the case history."""
        return self.model_dump(exclude_none=True)
