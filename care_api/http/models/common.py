"""Field types and parts the API models of several resources share: times, names, codes."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, Field, PlainSerializer, WithJsonSchema

from care_api.domain.alarm_codes import ContactId, parse_contact_id
from care_api.domain.volunteering import MAX_SPANS_PER_DAY
from care_api.i18n import checked_language

# Every time the API shows is aware UTC rendered by isoformat(): "+00:00", not "Z".
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda v: v.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

PHONE_PATTERN = r"^\+?[0-9 -]{3,32}$"

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

Name = Annotated[str, Field(min_length=1, max_length=200)]

Phone = Annotated[str, Field(pattern=PHONE_PATTERN, examples=["+8613800000000"])]

Latitude = Annotated[float, Field(ge=-90, le=90)]

Longitude = Annotated[float, Field(ge=-180, le=180)]

# The language a person reads and hears: zh-CN or en (other BCP 47 tags of those two are
# normalised, e.g. zh-Hans → zh-CN); left out, the centre's language (VNH_LANGUAGE).
Language = Annotated[
    str,
    Field(max_length=16, examples=["zh-CN", "en"]),
    AfterValidator(checked_language),
]

District = Annotated[str, Field(max_length=64)]  # the centre's area (answer times per district)

Word = Annotated[str, Field(min_length=1, max_length=64)]

Span = Annotated[str, Field(pattern=r"^\d\d:\d\d-\d\d:\d\d$", examples=["08:00-12:00"])]

Availability = Annotated[
    dict[str, Annotated[list[Span], Field(max_length=MAX_SPANS_PER_DAY)]],
    Field(max_length=7, examples=[{"mon": ["08:00-12:00", "14:00-18:00"], "sat": ["09:00-11:00"]}]),
]


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
