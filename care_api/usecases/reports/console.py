"""Read-side queries for the operator console: the live board, the fleet, the KPI inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import Session, col, select

from care_api.domain.cases import ACTIVE, AWAITING_CALLBACK, UNOWNED
from care_api.domain.kpi import CallbackFacts, CaseFacts
from care_api.domain.model import CaseKind, CaseState
from care_api.domain.texts import stored_text
from care_api.store.tables import Callback, Case, CaseEvent, Device, Elder

# States the board shows: cases that still need someone, and those awaiting their callback.
BOARD_STATES: frozenset[CaseState] = ACTIVE | AWAITING_CALLBACK
BOARD_MAX_ROWS = 500
FLEET_MAX_ROWS = 1000
LOW_BATTERY_PERCENT = 20
CALLBACK_ACTION = "callback"
# The alerts ladder writes what the console must say ("call 120") as a history row.
FLAG_ACTION = "flag"


@dataclass(frozen=True, slots=True)
class BoardRow:
    """An open case with the name of its elder."""

    case: Case
    elder_name: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FleetRow:
    """A terminal with the name of the elder it is bound to."""

    device: Device
    elder_name: str | None


@dataclass(frozen=True, slots=True)
class FleetFilter:
    """Which terminals the fleet view lists; None means any."""

    online: bool | None = None
    battery_below: int | None = None
    seen_before: datetime | None = None
    fw: str | None = None
    elder_id: int | None = None
    model: str | None = None
    retired: bool = False  # True lists retired terminals instead of those in service


@dataclass(frozen=True, slots=True)
class FleetSummary:
    """Counts over every terminal in service."""

    total: int
    online: int
    offline: int
    unknown: int
    low_battery: int


def _states(states: frozenset[CaseState]) -> list[str]:
    return [str(s) for s in states]


def board(session: Session, limit: int = BOARD_MAX_ROWS) -> list[BoardRow]:
    """Open cases: unowned emergencies, then owned ones, then the rest, each newest first."""
    emergency = col(Case.kind) == CaseKind.EMERGENCY
    rank = case(
        (and_(emergency, col(Case.state).in_(_states(UNOWNED))), 0),
        (and_(emergency, col(Case.state).in_(_states(ACTIVE))), 1),
        (col(Case.state).in_(_states(ACTIVE)), 2),
        else_=3,
    )
    rows = session.exec(
        select(Case, Elder.name)
        .join(Elder, col(Elder.id) == col(Case.elder_id))
        .where(col(Case.state).in_(_states(BOARD_STATES)))
        .order_by(rank, col(Case.opened_at).desc(), col(Case.id).desc())
        .limit(limit)
    ).all()
    flags = _flags_of(session, [c.id for c, _ in rows])
    return [BoardRow(c, name, tuple(flags.get(c.id, ()))) for c, name in rows]


def _flags_of(session: Session, case_ids: list[str]) -> dict[str, list[str]]:
    if not case_ids:
        return {}
    found: dict[str, list[str]] = {}
    rows = session.exec(
        select(CaseEvent.case_id, CaseEvent.why, CaseEvent.why_msg)
        .where(CaseEvent.action == FLAG_ACTION, col(CaseEvent.case_id).in_(case_ids))
        .order_by(col(CaseEvent.at), col(CaseEvent.id))
    ).all()
    for case_id, why, stored in rows:
        if why not in found.setdefault(case_id, []):
            found[case_id].append(stored_text(why, stored))  # a Msg: rendered per reader
    return found


def fleet(
    session: Session,
    *,
    problems_only: bool = False,
    limit: int = FLEET_MAX_ROWS,
    offset: int = 0,
    where: FleetFilter | None = None,
) -> list[FleetRow]:
    """Terminals in service: those offline or low on battery first, then by id."""
    problem = (
        col(Device.online).is_not(True)
        | (col(Device.battery) < LOW_BATTERY_PERCENT)
        | col(Device.outage_since).is_not(None)
        | col(Device.power_lost)
    )
    query = select(Device, Elder.name).join(
        Elder, col(Elder.id) == col(Device.elder_id), isouter=True
    )
    query = query.where(*_fleet_conditions(where or FleetFilter()))
    if problems_only:
        query = query.where(problem)
    query = query.order_by(case((problem, 0), else_=1), col(Device.device_id))
    rows = session.exec(query.offset(offset).limit(limit)).all()
    return [FleetRow(d, name) for d, name in rows]


def _fleet_conditions(where: FleetFilter) -> list[ColumnElement[bool]]:
    retired = col(Device.status) == "retired"
    conditions = [retired if where.retired else ~retired]
    if where.online is not None:
        conditions.append(col(Device.online).is_(where.online))
    if where.battery_below is not None:
        conditions.append(col(Device.battery) < where.battery_below)
    if where.seen_before is not None:
        # Never heard from counts as "last seen before" any time.
        seen = col(Device.last_seen_at)
        conditions.append(seen.is_(None) | (seen < where.seen_before))
    if where.fw is not None:
        conditions.append(col(Device.fw) == where.fw)
    if where.elder_id is not None:
        conditions.append(col(Device.elder_id) == where.elder_id)
    if where.model is not None:
        conditions.append(col(Device.model) == where.model)
    return conditions


def fleet_summary(session: Session) -> FleetSummary:
    """How many terminals are online, offline, never heard from, and low on battery."""
    in_service = col(Device.status) != "retired"
    by_online = dict(
        session.exec(
            select(Device.online, func.count()).where(in_service).group_by(col(Device.online))
        ).all()
    )
    low = session.exec(
        select(func.count()).where(in_service, col(Device.battery) < LOW_BATTERY_PERCENT)
    ).one()
    online, offline, unknown = (int(by_online.get(k, 0)) for k in (True, False, None))
    return FleetSummary(online + offline + unknown, online, offline, unknown, int(low))


def kpi_inputs(
    session: Session, since: datetime, until: datetime, *, drill: bool = False
) -> tuple[list[CaseFacts], list[CallbackFacts]]:
    """The cases opened in `[since, until)` and the callbacks recorded on them.

    Real cases only, or with `drill` the drill cases only: a drill never counts as real.
    """
    cases: Sequence[Case] = session.exec(
        select(Case).where(
            col(Case.opened_at) >= since, col(Case.opened_at) < until, col(Case.drill) == drill
        )
    ).all()
    facts = [
        CaseFacts(
            kind=c.kind,
            state=c.state,
            opened_at=c.opened_at,
            acknowledged_at=c.acknowledged_at,
            resolved_at=c.resolved_at,
            closed_at=c.closed_at,
        )
        for c in cases
    ]
    # The typed callback rows, not the history's text: an operator's comment can never be
    # read as an answer, and the machine's callbacks count the same as the operators'.
    answers = session.exec(
        select(Callback.reached, Callback.satisfaction)
        .join(Case, col(Case.id) == col(Callback.case_id))
        .where(
            col(Case.opened_at) >= since,
            col(Case.opened_at) < until,
            col(Case.drill) == drill,
        )
    ).all()
    return facts, [CallbackFacts(reached=r, satisfaction=s) for r, s in answers]
