"""Emergencies opened together start their ladders together: still one alert each, none lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from alerts.runtime import OPEN_BATCH_SHARED_WRITERS, AlertsComponent
from alerts.sender import CLAIMED_AHEAD, NotificationSender
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


class RecordingPool:
    """Stands in for the sending threads: keeps what is handed to them, in order."""

    def __init__(self) -> None:
        self.handed: list[tuple[Callable[..., None], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self.handed.append((fn, args))

    def run(self) -> None:
        """Send what was handed over, on this thread, as the sending threads would."""
        handed, self.handed = self.handed, []
        for fn, args in handed:
            fn(*args)


def _statuses(services: Services, cases: list[str]) -> dict[str, Counter[str]]:
    with services.uow() as uow:
        rows = uow.session.exec(
            select(Notification.case_id, Notification.status).where(
                col(Notification.case_id).in_(cases),
                col(Notification.channel).in_(("sms", "voice")),
            )
        ).all()
    found: dict[str, Counter[str]] = {}
    for case_id, status in rows:
        found.setdefault(case_id or "", Counter())[status] += 1
    return found


def _slots_free(sender: NotificationSender) -> int:
    """How many rows may be claimed ahead now (the slots are taken back at once)."""
    free = 0
    while sender._in_flight.acquire(blocking=False):
        free += 1
    for _ in range(free):
        sender._in_flight.release()
    return free


@pytest.mark.parametrize("behind", [False, True], ids=["nothing-behind", "events-behind"])
def test_a_batch_claims_its_alerts_and_hands_them_over_at_its_commit(
    services: Services, alerts: AlertsComponent, monkeypatch: pytest.MonkeyPatch, behind: bool
) -> None:
    # With events waiting behind it too: left to the claiming thread, its alerts took a
    # transaction more before the first request.
    pool, opened, cases = _opened_with_pool(services, alerts, monkeypatch)
    if not behind:
        _drop_queued_events(alerts)  # the events thread took them: nothing else waits
    assert alerts._inbox.empty() is not behind
    commits = _count_commits(services)
    alerts.handle_opened(opened)

    # One transaction wrote and claimed them: nothing for the claiming thread.
    assert commits[0] == 1
    assert alerts.sender.backlog == 0
    assert _statuses(services, cases) == {c: Counter({"sending": 2}) for c in cases}
    # Each case's first message goes to the sending threads before any case's second.
    handed = [args[1] for _, args in pool.handed]
    assert [m.case_id for m in handed[:CASES]] == cases
    assert [m.case_id for m in handed[CASES:]] == cases
    assert {m.channel for m in handed[:CASES]} == {"sms"}

    pool.run()
    assert _alerts(services) == dict.fromkeys(cases, ALERT)
    assert _slots_free(alerts.sender) == CLAIMED_AHEAD
    # Claimed once: a replay, the sweep and a drain send none of them again.
    alerts.handle_opened(opened)
    assert alerts.tick() == 0
    assert alerts.sender.drain() == 0
    assert pool.handed == []
    assert _alerts(services) == dict.fromkeys(cases, ALERT)


def test_a_batch_whose_commit_fails_after_its_claim_gives_the_slots_back_and_loses_no_alert(
    services: Services, alerts: AlertsComponent, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, opened, cases = _opened_with_pool(services, alerts, monkeypatch)
    _drop_queued_events(alerts)
    commit = SqlUnitOfWork.commit
    failed: list[bool] = []

    def fails_once(uow: SqlUnitOfWork) -> None:
        if not failed:
            failed.append(True)
            raise RuntimeError("the database went away")
        commit(uow)

    with monkeypatch.context() as m:
        m.setattr(SqlUnitOfWork, "commit", fails_once)
        alerts.handle_opened(opened)

    assert failed
    assert pool.handed == []  # nothing claimed by the batch went anywhere
    assert _slots_free(alerts.sender) == CLAIMED_AHEAD
    # Redone case by case (as ever after a failed batch): each alert written and queued once.
    monkeypatch.setattr(alerts.sender, "_pool", None)
    alerts.sender.drain()
    assert _alerts(services) == dict.fromkeys(cases, ALERT)


def _opened_with_pool(
    services: Services, alerts: AlertsComponent, monkeypatch: pytest.MonkeyPatch
) -> tuple[RecordingPool, list[DomainEvent], list[str]]:
    """`CASES` new emergencies, their CaseOpened events, and a pool recording what is sent."""
    pool = RecordingPool()
    monkeypatch.setattr(alerts.sender, "_pool", pool)
    opened: list[DomainEvent] = []
    services.bus.subscribe(CaseOpened, opened.append)
    return pool, opened, _open(services, CASES)


def _drop_queued_events(alerts: AlertsComponent) -> None:
    while not alerts._inbox.empty():
        alerts._inbox.get_nowait()
