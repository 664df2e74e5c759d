"""Health readings from watches (heart rate, blood pressure, temperature) and the track."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from care_api.store.tables import Case, Device
from care_api.store.uow import UowFactory
from care_api.store.watch_tables import HealthReading, PositionPoint
from care_api.usecases.intake.sources import refusal

READINGS_MAX = 200  # the API's list cap
TRACK_MAX = 2_000
TRACK_BEFORE = timedelta(minutes=30)  # where the elder came from before the case opened


def record_reading(
    uow_factory: UowFactory,
    device_id: str,
    source: str,
    *,
    keyword: str,
    heart_rate: int | None = None,
    systolic: int | None = None,
    diastolic: int | None = None,
    temperature_c: float | None = None,
    now: datetime,
) -> str | None:
    """Keep a reading on the elder's record; why the terminal may not report, None if it may."""
    with uow_factory() as uow:
        device = uow.session.get(Device, device_id)
        if device is None:
            return "unknown device"
        reason = refusal(device.status, device.elder_id, device.hub_port, source)
        if reason is not None or device.elder_id is None:
            return reason or "device has no elder"
        uow.session.add(
            HealthReading(
                elder_id=device.elder_id,
                device_id=device_id,
                keyword=keyword,
                heart_rate=heart_rate,
                systolic=systolic,
                diastolic=diastolic,
                temperature_c=temperature_c,
                received_at=now,
            )
        )
        uow.commit()
        return None


def readings_of(session: Session, elder_id: int, limit: int = READINGS_MAX) -> list[HealthReading]:
    """The elder's readings, newest first."""
    return list(
        session.exec(
            select(HealthReading)
            .where(col(HealthReading.elder_id) == elder_id)
            .order_by(col(HealthReading.received_at).desc(), col(HealthReading.id).desc())
            .limit(limit)
        ).all()
    )


def track_of_case(session: Session, case: Case, now: datetime) -> list[PositionPoint]:
    """The elder's positions from half an hour before the case opened to its end, oldest first."""
    end = case.closed_at or now
    return list(
        session.exec(
            select(PositionPoint)
            .where(
                col(PositionPoint.elder_id) == case.elder_id,
                col(PositionPoint.at) >= case.opened_at - TRACK_BEFORE,
                col(PositionPoint.at) <= end,
            )
            .order_by(col(PositionPoint.at), col(PositionPoint.id))
            .limit(TRACK_MAX)
        ).all()
    )


def last_position(session: Session, elder_id: int) -> PositionPoint | None:
    """The newest position any of the elder's terminals reported."""
    return session.exec(
        select(PositionPoint)
        .where(col(PositionPoint.elder_id) == elder_id)
        .order_by(col(PositionPoint.at).desc(), col(PositionPoint.id).desc())
        .limit(1)
    ).first()
