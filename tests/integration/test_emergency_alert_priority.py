"""An emergency's first alert goes out while presses keep the gateway's intake busy."""

from __future__ import annotations

import threading
import time

from sqlmodel import col, select

from care_api.domain.model import CaseKind
from care_api.priority import YIELD_MAX_S, IntakePriority
from care_api.services import Services
from care_api.store.tables import Notification
from care_api.usecases.intake.reports import record_device_report
from tests.helpers import outbox_alerts, press, seed_elder

WAIT_S = 20.0


class NeverCalm(IntakePriority):
    """An intake that is never calm: whoever steps aside waits until the test ends."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def step_aside(self, max_s: float = YIELD_MAX_S) -> bool:
        self.released.wait()
        return False


def _sent(services: Services, case_id: str) -> list[tuple[str, str]]:
    with services.uow() as uow:
        rows = uow.session.exec(
            select(Notification.channel, Notification.to).where(
                Notification.case_id == case_id, col(Notification.provider_id).is_not(None)
            )
        ).all()
    return sorted((channel, to) for channel, to in rows)


def test_an_emergency_is_alerted_while_the_intake_is_never_calm(services: Services) -> None:
    # Under a steady press rate the intake is never calm for long; stepping aside before
    # each unit of alert work capped emergencies' alerts at 20 a second.
    intake = NeverCalm()
    services.intake = intake
    seed_elder(services, contacts=1)
    alerts = outbox_alerts(services)
    alerts.start()
    try:
        outcome = record_device_report(
            services.uow, press(pattern="long"), now=services.clock.now(), tz=services.tz
        )
        assert outcome.kind is CaseKind.EMERGENCY and outcome.case_id is not None
        deadline = time.monotonic() + WAIT_S
        while not _sent(services, outcome.case_id) and time.monotonic() < deadline:
            time.sleep(0.02)  # polling what the sender's threads record
        assert [to for _, to in _sent(services, outcome.case_id)] != []
    finally:
        intake.released.set()
        alerts.stop()


def test_an_emergency_step_fired_by_the_sweep_does_not_step_aside_either(
    services: Services,
) -> None:
    # The beat fires the step when the events thread is behind (or after a restart): its
    # alerts are as urgent as the fast path's, or a busy intake holds them back.
    intake = NeverCalm()
    services.intake = intake
    seed_elder(services, contacts=1)
    alerts = outbox_alerts(services)
    alerts.detach()  # no fast path: only the sweep will fire the case's first step
    alerts.sender.start()
    try:
        outcome = record_device_report(
            services.uow, press(pattern="long"), now=services.clock.now(), tz=services.tz
        )
        assert outcome.kind is CaseKind.EMERGENCY and outcome.case_id is not None
        assert alerts.tick() >= 1
        deadline = time.monotonic() + WAIT_S
        while not _sent(services, outcome.case_id) and time.monotonic() < deadline:
            time.sleep(0.02)  # polling what the sender's threads record
        assert [to for _, to in _sent(services, outcome.case_id)] != []
    finally:
        intake.released.set()
        alerts.sender.stop()
