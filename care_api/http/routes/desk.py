"""The operator's desk: notes, procedures, outcome codes, handover, contacts, the elder's map."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import Field
from sqlmodel import select

from care_api.domain.model import CaseKind, ServiceLine
from care_api.http.audit_trail import AuditDep
from care_api.http.deps import AdminDep, ServicesDep, StaffDep, UowDep
from care_api.http.models.cases import CaseEventPublic
from care_api.http.models.desk import (
    ContactUpdate,
    HandoverBody,
    HandoverPublic,
    MapPublic,
    NamedEventPublic,
    NoteBody,
    OutcomeIn,
    OutcomePublic,
    PersonPublic,
    PointPublic,
    ResponderPublic,
    ScriptBody,
    ScriptPublic,
    tile_origin,
)
from care_api.http.models.elders import ContactPublic
from care_api.store.tables import Case, Device
from care_api.usecases.cases.actions import get_case
from care_api.usecases.cases.desk import (
    add_case_note,
    add_handover,
    get_script,
    outcome_codes,
    put_outcome_codes,
    put_script,
    recent_handover,
    reset_outcome_codes,
    reset_script,
    tick_step,
    ticked_steps,
)
from care_api.usecases.cases.queries import case_history
from care_api.usecases.people.names import name_actors
from care_api.usecases.people.nearby import responders_near
from care_api.usecases.people.registry import get_elder, remove_contact, update_contact

router = APIRouter(tags=["desk"])

CaseId = Annotated[str, Path(min_length=1, max_length=32)]
StepId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


@router.post("/cases/{case_id}/notes", status_code=status.HTTP_201_CREATED)
def post_note(
    case_id: CaseId, body: NoteBody, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> NamedEventPublic:
    """A note or a call attempt on the case, by staff; its state does not change."""
    case = get_case(uow.session, case_id)
    event = add_case_note(
        uow, case, action=body.kind, text=body.text, by=principal.actor, now=services.clock.now()
    )
    uow.commit()
    who = name_actors(uow.session, [event.by])[event.by]
    return NamedEventPublic(
        **CaseEventPublic.model_validate(event).model_dump(), who=PersonPublic.of(who)
    )


def _case_script(uow: UowDep, case: Case) -> ScriptPublic:
    script = get_script(uow.session, CaseKind(case.kind), case.line)
    return ScriptPublic.of(script, ticked_steps(case_history(uow.session, case.id)))


@router.post("/cases/{case_id}/script/{step_id}")
def post_script_tick(
    case_id: CaseId, step_id: StepId, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> ScriptPublic:
    """Tick a step of the case's procedure (once; again is a no-op), written to its history."""
    case = get_case(uow.session, case_id)
    tick_step(
        uow,
        case,
        step_id,
        by=principal.actor,
        now=services.clock.now(),
        language=services.settings.language,
    )
    uow.commit()
    return _case_script(uow, case)


@router.get("/outcome-codes")
def read_outcome_codes(uow: UowDep, _staff: StaffDep) -> list[OutcomePublic]:
    """The outcomes an operator picks from on resolve, in the admin's order."""
    return [OutcomePublic.of(o) for o in outcome_codes(uow.session)]


@router.put("/outcome-codes")
def put_outcomes(
    body: Annotated[list[OutcomeIn], Field(min_length=1, max_length=30)],
    services: ServicesDep,
    uow: UowDep,
    principal: AdminDep,
) -> list[OutcomePublic]:
    """Replace the outcome codes (admin); cases already coded keep their code."""
    saved = put_outcome_codes(
        uow.session, [o.model_dump() for o in body], by=principal.actor, now=services.clock.now()
    )
    uow.commit()
    return [OutcomePublic.of(o) for o in saved]


@router.delete("/outcome-codes")
def delete_outcomes(uow: UowDep, _admin: AdminDep) -> list[OutcomePublic]:
    """Go back to the default outcome codes (admin)."""
    codes = reset_outcome_codes(uow.session)
    uow.commit()
    return [OutcomePublic.of(o) for o in codes]


@router.get("/scripts/{kind}")
def read_script(
    kind: CaseKind, uow: UowDep, _staff: StaffDep, line: ServiceLine | None = None
) -> ScriptPublic:
    """The procedure for cases of `kind` on `line`: its own, the kind's, or the default."""
    return ScriptPublic.of(get_script(uow.session, kind, line))


@router.put("/scripts/{kind}")
def put_case_script(
    kind: CaseKind, body: ScriptBody, services: ServicesDep, uow: UowDep, principal: AdminDep
) -> ScriptPublic:
    """Replace the procedure of `kind` on `body.line` (every line when omitted); admin only."""
    script = put_script(
        uow.session,
        kind,
        body.line,
        [s.model_dump() for s in body.steps],
        by=principal.actor,
        now=services.clock.now(),
    )
    uow.commit()
    return ScriptPublic.of(script)


@router.delete("/scripts/{kind}")
def delete_case_script(
    kind: CaseKind, uow: UowDep, _admin: AdminDep, line: ServiceLine | None = None
) -> ScriptPublic:
    """Drop the admin's procedure of `kind` on `line`; answers the one now in force."""
    reset_script(uow.session, kind, line)
    uow.commit()
    return ScriptPublic.of(get_script(uow.session, kind, line))


@router.get("/handover")
def read_handover(services: ServicesDep, uow: UowDep, _staff: StaffDep) -> list[HandoverPublic]:
    """The handover notes of the last day, newest first."""
    notes = recent_handover(uow.session, services.clock.now())
    names = name_actors(uow.session, [n.by for n in notes])
    return [HandoverPublic.of(n, names[n.by]) for n in notes]


@router.post("/handover", status_code=status.HTTP_201_CREATED)
def post_handover(
    body: HandoverBody, services: ServicesDep, uow: UowDep, principal: StaffDep
) -> HandoverPublic:
    """Leave a note for the next shift on the board."""
    note = add_handover(uow.session, body.text, by=principal.actor, now=services.clock.now())
    uow.commit()
    return HandoverPublic.of(note, name_actors(uow.session, [note.by])[note.by])


@router.patch("/elders/{elder_id}/contacts/{contact_id}")
def patch_contact(
    elder_id: int,
    contact_id: int,
    body: ContactUpdate,
    services: ServicesDep,
    uow: UowDep,
    _staff: StaffDep,
) -> ContactPublic:
    """Change one of the elder's contacts (staff)."""
    changes = body.model_dump(exclude_unset=True)
    region = services.settings.phone_region
    contact = update_contact(uow.session, elder_id, contact_id, changes, region=region)
    uow.commit()
    return ContactPublic.model_validate(contact)


@router.delete("/elders/{elder_id}/contacts/{contact_id}", status_code=204)
def delete_contact(elder_id: int, contact_id: int, uow: UowDep, _staff: StaffDep) -> Response:
    """Take a contact off the elder's alert list (staff)."""
    remove_contact(uow.session, elder_id, contact_id)
    uow.commit()
    return Response(status_code=204)


@router.get("/elders/{elder_id}/map")
def read_elder_map(
    elder_id: int,
    services: ServicesDep,
    uow: UowDep,
    _staff: StaffDep,
    audit: AuditDep,
    radius_km: Annotated[float, Query(gt=0, le=50)] = 5.0,
) -> MapPublic:
    """The elder's home, responders within `radius_km`, and the last position of their watch."""
    session = uow.session
    elder = get_elder(session, elder_id)
    home = (
        PointPublic(lat=elder.lat, lon=elder.lon)
        if elder.lat is not None and elder.lon is not None
        else None
    )
    watch = None
    for device in session.exec(select(Device).where(Device.elder_id == elder_id)).all():
        if device.position_lat is None or device.position_lon is None:
            continue
        if watch is None or (device.position_at and watch.at and device.position_at > watch.at):
            watch = PointPublic(
                lat=device.position_lat, lon=device.position_lon, at=device.position_at
            )
    audit.shown("elder map", elder_id)
    return MapPublic(
        # A template the page's policy could not allow is not offered: the drawing goes without.
        tiles=services.settings.map_tiles if tile_origin(services.settings.map_tiles) else None,
        home=home,
        responders=[
            ResponderPublic.of(r) for r in responders_near(session, elder, radius_km=radius_km)
        ],
        watch=watch,
    )
