"""API models of the desk: notes, outcome codes, procedures, handover, countdown, map."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Protocol, Self, TypeVar

from pydantic import BaseModel, Field
from sqlmodel import Session

from care_api.domain.model import CaseKind, ServiceLine
from care_api.http.models.cases import CaseDetail, CaseEventPublic
from care_api.http.models.common import Language, Name, Phone, Timestamp
from care_api.i18n import LANGUAGES
from care_api.store.desk_tables import CaseOutcome, HandoverNote
from care_api.store.tables import CaseEvent
from care_api.usecases.cases.countdown import NextEscalation
from care_api.usecases.cases.desk import NOTE_MAX, Outcome, Script, ScriptStep
from care_api.usecases.people.names import Named, name_actors
from care_api.usecases.people.nearby import Responder

Label = Annotated[str, Field(min_length=1, max_length=200)]
Labels = Annotated[dict[str, Label], Field(min_length=1, max_length=len(LANGUAGES))]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class NoteBody(BaseModel):
    """A note on a case: what happened on a call, what the elder said."""

    kind: Literal["note", "call_attempt"] = "note"
    text: Annotated[str, Field(min_length=1, max_length=NOTE_MAX)]


class HandoverBody(BaseModel):
    """A note from this shift to the next."""

    text: Annotated[str, Field(min_length=1, max_length=2000)]


class PersonPublic(BaseModel):
    """Who did something, as people read it: role and name (and a contact's relation)."""

    role: str
    name: str
    detail: str = ""

    @classmethod
    def of(cls, named: Named) -> Self:
        """From the usecase's naming."""
        return cls(role=named.role, name=named.name, detail=named.detail)


class HandoverPublic(BaseModel):
    """One handover note on the board."""

    id: int
    at: Timestamp
    by: str
    who: PersonPublic
    text: str

    @classmethod
    def of(cls, note: HandoverNote, who: Named) -> Self:
        """The note with its writer named."""
        return cls(
            id=note.id or 0, at=note.at, by=note.by, who=PersonPublic.of(who), text=note.text
        )


class OutcomeIn(BaseModel):
    """One outcome code as the admin gives it."""

    code: Code
    labels: Labels


class OutcomePublic(OutcomeIn):
    """One outcome code an operator may pick on resolve."""

    @classmethod
    def of(cls, outcome: Outcome) -> Self:
        """From the usecase's outcome."""
        return cls(code=outcome.code, labels=outcome.labels)


class ScriptStepIn(BaseModel):
    """One step of a procedure as the admin gives it."""

    id: Code
    labels: Labels


class ScriptStepPublic(ScriptStepIn):
    """One step of a procedure, and on a case whether it was ticked."""

    done: bool = False

    @classmethod
    def of(cls, step: ScriptStep, done: bool = False) -> Self:
        """From the usecase's step."""
        return cls(id=step.id, labels=step.labels, done=done)


class ScriptBody(BaseModel):
    """A procedure for a case kind, on one service line or (line omitted) every line."""

    line: ServiceLine | None = None
    steps: Annotated[list[ScriptStepIn], Field(min_length=1, max_length=20)]


class ScriptPublic(BaseModel):
    """The procedure of a case kind on a line ("" for every line); default until an admin edits."""

    kind: CaseKind
    line: str
    default: bool
    steps: list[ScriptStepPublic]

    @classmethod
    def of(cls, script: Script, done: set[str] | None = None) -> Self:
        """From the usecase's script, ticks marked."""
        ticked = done or set()
        return cls(
            kind=script.kind,
            line=script.line,
            default=script.default,
            steps=[ScriptStepPublic.of(s, s.id in ticked) for s in script.steps],
        )


class ReachPublic(BaseModel):
    """One audience of the next rung and the people in it where known."""

    audience: str
    channels: list[str]
    names: list[str]
    limit: int | None = None


class NextEscalationPublic(BaseModel):
    """The ladder's next step on a case nobody took: when, whom, and its console flag."""

    step: int
    due_at: Timestamp
    repeat: int
    flag: str | None
    reaches: list[ReachPublic]

    @classmethod
    def of(cls, nxt: NextEscalation) -> Self:
        """From the usecase's countdown."""
        return cls(
            step=nxt.step,
            due_at=nxt.due_at,
            repeat=nxt.repeat,
            flag=nxt.flag,
            reaches=[
                ReachPublic(audience=r.audience, channels=r.channels, names=r.names, limit=r.limit)
                for r in nxt.reaches
            ],
        )


class _Owned(Protocol):
    owner: str | None
    owner_role: str | None
    owner_name: str | None


T = TypeVar("T", bound=_Owned)


def name_owners(session: Session, rows: list[T]) -> list[T]:
    """Fill in each row's owner by role and name, for lists and the board."""
    names = name_actors(session, [r.owner for r in rows if r.owner])
    for row in rows:
        if row.owner:
            row.owner_role, row.owner_name = names[row.owner].role, names[row.owner].name
    return rows


class CaseOutcomePublic(BaseModel):
    """How the case ended, who coded it and when."""

    code: str
    by: str
    who: PersonPublic
    at: Timestamp


class NamedEventPublic(CaseEventPublic):
    """A history line with its actor named by role and name."""

    who: PersonPublic


class CaseDeskDetail(CaseDetail):
    """The case page: the detail, people named, the outcome, the procedure, the countdown."""

    events: list[NamedEventPublic]  # type: ignore[assignment]
    owner_who: PersonPublic | None = None
    outcome: CaseOutcomePublic | None = None
    script: ScriptPublic | None = None
    next_escalation: NextEscalationPublic | None = None
    # Every person key the history and the messages mention ("contact:9"), by name and role.
    people: dict[str, PersonPublic] = Field(default_factory=dict)

    @classmethod
    def extend(
        cls,
        detail: CaseDetail,
        rows: list[CaseEvent],
        names: dict[str, Named],
        *,
        outcome: CaseOutcome | None,
        script: ScriptPublic | None,
        nxt: NextEscalation | None,
    ) -> Self:
        """The detail with names, outcome, procedure and countdown added."""
        data = detail.model_dump(exclude={"events"})
        events = [
            NamedEventPublic(
                **CaseEventPublic.model_validate(e).model_dump(), who=PersonPublic.of(names[e.by])
            )
            for e in rows
        ]
        owner = detail.owner
        return cls(
            **data,
            events=events,
            owner_who=PersonPublic.of(names[owner]) if owner and owner in names else None,
            outcome=CaseOutcomePublic(
                code=outcome.code,
                by=outcome.by,
                who=PersonPublic.of(names[outcome.by]),
                at=outcome.at,
            )
            if outcome is not None and outcome.by in names
            else None,
            script=script,
            next_escalation=NextEscalationPublic.of(nxt) if nxt is not None else None,
            people={key: PersonPublic.of(who) for key, who in names.items()},
        )


PERSON_KEY = re.compile(r"\b(?:contact|volunteer|merchant|elder):\d+\b")


def mentioned_people(texts: list[str]) -> set[str]:
    """The person keys ("contact:9") a history's lines and messages' recipients mention."""
    return {key for text in texts for key in PERSON_KEY.findall(text)}


class ResponderPublic(BaseModel):
    """A responder near the elder's home."""

    role: str
    id: int
    name: str
    lat: float
    lon: float
    distance_km: float

    @classmethod
    def of(cls, r: Responder) -> Self:
        """From the usecase's responder."""
        return cls(
            role=r.role,
            id=r.id,
            name=r.name,
            lat=r.lat,
            lon=r.lon,
            distance_km=round(r.distance_km, 3),
        )


class PointPublic(BaseModel):
    """A place on the map."""

    lat: float
    lon: float
    at: Timestamp | None = None


class MapPublic(BaseModel):
    """An elder's home, the responders near it, the watch's last position, and the tiles."""

    tiles: str | None  # VNH_MAP_TILES, a URL template with {z} {x} {y}; None: draw without
    home: PointPublic | None
    responders: list[ResponderPublic]
    watch: PointPublic | None = None


def tile_origin(map_tiles: str | None) -> str | None:
    """The scheme and host of a tile URL template; None when unset or not http(s)."""
    if not map_tiles:
        return None
    found = re.match(r"^(https?://[A-Za-z0-9.{}-]+(?::\d+)?)/", map_tiles)
    if found is None:
        return None
    # A {s} subdomain template ("{s}.tile.example.org") is allowed as a wildcard host.
    return re.sub(r"^(https?://)\{s\}\.", r"\1*.", found.group(1))


class ContactUpdate(BaseModel):
    """The fields of a contact to change; the others stay."""

    name: Name | None = None
    phone: Phone | None = None
    relation: Annotated[str | None, Field(max_length=64)] = None
    priority: Annotated[int | None, Field(ge=1, le=100)] = None
    notify_only: bool | None = None
    drill_opt_in: bool | None = None
    language: Language | None = None
