"""Emergencies opened together start their ladders together: still one alert each, none lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from alerts.runtime import OPEN_BATCH_SHARED_WRITERS, AlertsComponent
from alerts.sender import NotificationSender
from alerts.timers import FIRE_TOGETHER, HANDLER_RETRY_S
from care_api.domain.events import CaseOpened, CaseStateChanged, DomainEvent
from care_api.domain.model import CaseState
from care_api.services import Services
from care_api.store.tables import Case, Notification
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.supervision import record_step
from care_api.usecases.intake.reports import record_device_report
from tests.fakes import FakeClock
from tests.helpers import outbox_alerts, press, seed_elder

CASES = 5  # fewer than a batch holds: all of them start in one
ALERT = Counter({"sms": 1, "voice": 1})  # step 0 of an emergency: the first contact, twice


@pytest.fixture
def alerts(services: Services) -> Iterator[AlertsComponent]:
    component = outbox_alerts(services)
    yield component
    component.stop()


def _open(services: Services, n: int, first: int = 0) -> list[str]:
    """`n` emergencies, of `n` elders with one contact each (from number `first`); case ids."""
    opened: list[str] = []
    for i in range(first, first + n):
        device = f"T2{i:03d}"
        seed_elder(services, device, contacts=1, name=f"Elder {i}")
        outcome = record_device_report(
            services.uow, press(device), now=services.clock.now(), tz=services.tz
        )
        assert outcome.case_id is not None
        opened.append(outcome.case_id)
    return opened


def _alerts(services: Services) -> dict[str | None, Counter[str]]:
    """The phone messages written, by case: how many on each channel."""
    with services.uow() as uow:
        rows = uow.session.exec(
            select(Notification.case_id, Notification.channel, Notification.status).where(
                col(Notification.channel).in_(("sms", "voice"))
            )
        ).all()
    found: dict[str | None, Counter[str]] = {}
    for case_id, channel, status in rows:
        assert status == "queued"  # handed to the provider, and recorded
        found.setdefault(case_id, Counter())[channel] += 1
    return found


def _count_commits(services: Services) -> list[int]:
    counted = [0]

    def count(*_: object) -> None:
        counted[0] += 1

    event.listen(services.engine, "commit", count)
    return counted


def _handle_events(alerts: AlertsComponent, monkeypatch: pytest.MonkeyPatch) -> None:
    """Handle the queued events only; the messages they wrote wait for `sender.drain()`."""
    with monkeypatch.context() as m:
        m.setattr(NotificationSender, "drain", lambda self: 0)
        alerts.run_pending()


@pytest.mark.parametrize("n", [CASES, 2 * OPEN_BATCH_SHARED_WRITERS + 1])
def test_emergencies_opened_together_are_alerted_a_batch_a_transaction_once_each(
    services: Services, alerts: AlertsComponent, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    opened: list[DomainEvent] = []
    services.bus.subscribe(CaseOpened, opened.append)
    cases = _open(services, n)
    commits = _count_commits(services)
    _handle_events(alerts, monkeypatch)
    # One transaction ran step 0 of each batch of them, not one each.
    assert commits[0] == -(-n // alerts.open_batch)

    alerts.sender.drain()
    assert _alerts(services) == dict.fromkeys(cases, ALERT)
    # Each step 0 fired once: neither the same events again nor the sweep alert anyone twice.
    alerts.handle_opened(opened)
    assert alerts.tick() == 0
    alerts.sender.drain()
    assert _alerts(services) == dict.fromkeys(cases, ALERT)


def test_a_case_moved_meanwhile_does_not_split_the_batch(
    services: Services, alerts: AlertsComponent, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch's step 0 moves its cases and queues their news behind emergencies opened
    # meanwhile; that news touches no database and the emergencies still go together.
    cases = _open(services, 2)
    services.bus.publish(
        CaseStateChanged(cases[0], CaseState.OPEN, CaseState.DISPATCHED, "alerts", None)
    )
    cases += _open(services, CASES - 2, first=2)
    commits = _count_commits(services)
    _handle_events(alerts, monkeypatch)
    assert commits[0] == 1

    alerts.sender.drain()
    assert _alerts(services) == dict.fromkeys(cases, ALERT)


def test_emergencies_the_fast_path_missed_are_fired_by_the_sweep_a_batch_a_transaction(
    services: Services, alerts: AlertsComponent
) -> None:
    # Their events never reached the alerts (a backlog, or a process gone after the commit).
    alerts.detach()
    n = 2 * FIRE_TOGETHER + 1
    cases = _open(services, n)
    commits = _count_commits(services)
    assert alerts.tick() == n
    assert commits[0] == -(-n // FIRE_TOGETHER)

    alerts.sender.drain()
    assert _alerts(services) == dict.fromkeys(cases, ALERT)
    assert alerts.tick() == 0
    alerts.sender.drain()
    assert _alerts(services) == dict.fromkeys(cases, ALERT)


@pytest.mark.allow_logged_errors  # the failing case's step is logged, as it should be
def test_a_case_whose_step_fails_keeps_no_other_from_its_alert(
    services: Services,
    alerts: AlertsComponent,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = _open(services, CASES)
    bad = cases[2]

    def failing(uow: SqlUnitOfWork, case: Case, **step: Any) -> None:
        if case.id == bad:
            raise RuntimeError("a bad case")
        record_step(uow, case, **step)

    with monkeypatch.context() as m:
        m.setattr("alerts.escalation.record_step", failing)
        alerts.run_pending()
    good = [c for c in cases if c != bad]
    assert _alerts(services) == dict.fromkeys(good, ALERT)
    # Not lost: its step is tried again by the sweep, once.
    clock.advance(seconds=HANDLER_RETRY_S)
    assert alerts.tick() == 1
    alerts.sender.drain()
    assert _alerts(services) == dict.fromkeys(cases, ALERT)
