"""API models of the rota: shifts and who is on duty."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict

from care_api.domain.errors import InvalidInput
from care_api.domain.rota import DutyRole, Shift
from care_api.domain.texts import Msg
from care_api.http.models.common import Name, Phone, Timestamp
from care_api.store.tables import Shift as ShiftRow


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(Msg("give the time with its UTC offset, e.g. 2026-11-24T08:00:00+08:00"))
    return value


AwareTime = Annotated[datetime, AfterValidator(_aware)]


class ShiftIn(BaseModel):
    """A turn of duty: who, in which role, on which phone, from `start` until `end`."""

    person: Name
    role: DutyRole
    phone: Phone | None = None  # a supervisor without one cannot be paged
    start: AwareTime
    end: AwareTime


class ShiftPublic(BaseModel):
    """A shift on the rota."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    person: str
    role: str
    phone: str
    start: Timestamp
    end: Timestamp
    created_by: str

    @classmethod
    def of(cls, row: ShiftRow) -> Self:
        """The public view of a shift row."""
        if row.id is None:
            raise RuntimeError("shift has no id yet")
        return cls(
            id=row.id,
            person=row.person,
            role=row.role,
            phone=row.phone,
            start=row.start_at,
            end=row.end_at,
            created_by=row.created_by,
        )


class DutyPerson(BaseModel):
    """Someone on duty now and until when."""

    shift_id: int
    person: str
    phone: str
    until: Timestamp

    @classmethod
    def of(cls, shift: Shift) -> Self:
        """The public view of a running shift."""
        return cls(shift_id=shift.shift_id, person=shift.person, phone=shift.phone, until=shift.end)


class OnDutyPublic(BaseModel):
    """Who is on duty at `at`, and whom the ladder's supervisor step would page."""

    at: Timestamp
    operators: list[DutyPerson]
    supervisors: list[DutyPerson]
    supervisor: str | None  # the name from the rota; None when the setting's phone is used
    supervisor_phone: str | None
    supervisor_source: str | None  # "rota" | "setting" | None: nobody to page
