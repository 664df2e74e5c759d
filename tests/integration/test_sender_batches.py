"""Emergencies' alerts queued together are claimed in one transaction: still one message each."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import col, select

from alerts.bounds import Decision, Outgoing, SendLimits
from alerts.ports import Channel, DeliveryReceipt, OutboundMessage
from alerts.sender import NotificationSender, OutboxWriter
from care_api.services import Services
from care_api.store.tables import Case, Notification
from care_api.store.uow import SqlUnitOfWork

ROWS = 6
WAIT_S = 20.0


class CountingNotifier:
    """Counts the messages it is handed, by row, from any sending thread."""

    def __init__(self) -> None:
        self.sent: Counter[int] = Counter()
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        with self._lock:
            self.sent[message.notification_id] += 1
        return DeliveryReceipt("sent", provider_id=f"SM{message.notification_id}")


def _write_rows(services: Services) -> list[int]:
    with services.uow() as uow:
        writer = OutboxWriter(uow.session, services.clock.now())
        for i in range(ROWS):
            writer.add(
                case_id=None,
                channel=Channel.sms,
                to=f"+861390000{i:04d}",
                recipient=f"contact:{i}",
                body="Help needed",
                key=f"batch-test:{i}",
            )
        uow.commit()
    return writer.to_send


def _recorded(services: Services) -> dict[int, str | None]:
    with services.uow() as uow:
        rows = uow.session.exec(
            select(Notification.id, Notification.provider_id).where(
                col(Notification.idempotency_key).startswith("batch-test:")
            )
        ).all()
    return {i: p for i, p in rows if i is not None}


def _run_until(sender: NotificationSender, done: Callable[[], bool]) -> None:
    sender.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not done() and time.monotonic() < deadline:
            time.sleep(0.02)  # polling what the sender's threads did
    finally:
        sender.stop()


def _run_until_sent(sender: NotificationSender, notifier: CountingNotifier, n: int) -> None:
    _run_until(sender, lambda: len(notifier.sent) >= n)


def test_alerts_claimed_together_go_out_once_each(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = CountingNotifier()
    sender = NotificationSender(services, {Channel.sms: notifier})
    batches: list[int] = []
    claim_batch = sender._claim_batch

    def spy(ids: list[int]) -> list[tuple[int, OutboundMessage, int]]:
        found = claim_batch(ids)
        batches.append(len(ids))  # after the claim: its transaction is over
        return found

    monkeypatch.setattr(sender, "_claim_batch", spy)
    ids = _write_rows(services)
    with sender.urgent():  # queued before the sender starts: its first claim finds them all
        sender.enqueue(ids)
        sender.enqueue(ids)  # a row already waiting is not queued twice
    _run_until_sent(sender, notifier, ROWS)
    # Queued again after they went (a retry sweep's race): claimed never twice.
    with sender.urgent():
        sender.enqueue(ids)
    # Until the sender claimed them all again (the claim finds them sent): then stopped.
    _run_until(sender, lambda: sum(batches) >= 2 * ROWS)
    assert sum(batches) == 2 * ROWS

    assert max(batches) > 1  # claimed together, the case under test
    assert notifier.sent == Counter(dict.fromkeys(ids, 1))
    assert _recorded(services) == {i: f"SM{i}" for i in ids}


@pytest.mark.allow_logged_errors  # the bad row's failures are logged, as they should be
def test_a_row_that_fails_its_claim_keeps_no_other_from_going(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = CountingNotifier()
    sender = NotificationSender(services, {Channel.sms: notifier})
    ids = _write_rows(services)
    bad = ids[2]
    check = sender.bounds.check

    def failing_check(
        uow: SqlUnitOfWork,
        row: Notification,
        case: Case | None,
        outgoing: Outgoing,
        now: datetime,
        **counts: Any,
    ) -> Decision:
        if row.id == bad:
            raise RuntimeError("a bad row")
        return check(uow, row, case, outgoing, now, **counts)

    monkeypatch.setattr(sender.bounds, "check", failing_check)
    with sender.urgent():
        sender.enqueue(ids)
    _run_until_sent(sender, notifier, ROWS - 1)

    good = [i for i in ids if i != bad]
    assert notifier.sent == Counter(dict.fromkeys(good, 1))
    recorded = _recorded(services)
    assert {i: recorded[i] for i in good} == {i: f"SM{i}" for i in good}
    # Not lost: its claim was rolled back, so the retry sweep finds it pending.
    assert recorded[bad] is None
    with services.uow() as uow:
        row = uow.session.get(Notification, bad)
        assert row is not None and row.status == "pending" and row.attempts == 0


class KeyNotifier(CountingNotifier):
    """Also keeps each row's idempotency key as the sender handed it over."""

    def __init__(self, fail: int | None = None) -> None:
        super().__init__()
        self.keys: dict[int, str | None] = {}
        self._fail = fail

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if message.notification_id == self._fail:
            raise RuntimeError("the provider's client broke")
        self.keys[message.notification_id] = message.key
        return super().send(message)


def test_drain_claims_what_waits_in_one_go_and_hands_over_each_key(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = KeyNotifier()
    sender = NotificationSender(services, {Channel.sms: notifier})
    batches: list[int] = []
    claim_batch = sender._claim_batch

    def spy(ids: list[int]) -> list[tuple[int, OutboundMessage, int]]:
        batches.append(len(ids))
        return claim_batch(ids)

    monkeypatch.setattr(sender, "_claim_batch", spy)
    ids = _write_rows(services)
    sender.enqueue(ids)

    assert sender.drain() == ROWS
    assert batches == [ROWS]  # one claim for all that waited, not one per row
    assert notifier.sent == Counter(dict.fromkeys(ids, 1))
    assert notifier.keys == {row: f"batch-test:{n}" for n, row in enumerate(ids)}
    assert _recorded(services) == {i: f"SM{i}" for i in ids}
    assert sender.drain() == 0


@pytest.mark.allow_logged_errors  # the broken send is logged, as it should be
def test_drain_records_the_sent_rows_of_a_batch_whose_send_broke(services: Services) -> None:
    ids = _write_rows(services)
    bad = ids[2]
    notifier = KeyNotifier(fail=bad)
    sender = NotificationSender(services, {Channel.sms: notifier})
    sender.enqueue(ids)

    sender.drain()

    good = [i for i in ids if i != bad]
    recorded = _recorded(services)
    assert {i: recorded[i] for i in good} == {i: f"SM{i}" for i in good}
    with services.uow() as uow:
        row = uow.session.get(Notification, bad)
        # Not lost: failed, with a retry due, like any send that raised.
        assert row is not None and row.status == "failed" and row.next_attempt_at is not None


def test_receipts_of_messages_sent_meanwhile_are_recorded_together_and_none_lost(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = CountingNotifier()
    sender = NotificationSender(services, {Channel.sms: notifier})
    ids = _write_rows(services)
    written: list[int] = []
    write = sender._write_receipts

    def slow_first_write(receipts: list[tuple[int, DeliveryReceipt, datetime]]) -> None:
        if not written:
            # The first receipt's transaction lasts until every other message went out.
            deadline = time.monotonic() + WAIT_S
            while len(notifier.sent) < ROWS and time.monotonic() < deadline:
                time.sleep(0.01)  # polling the other sending threads
        written.append(len(receipts))
        write(receipts)

    monkeypatch.setattr(sender, "_write_receipts", slow_first_write)
    with sender.urgent():
        sender.enqueue(ids)
    _run_until_sent(sender, notifier, ROWS)  # stopping waits for the sending threads

    assert _recorded(services) == {i: f"SM{i}" for i in ids}
    assert sum(written) == ROWS
    assert len(written) < ROWS  # receipts that came in meanwhile shared a transaction


def _bounded_rows(services: Services, run: str) -> list[int]:
    """Eight messages, four each to two numbers, alternating; not an emergency's."""
    with services.uow() as uow:
        writer = OutboxWriter(uow.session, services.clock.now())
        for i in range(8):
            writer.add(
                case_id=None,
                channel=Channel.sms,
                to=f"+8613900000{i % 2:03d}",
                recipient=f"contact:{i % 2}",
                body="Your order is confirmed",
                key=f"bounded-{run}:{i}",
            )
        uow.commit()
    return writer.to_send


def _statuses(services: Services, ids: list[int]) -> list[tuple[str, str | None]]:
    with services.uow() as uow:
        rows = {r.id: r for r in uow.session.exec(select(Notification)).all()}
    return [(rows[i].status, rows[i].bounded_by) for i in ids]


def test_rows_claimed_together_are_bounded_as_one_by_one(services: Services) -> None:
    # Three to a person an hour, five a minute in all: the batch's counts are read once, and
    # must still see the rows judged before each one, as a query per row did.
    limits = SendLimits(per_person_per_hour=3, overall_per_minute=5)
    sender = NotificationSender(services, {Channel.sms: CountingNotifier()}, limits=limits)
    together = _bounded_rows(services, "together")
    sender.enqueue(together)
    assert sender.drain() == len(together)  # one claim for all eight
    services.clock.advance(hours=2)  # out of every window: the next run starts from nothing
    alone = _bounded_rows(services, "alone")
    for notification_id in alone:
        sender.deliver(notification_id)
    expected = _statuses(services, alone)
    assert _statuses(services, together) == expected
    # Both bounds bit: five went, the sixth waits for the minute, the second person's fourth
    # is over their hour, and the last waits again.
    sent, wait, over = ("sent", None), ("pending", None), ("suppressed", "per_person")
    assert expected == [sent] * 5 + [wait, over, wait]
