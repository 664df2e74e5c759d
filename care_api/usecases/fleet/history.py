"""A terminal's life story: one `device_history` row per provision, bind, move, retire."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from care_api.domain.texts import msg_json
from care_api.store.tables import Case, Device, DeviceEvent, DeviceHistory

MAX_DETAIL_CHARS = 500


def record_history(
    session: Session, device: Device, action: str, *, by: str, now: datetime, detail: str = ""
) -> DeviceHistory:
    """Append a history row; `elder_id` is the binding the terminal has after it.

    A `Msg` detail is kept with its catalogue key, for the reader's language.
    """
    row = DeviceHistory(
        device_id=device.device_id,
        at=now,
        by=by,
        action=action,
        elder_id=device.elder_id,
        detail=detail[:MAX_DETAIL_CHARS],
        detail_msg=msg_json(detail),
    )
    session.add(row)
    return row


def history_of(session: Session, device_id: str) -> list[DeviceHistory]:
    """The terminal's history, oldest first."""
    return list(
        session.exec(
            select(DeviceHistory)
            .where(DeviceHistory.device_id == device_id)
            .order_by(col(DeviceHistory.at), col(DeviceHistory.id))
        ).all()
    )


def events_of(
    session: Session, device_id: str, *, limit: int, offset: int = 0
) -> list[tuple[DeviceEvent, str | None]]:
    """The terminal's recorded events, newest first, each with the kind of its case."""
    rows = session.exec(
        select(DeviceEvent, Case.kind)
        .join(Case, col(Case.id) == col(DeviceEvent.case_id), isouter=True)
        .where(DeviceEvent.device_id == device_id)
        .order_by(col(DeviceEvent.received_at).desc(), col(DeviceEvent.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [(event, kind) for event, kind in rows]
