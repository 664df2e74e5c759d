"""API models: what clients send and receive, kept apart from the table classes."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from care_api.domain.access import Principal, may_see_medical_notes
from care_api.domain.alarm_codes import ContactId, parse_contact_id
from care_api.domain.keymap import validate_keymap
from care_api.domain.model import CaseKind, CaseState, Role, ServiceLine
from care_api.http.reader_language import in_reader_language
from care_api.i18n import checked_language
from care_api.store.tables import (
    ApiToken,
    Case,
    CaseEvent,
    Device,
    Elder,
    Notification,
)

# Every time the API shows is aware UTC rendered by isoformat(): "+00:00", not "Z".
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda v: v.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

PHONE_PATTERN = r"^\+?[0-9 -]{3,32}$"
DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# case_event.by and care_case.owner hold "role:name" in 100 characters.
PERSON_NAME_MAX = 80
# case_event.why holds 1000 characters; the callback line also names the other answers.
CALLBACK_COMMENT_MAX = 900
KEYMAP_ENTRIES_MAX = 32

Name = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Field(pattern=PHONE_PATTERN, examples=["+8613800000000"])]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Address = Annotated[str, Field(max_length=500)]
MedicalNotes = Annotated[str, Field(max_length=4000)]
# The language a person reads and hears: zh-CN or en (other BCP 47 tags of those two are
# normalised, e.g. zh-Hans → zh-CN); left out, the centre's language (VNH_LANGUAGE).
Language = Annotated[
    str,
    Field(max_length=16, examples=["zh-CN", "en"]),
    AfterValidator(checked_language),
]
# How a responder gets in: "key safe by the door, code 4711", "neighbour at no. 5 has a key".
AccessNotes = Annotated[str, Field(max_length=1000)]
District = Annotated[str, Field(max_length=64)]  # the centre's area (answer times per district)
Keymap = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=16)]],
    Field(max_length=KEYMAP_ENTRIES_MAX, examples=[{"main:single": "care", "sos:*": "emergency"}]),
]
Note = Annotated[str, Field(max_length=1000)]


def _checked_keymap(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {key: str(kind) for key, kind in validate_keymap(value).items()}


class ElderCreate(BaseModel):
    """A new elder's profile."""

    name: Name
    phone: Phone
    address: Address = ""
    lat: Latitude | None = None
    lon: Longitude | None = None
    medical_notes: MedicalNotes = ""
    keymap_override: Keymap | None = None
    district: District = ""
    language: Language | None = None
    access_notes: AccessNotes = ""
    wanders: bool = False  # leaving the safe zone opens a care case
    taken_off_case: bool = False  # the watch off the wrist too long opens a care case

    _keymap = field_validator("keymap_override")(_checked_keymap)


class ElderUpdate(BaseModel):
    """Changes to a profile; only the fields sent change."""

    # An unknown field would otherwise make a PATCH that succeeds and changes nothing.
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    phone: Phone | None = None
    address: Address | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    medical_notes: MedicalNotes | None = None
    keymap_override: Keymap | None = None
    district: District | None = None
    language: Language | None = None
    access_notes: AccessNotes | None = None
    wanders: bool | None = None
    taken_off_case: bool | None = None

    _keymap = field_validator("keymap_override")(_checked_keymap)

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        # lat, lon and keymap_override may be cleared with null; the rest always have a value.
        required = ("name", "phone", "address", "medical_notes", "district", "access_notes")
        for name in (*required, "wanders", "taken_off_case"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


class ElderPublic(BaseModel):
    """An elder's profile; address and medical notes only for those who may see them."""

    id: int
    name: str
    phone: str
    address: str | None
    lat: float | None
    lon: float | None
    medical_notes: str | None
    keymap_override: dict[str, str] | None
    created_at: Timestamp
    district: str
    language: str | None = None
    # "no_contacts": nobody to page, so an alarm goes straight to the supervisor.
    warnings: list[str] = Field(default_factory=list)
    access_notes: str | None = None  # like the medical notes
    wanders: bool = False
    taken_off_case: bool = False

    @classmethod
    def of(cls, elder: Elder, principal: Principal, warnings: Sequence[str] = ()) -> Self:
        """The profile as `principal` may see it, with what is amiss in its set-up."""
        if elder.id is None:
            raise RuntimeError("elder has no id yet")
        private = may_see_medical_notes(principal, elder.id)
        return cls(
            id=elder.id,
            name=elder.name,
            phone=elder.phone,
            address=elder.address if private else None,
            lat=elder.lat,
            lon=elder.lon,
            medical_notes=elder.medical_notes if private else None,
            keymap_override=elder.keymap_override,
            created_at=elder.created_at,
            district=elder.district,
            language=elder.language,
            warnings=list(warnings),
            access_notes=elder.access_notes if private else None,
            wanders=elder.wanders,
            taken_off_case=elder.taken_off_case,
        )


class CaseElder(BaseModel):
    """The elder of a case, as much as the asker may see now (None: not for them)."""

    elder_id: int
    name: str
    phone: str
    address: str
    medical_notes: str | None
    access_notes: str | None


class ElderListed(BaseModel):
    """An elder as the directory lists them: who, how to reach them, their terminals."""

    id: int
    name: str
    phone: str
    district: str
    devices: list[str]  # terminals in service, by id


class ContactCreate(BaseModel):
    """A caregiver or family member to alert; priority 1 is called first."""

    name: Name
    phone: Phone
    relation: Annotated[str, Field(max_length=64)] = ""
    priority: Annotated[int, Field(ge=1, le=100)] = 1
    # Info only: never paged by a ladder; gets a summary SMS when a case of the elder closes.
    notify_only: bool = False
    drill_opt_in: bool = False  # gets the TEST messages of drills
    language: Language | None = None


class ContactPublic(BaseModel):
    """A contact of an elder."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    elder_id: int
    name: str
    phone: str
    relation: str
    priority: int
    notify_only: bool = False
    drill_opt_in: bool = False
    language: str | None = None


class DeviceProvision(BaseModel):
    """A terminal to register for an elder."""

    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN, examples=["T1001"])]
    elder_id: Annotated[int, Field(ge=1)]
    hub_port: Annotated[str | None, Field(max_length=200)] = None
    model: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    # Unset: the model's interval, else PROTOCOL.md's 300 s.
    heartbeat_s: Annotated[int | None, Field(ge=1, le=86_400)] = None


class DeviceSecret(BaseModel):
    """A terminal's new secret, shown this once and never again."""

    device_id: str
    secret: str


class DeviceProvisioned(DeviceSecret):
    """A registered terminal and its secret, shown this once and never again."""

    elder_id: int


class PositionPublic(BaseModel):
    """Where a terminal last said it was: its time, GPS fix or not, found by gps/wifi/cell."""

    at: Timestamp
    lat: float
    lon: float
    fix: bool
    source: str

    @classmethod
    def of(cls, device: Device) -> Self | None:
        """The device row's last position, None when it never reported one."""
        if device.position_at is None or device.position_lat is None:
            return None
        if device.position_lon is None:
            return None
        return cls(
            at=device.position_at,
            lat=device.position_lat,
            lon=device.position_lon,
            fix=bool(device.position_fix),
            source=device.position_source or "none",
        )


class DevicePublic(BaseModel):
    """A terminal's binding and last known state; never its secret."""

    model_config = ConfigDict(from_attributes=True)

    device_id: str
    elder_id: int | None
    status: str
    online: bool | None
    last_seen_at: Timestamp | None
    battery: int | None
    rssi: int | None
    fw: str | None
    model: str | None = None
    heartbeat_s: int = 300
    last_boot: int | None = None
    outage_since: Timestamp | None = None  # last heard, while an outage is open
    battery_low: bool = False
    power_lost: bool = False
    position: PositionPublic | None = None  # watches: the last position reported
    sim_phone: str | None = None  # the SIM's number: its calls to the centre are the elder's

    @classmethod
    def of(cls, device: Device) -> Self:
        """The public view of a device row."""
        view = cls.model_validate(device)
        view.position = PositionPublic.of(device)
        return view


class ContactIdPublic(BaseModel):
    """The Contact ID (SIA DC-05) equivalent of an event: `code` "1101" = new personal emergency."""

    code: Annotated[str, Field(examples=["1101", "3301"])]  # QEEE, as centres print it
    qualifier: int  # 1 new event / opening, 3 restore / closing
    event: int  # the three-digit event code: 100 medical, 101 personal emergency, …
    description: str

    @classmethod
    def of(cls, value: ContactId | None) -> Self | None:
        """The public view of a domain code, None for none."""
        if value is None:
            return None
        return cls(
            code=value.code,
            qualifier=value.qualifier,
            event=value.event,
            description=value.description,
        )


def contact_id_of_row(code: str | None) -> ContactIdPublic | None:
    """A table's four digits ("1101") as the API shows them."""
    return ContactIdPublic.of(parse_contact_id(code)) if code is not None else None


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


class NotificationPublic(BaseModel):
    """A message sent or queued, whatever the channel."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: str | None
    channel: str
    to: str
    recipient: str
    body: str
    status: str
    attempts: int
    provider_id: str | None
    detail: str | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, row: Notification, *, to: str | None = None) -> Self:
        """The public view of a notification row; `to` replaces the number when given."""
        view = cls.model_validate(row)
        # A console row is rendered for its reader; a message to a person is as it was sent.
        view.body = in_reader_language(view.body, row.body_msg)
        return view if to is None else view.model_copy(update={"to": to})


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
