"""Drill mode: a terminal or a whole district in test mode, and who takes part in drills.

While a drill is on, a case its terminals open is a drill case (`care_case.drill`): the
ladder runs as usual, but every message is marked TEST and goes only to people who opted
in (`drill_opt_in` on contacts and volunteers); the others' messages are recorded as
skipped (alerts.sender). Drill cases are left out of the centre's figures and reported
apart (`GET /reports/kpi?drill=true`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, and_, bindparam, exists, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from care_api.domain.errors import Conflict, InvalidInput, NotFound
from care_api.domain.texts import Msg
from care_api.store.tables import Contact, Device, Drill, Elder, Volunteer
from care_api.usecases.people.registry import get_device

log = logging.getLogger(__name__)

TEST_MARK = "[TEST]"
TEST_SAY = "This is a test."


def mark_test(text: str, *, spoken: bool = False) -> str:
    """A message of a drill case, marked so that nobody takes it for a real alarm."""
    mark = TEST_SAY if spoken else TEST_MARK
    return text if text.startswith(mark) else f"{mark} {text}"


def start_drill(
    session: Session,
    *,
    device_id: str | None,
    district: str | None,
    note: str,
    by: str,
    now: datetime,
) -> Drill:
    """Put one terminal or one district in test mode; Conflict if it is in one already."""
    if (device_id is None) == (district is None):
        raise InvalidInput(Msg("give a device_id or a district, not both"))
    if device_id is not None:
        get_device(session, device_id)
        same = col(Drill.device_id) == device_id
    else:
        same = col(Drill.district) == district
    running = session.exec(select(Drill).where(same, col(Drill.ended_at).is_(None))).first()
    if running is not None:
        raise Conflict(
            Msg(
                "drill {drill_id} is already running for {target}",
                drill_id=running.id,
                target=device_id or district,
            )
        )
    drill = Drill(device_id=device_id, district=district, note=note, started_by=by, started_at=now)
    session.add(drill)
    session.flush()
    log.info("drill %s started for %s by %s", drill.id, device_id or district, by)
    return drill


def end_drill(session: Session, drill_id: int, *, by: str, now: datetime) -> Drill:
    """Take the terminal or district out of test mode; its next press is real again."""
    drill = session.get(Drill, drill_id, with_for_update=True)
    if drill is None:
        raise NotFound(Msg("drill {drill_id} not found", drill_id=drill_id))
    if drill.ended_at is not None:
        raise Conflict(Msg("drill {drill_id} has ended already", drill_id=drill_id))
    drill.ended_at = now
    drill.ended_by = by
    session.add(drill)
    log.info("drill %s ended by %s", drill_id, by)
    return drill


def list_drills(
    session: Session, *, running_only: bool = False, limit: int = 50, offset: int = 0
) -> list[Drill]:
    """Drills, newest first; only those still running with `running_only`."""
    query = select(Drill)
    if running_only:
        query = query.where(col(Drill.ended_at).is_(None))
    query = query.order_by(col(Drill.started_at).desc(), col(Drill.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


# Built once: intake asks on every press it records alone, and most of the time no drill runs.
_RUNNING_DRILLS = sa_select(col(Drill.id)).where(col(Drill.ended_at).is_(None)).limit(1)


def in_drill_clause(
    device_id: ColumnElement[str], district: ColumnElement[str | None]
) -> ColumnElement[bool]:
    """`drilled_devices` as a column of a query that has the device and its elder's district.

    The press batch reads it with its terminals: one statement instead of one or two more.
    """
    return exists().where(
        col(Drill.ended_at).is_(None),
        or_(
            and_(col(Drill.device_id) == device_id, col(Drill.device_id) != ""),
            and_(col(Drill.district) == district, col(Drill.district) != ""),
        ),
    )


# The rule once, for a few terminals; the press batch reads the same clause with its own.
_DRILLED = (
    sa_select(col(Device.device_id))
    .outerjoin(Elder, col(Elder.id) == col(Device.elder_id))
    .where(
        col(Device.device_id).in_(bindparam("ids", expanding=True)),
        in_drill_clause(
            cast(ColumnElement[str], col(Device.device_id)),
            cast(ColumnElement[str | None], col(Elder.district)),
        ),
    )
)


def drilled_devices(session: Session, device_ids: Iterable[str]) -> set[str]:
    """Which of `device_ids` are in test mode now, by themselves or by their elder's district."""
    ids = sorted(set(device_ids))
    if not ids or session.execute(_RUNNING_DRILLS).first() is None:
        return set()  # most of the time no drill runs: one cheap look
    return set(session.execute(_DRILLED, {"ids": ids}).scalars())


def in_drill(session: Session, device_id: str | None) -> bool:
    """True when the terminal is in test mode now."""
    return device_id is not None and device_id in drilled_devices(session, [device_id])


def takes_part_in_drills(session: Session, recipient: str) -> bool:
    """Did the person behind a recipient key ("contact:3", "volunteer:2") opt in to drills?"""
    kind, _, ident = recipient.partition(":")
    if not ident.isdigit():
        return False  # the supervisor's phone, a merchant: not part of drills
    person: Contact | Volunteer | None = None
    if kind == "contact":
        person = session.get(Contact, int(ident))
    elif kind == "volunteer":
        person = session.get(Volunteer, int(ident))
    return bool(person is not None and person.drill_opt_in)
