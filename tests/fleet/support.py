"""What the fleet tests share: reports, recording, and reading cases and their history."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseKind, DeviceReport, EventKey, IntakeOutcome, ReportType
from care_api.services import Services
from care_api.store.tables import Case, CaseEvent, Device, Notification
from care_api.usecases.intake.reports import record_device_report
from tests.fakes import FakeClock
from tests.twilio_server import RecordingTwilioServer

TWILIO_FROM = "+15005550006"
CONTACT = "+8613900000000"  # the first contact seed_elder gives an elder
WAIT_S = 10.0  # generous: the suite must pass on a loaded 2-core machine
POLL_S = 0.02


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    """Poll a condition another thread makes true; no fixed sleeps."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


class Reporter:
    """A terminal's side of intake: numbered events, recorded as the gateway would."""

    def __init__(self, services: Services, device_id: str = "T1001", boot: int = 7) -> None:
        self.services = services
        self.device_id = device_id
        self.boot = boot
        self.seq = 0

    def send(self, kind: ReportType, *, book: bool = True, **fields: object) -> IntakeOutcome:
        self.seq += 1
        report = DeviceReport(EventKey(self.device_id, self.boot, self.seq), kind, fields)
        return record(self.services, report, book=book)

    def beat(self, **fields: object) -> IntakeOutcome:
        return self.send(ReportType.HEARTBEAT, **fields)


def past_the_settle(services: Services, alerts: AlertsComponent, clock: FakeClock) -> None:
    """Move past `VNH_STORM_SETTLE_S`: a lone trouble's held case opens, its alerts go out."""
    clock.advance(seconds=services.settings.storm_settle_s)
    alerts.tick()
    alerts.run_pending()


def record(services: Services, report: DeviceReport, *, book: bool = True) -> IntakeOutcome:
    return record_device_report(
        services.uow,
        report,
        now=services.clock.now(),
        tz=services.tz,
        heartbeats=services.heartbeats if book else None,
    )


def device_cases(services: Services, device_id: str = "T1001") -> list[Case]:
    with services.uow() as uow:
        rows = list(
            uow.session.exec(
                select(Case)
                .where(Case.kind == CaseKind.DEVICE, Case.device_id == device_id)
                .order_by(col(Case.opened_at), col(Case.id))
            ).all()
        )
        uow.session.expunge_all()
        return rows


def history(services: Services, case_id: str) -> list[tuple[str, str]]:
    with services.uow() as uow:
        rows = uow.session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
        ).all()
        return [(e.action, e.why) for e in rows]


def device_row(services: Services, device_id: str = "T1001") -> Device:
    with services.uow() as uow:
        device = uow.session.get(Device, device_id)
        assert device is not None
        uow.session.expunge(device)
        return device


def notifications(services: Services, case_id: str) -> list[Notification]:
    with services.uow() as uow:
        rows = list(
            uow.session.exec(
                select(Notification)
                .where(Notification.case_id == case_id)
                .order_by(col(Notification.id))
            ).all()
        )
        uow.session.expunge_all()
        return rows


def twilio_alerts(
    services: Services, server: RecordingTwilioServer, **limits: Any
) -> AlertsComponent:
    """The alerts engine sending through the real Twilio client to the look-alike."""
    settings = services.settings.model_copy(
        update={
            "twilio_account_sid": server.account_sid,
            "twilio_auth_token": SecretStr(server.auth_token),
            "twilio_from": TWILIO_FROM,
            "twilio_api_url": server.base_url,
            **limits,
        }
    )
    services.settings = settings
    component = AlertsComponent(settings, services)
    component.attach()
    return component


def settle(alerts: AlertsComponent) -> None:
    """Handle what is queued, fire what is due, and send what that wrote."""
    alerts.run_pending()
    alerts.tick()
    alerts.run_pending()
