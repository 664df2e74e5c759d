"""A terminal's life story: one `device_history` row per provision, bind, move, retire."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from care_api.store.tables import Device, DeviceHistory

MAX_DETAIL_CHARS = 500


def record_history(
    session: Session, device: Device, action: str, *, by: str, now: datetime, detail: str = ""
) -> DeviceHistory:
    """Append a history row; `elder_id` is the binding the terminal has after it."""
    row = DeviceHistory(
        device_id=device.device_id,
        at=now,
        by=by,
        action=action,
        elder_id=device.elder_id,
        detail=detail[:MAX_DETAIL_CHARS],
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
