"""API models of elders' profiles and the contacts alerted for them."""

from collections.abc import Sequence
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from care_api.domain.access import Principal, may_see_medical_notes
from care_api.domain.keymap import validate_keymap
from care_api.http.models.common import (
    District,
    Language,
    Latitude,
    Longitude,
    Name,
    Phone,
    Timestamp,
)
from care_api.store.tables import Elder

KEYMAP_ENTRIES_MAX = 32

Address = Annotated[str, Field(max_length=500)]

MedicalNotes = Annotated[str, Field(max_length=4000)]

# How a responder gets in: "key safe by the door, code 4711", "neighbour at no. 5 has a key".
AccessNotes = Annotated[str, Field(max_length=1000)]

Keymap = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=16)]],
    Field(max_length=KEYMAP_ENTRIES_MAX, examples=[{"main:single": "care", "sos:*": "emergency"}]),
]


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
