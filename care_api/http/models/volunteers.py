"""API models of volunteers, their hours, and the care tasks offered to them."""

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field

from care_api.domain.access import volunteer_sees_elder, volunteer_sees_medical_notes
from care_api.domain.model import CaseKind, CaseState
from care_api.domain.volunteering import validate_availability
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
from care_api.http.reader_language import in_reader_language
from care_api.store.tables import Case, Elder, Volunteer, VolunteerTask
from care_api.usecases.dispatch.offers import Need, TaskRow, TaskStatus


def _short_code(case_id: str) -> str:
    return case_id.rsplit("-", 1)[-1]


class VolunteerCreate(BaseModel):
    """A new volunteer; without availability they are available at any hour."""

    name: Name
    phone: Phone
    lat: Latitude
    lon: Longitude
    skills: Annotated[list[Word], Field(max_length=20)] = []
    availability: Availability | None = None
    active: bool = True
    drill_opt_in: bool = False  # gets the TEST messages of drills
    language: Language | None = None

    def as_data(self) -> dict[str, object]:
        """The fields for the use case, the availability checked by the domain's rules."""
        data = self.model_dump()
        if self.availability is not None:
            data["availability"] = validate_availability(self.availability)
        return data


class VolunteerPublic(BaseModel):
    """A volunteer's profile."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str
    lat: float
    lon: float
    skills: list[str]
    availability: dict[str, list[str]]
    active: bool
    created_at: Timestamp
    drill_opt_in: bool = False
    language: str | None = None

    @classmethod
    def of(cls, row: Volunteer) -> Self:
        """The public view of a volunteer row."""
        return cls.model_validate(row)


class TaskElder(BaseModel):
    """What an accepted task needs of the elder; medical notes only if the task needs them."""

    name: str
    address: str
    phone: str
    medical_notes: str | None
    access_notes: str  # how to get in: the key safe and its code, a neighbour's key


class TaskPublic(BaseModel):
    """One offer of a care case to a volunteer."""

    id: int
    case_id: str
    code: str  # what to type in an SMS reply: "1 0007"
    volunteer_id: int
    status: str
    ring: int
    distance_km: float
    need: str
    needs_medical: bool
    offered_at: Timestamp
    answered_at: Timestamp | None
    elder: TaskElder | None  # shown to the volunteer only while the task is theirs and open

    @classmethod
    def of(cls, row: TaskRow, *, staff: bool = False) -> Self:
        """The task as its volunteer (or staff) may see it.

        The volunteer sees the elder from accepting the task until the task is done or the
        case ends; before and after, only that the case exists.
        """
        task: VolunteerTask = row.task
        if task.id is None:
            raise RuntimeError("task has no id yet")
        case_state = CaseState(row.case.state)
        theirs = task.status == TaskStatus.ACCEPTED
        shown = staff or volunteer_sees_elder(theirs=theirs, case_state=case_state)
        medical = volunteer_sees_medical_notes(
            kind=CaseKind(row.case.kind), task_needs_medical=task.needs_medical
        )
        return cls(
            id=task.id,
            case_id=task.case_id,
            code=_short_code(task.case_id),
            volunteer_id=task.volunteer_id,
            status=task.status,
            ring=task.ring,
            distance_km=task.distance_km,
            need=_need_for_reader(task.need, row.case),
            needs_medical=task.needs_medical,
            offered_at=task.offered_at,
            answered_at=task.answered_at,
            elder=_task_elder(row.elder, medical) if shown else None,
        )


def _need_for_reader(need: str, case: Case) -> str:
    # No need typed by staff: the task carries the case's title, said in the reader's language.
    if need == case.summary:
        return in_reader_language(case.summary, case.summary_msg)
    return need


def _task_elder(elder: Elder, needs_medical: bool) -> TaskElder:
    notes = elder.medical_notes if needs_medical else None
    return TaskElder(
        name=elder.name,
        address=elder.address,
        phone=elder.phone,
        medical_notes=notes,
        access_notes=elder.access_notes,
    )


class VolunteerHours(BaseModel):
    """The weekly hours a volunteer takes offers in (local time); a day left out: none."""

    availability: Availability


class OfferRequest(BaseModel):
    """Staff ask for a care case to be offered to volunteers, optionally saying what it needs."""

    need: Annotated[str, Field(max_length=500)] = ""
    skill: Word | None = None
    needs_medical: bool = False

    def as_need(self) -> Need | None:
        """The need to record, or None to keep what the case already asks for."""
        if not (self.need.strip() or self.skill or self.needs_medical):
            return None
        return Need(self.need.strip(), self.skill, self.needs_medical)
