"""Shifts of operators and supervisors, and who is on duty at a moment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from care_api.domain.errors import NotFound
from care_api.domain.phones import DEFAULT_REGION, to_e164
from care_api.domain.rota import (
    DutyRole,
    Shift,
    check_shift_span,
    on_duty,
    supervisor_on_duty,
)
from care_api.domain.texts import Msg
from care_api.store.tables import Shift as ShiftRow

ROTA = "rota"  # where the supervisor on duty came from
SETTING = "setting"  # VNH_SUPERVISOR_PHONE


@dataclass(frozen=True, slots=True)
class OnDuty:
    """Who is on duty at `at`; `supervisor_source` says whether rota or setting named them."""

    at: datetime
    operators: list[Shift]
    supervisors: list[Shift]
    supervisor_name: str | None
    supervisor_phone: str | None
    supervisor_source: str | None


def _spot(row: ShiftRow) -> Shift:
    if row.id is None:
        raise RuntimeError("shift has no id yet")
    return Shift(row.id, row.person, DutyRole(row.role), row.phone, row.start_at, row.end_at)


def add_shift(
    session: Session,
    data: Mapping[str, object],
    *,
    by: str,
    now: datetime,
    region: str = DEFAULT_REGION,
) -> ShiftRow:
    """Put a person on the rota; ValueError (422) when the span is not a shift."""
    start, end = data["start"], data["end"]
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        raise TypeError("shift start and end must be datetimes")
    check_shift_span(start, end)
    row = ShiftRow(
        person=str(data["person"]),
        role=DutyRole(str(data["role"])).value,
        phone=to_e164(str(data["phone"]), region) if data.get("phone") else "",
        start_at=start.astimezone(UTC),  # the API shows every time in UTC
        end_at=end.astimezone(UTC),
        created_by=by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def remove_shift(session: Session, shift_id: int) -> None:
    """Take a shift off the rota; NotFound when there is none."""
    row = session.get(ShiftRow, shift_id)
    if row is None:
        raise NotFound(Msg("shift {shift_id} not found", shift_id=shift_id))
    session.delete(row)


def list_shifts(
    session: Session, *, start: datetime, end: datetime, role: DutyRole | None = None
) -> list[ShiftRow]:
    """Shifts overlapping [start, end), earliest first."""
    query = select(ShiftRow).where(col(ShiftRow.end_at) > start, col(ShiftRow.start_at) < end)
    if role is not None:
        query = query.where(col(ShiftRow.role) == role.value)
    return list(session.exec(query.order_by(col(ShiftRow.start_at), col(ShiftRow.id))).all())


def shifts_at(session: Session, at: datetime) -> list[Shift]:
    """Every shift running at `at`."""
    rows = session.exec(
        select(ShiftRow).where(col(ShiftRow.start_at) <= at, col(ShiftRow.end_at) > at)
    ).all()
    return [_spot(r) for r in rows]


def who_is_on_duty(session: Session, at: datetime, *, fallback_phone: str | None) -> OnDuty:
    """Operators and supervisors on duty at `at`; the supervisor to page, rota first.

    Without a supervisor on the rota at `at`, VNH_SUPERVISOR_PHONE (`fallback_phone`) is it.
    A rota supervisor without a phone is shown but cannot be paged: the setting is used.
    """
    shifts = shifts_at(session, at)
    supervisor = supervisor_on_duty([s for s in shifts if s.phone], at)
    name: str | None = None
    phone: str | None = None
    source: str | None = None
    if supervisor is not None:
        name, phone, source = supervisor.person, supervisor.phone, ROTA
    elif fallback_phone:
        phone, source = fallback_phone, SETTING
    return OnDuty(
        at=at,
        operators=on_duty(shifts, at, DutyRole.OPERATOR),
        supervisors=on_duty(shifts, at, DutyRole.SUPERVISOR),
        supervisor_name=name,
        supervisor_phone=phone,
        supervisor_source=source,
    )


def supervisor_phones(session: Session) -> list[str]:
    """Every phone a supervisor has on the rota: their SMS replies are the supervisor's."""
    rows = session.exec(_SUPERVISOR_PHONES).all()
    return [p for p in rows if p]


# Built once: every SMS reply asks it (is this the supervisor?).
_SUPERVISOR_PHONES = (
    select(ShiftRow.phone).where(col(ShiftRow.role) == DutyRole.SUPERVISOR.value).distinct()
)
