"""The intake planner: report by report, in order, what a press does; it writes nothing.

One set of rules for every path a press takes: the gateway's press batch (`press_intake`)
and one report at a time (`intake`). From facts read beforehand (the terminals, the keys
already recorded, the elders' running cases) it decides for each press: reject (why),
duplicate (of which case), join (which running case, or the case an earlier press of the
same run opens), or open (which kind, trigger, drill or real; the ladder of that kind).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Connection, Integer, Select, any_, bindparam, select
from sqlmodel import SQLModel

from care_api.domain.cases import ACTIVE
from care_api.domain.keymap import route_press
from care_api.domain.lines import default_line
from care_api.domain.model import CaseKind, CaseState, DeviceReport, EventKey, ServiceLine
from care_api.domain.texts import Msg, term
from care_api.store.arrays import is_postgres
from care_api.store.tables import Case
from care_api.usecases.intake.sources import refusal

# A press joins the elder's running case of its kind and service line, and only one that is
# a drill case when the press is a drill's, a real one when it is real: the two never mix,
# and a legal matter never folds into a care-home one.
JoinKey = tuple[int, str, str | None, bool]

_CASE = SQLModel.metadata.tables[str(Case.__tablename__)]


def _running(elders: ColumnElement[bool]) -> Select[Any]:
    # Newest first, so that in a dict the oldest is written last and wins.
    return (
        select(
            _CASE.c.id, _CASE.c.elder_id, _CASE.c.kind, _CASE.c.state, _CASE.c.drill, _CASE.c.line
        )
        .where(elders, _CASE.c.state.in_([state.value for state in ACTIVE]))
        .order_by(_CASE.c.opened_at.desc(), _CASE.c.id.desc())
    )


_RUNNING = _running(_CASE.c.elder_id.in_(bindparam("elders", expanding=True)))
# On PostgreSQL the elders go as one array: one SQL text whatever their number (see
# `batch_pg`).
_RUNNING_PG = _running(_CASE.c.elder_id == any_(bindparam("elders", type_=ARRAY(Integer))))


class Step(StrEnum):
    """What intake does with one press."""

    REJECT = "reject"
    DUPLICATE = "duplicate"
    JOIN = "join"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class Source:
    """What intake knows of a reporting terminal before deciding."""

    status: str
    elder_id: int | None
    hub_port: str | None
    keymap_override: Mapping[str, str] | None
    drill: bool  # in test mode now (by itself or by its elder's district)


@dataclass(frozen=True, slots=True)
class Running:
    """An elder's case still active: a press of its kind joins it."""

    case_id: str
    state: CaseState


@dataclass(frozen=True, slots=True)
class Decision:
    """The planner's answer for one press.

    `case_id` names a case already recorded (duplicate, join); `same_as` instead names the
    earlier press of the run whose case this one shares (its duplicate, or a join of the
    case it opens).
    """

    step: Step
    reason: str | None = None
    case_id: str | None = None
    same_as: int | None = None
    kind: CaseKind | None = None
    line: ServiceLine | None = None
    trigger: str = ""
    drill: bool = False
    state: CaseState | None = None  # of the case joined


def join_key(elder_id: int, kind: CaseKind, line: ServiceLine | None, drill: bool) -> JoinKey:
    """Which running case a new event of `kind` on `line` would join."""
    return (elder_id, kind.value, line.value if line is not None else None, drill)


def press_route(
    report: DeviceReport, override: Mapping[str, str] | None
) -> tuple[CaseKind, ServiceLine | None, str]:
    """The case kind and line a press maps to (the elder's keymap first) and its trigger."""
    button = str(report.fields.get("button", "main"))
    pattern = str(report.fields.get("pattern", "single"))
    route = route_press(button, pattern, override)
    line = route.line or default_line(route.kind)
    trigger = Msg("{button} {pattern} press", button=term(button), pattern=term(pattern))
    return route.kind, line, trigger


def plan_presses(
    reports: Sequence[DeviceReport],
    sources: Mapping[str, Source],
    seen: Mapping[EventKey, str | None],
    running: Mapping[JoinKey, Running],
) -> list[Decision]:
    """Decide each press of `reports` in order, as if recorded one after the other."""
    decisions: list[Decision] = []
    first: dict[EventKey, int] = {}
    opened: dict[JoinKey, int] = {}
    for i, report in enumerate(reports):
        source = sources.get(report.key.device_id)
        reason = (
            "unknown device"
            if source is None
            else refusal(source.status, source.elder_id, source.hub_port, report.source)
        )
        if reason is not None or source is None or source.elder_id is None:
            decisions.append(Decision(Step.REJECT, reason=reason or "unknown device"))
            continue
        if report.key in seen:
            decisions.append(Decision(Step.DUPLICATE, case_id=seen[report.key]))
            continue
        if report.key in first:
            decisions.append(Decision(Step.DUPLICATE, same_as=first[report.key]))
            continue
        first[report.key] = i
        kind, line, trigger = press_route(report, source.keymap_override)
        drill = source.drill
        key = join_key(source.elder_id, kind, line, drill)
        if key in running:
            active = running[key]
            case_id, same_as, state = active.case_id, None, active.state
            step = Step.JOIN
        elif key in opened:
            # The case an earlier press of the run opens is still open.
            case_id, same_as, state = None, opened[key], CaseState.OPEN
            step = Step.JOIN
        else:
            opened[key] = i
            case_id, same_as, state = None, None, None
            step = Step.OPEN
        decisions.append(
            Decision(
                step,
                case_id=case_id,
                same_as=same_as,
                kind=kind,
                line=line,
                trigger=trigger,
                drill=drill,
                state=state,
            )
        )
    return decisions


def running_cases(conn: Connection, elder_ids: set[int]) -> dict[JoinKey, Running]:
    """(elder, kind, line, drill) → the oldest active case, the one such a press joins."""
    if not elder_ids:
        return {}
    statement = _RUNNING_PG if is_postgres(conn) else _RUNNING
    return running_by_key(conn.execute(statement, {"elders": sorted(elder_ids)}).all())


def running_by_key(rows: Iterable[Sequence[Any]]) -> dict[JoinKey, Running]:
    """`running_cases` of rows (id, elder, kind, state, drill, line), newest first."""
    return {
        (row[1], row[2], row[5], bool(row[4])): Running(row[0], CaseState(row[3])) for row in rows
    }
