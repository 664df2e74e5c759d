"""A message's idempotency key: written once, whoever writes it and whenever."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text
from sqlmodel import col, func, select

from alerts.ports import Channel
from alerts.sender import OutboxWriter
from care_api.services import Services
from care_api.store.arrays import is_postgres
from care_api.store.tables import Notification

KEY = "alert:C-20261205-0001:contact:1:0"


def _add(writer: OutboxWriter, body: str = "Help needed") -> int | None:
    return writer.add(
        case_id=None,
        channel=Channel.sms,
        to="+8613900000001",
        recipient="contact:1",
        body=body,
        key=KEY,
    )


def _rows(services: Services) -> list[tuple[int | None, str]]:
    with services.uow() as uow:
        found = uow.session.exec(
            select(Notification.id, Notification.body).where(Notification.idempotency_key == KEY)
        ).all()
        return [(row_id, body) for row_id, body in found]


def test_a_key_written_again_writes_nothing_and_sends_nothing(services: Services) -> None:
    with services.uow() as uow:
        writer = OutboxWriter(uow.session, services.clock.now())
        first = _add(writer)
        assert first is not None
        assert _add(writer, "again, same transaction") is None
        uow.commit()
    assert writer.to_send == [first]
    with services.uow() as uow:
        later = OutboxWriter(uow.session, services.clock.now())
        assert _add(later, "again, later") is None
        uow.commit()
    assert later.to_send == []
    assert _rows(services) == [(first, "Help needed")]


def test_two_transactions_writing_one_key_at_once_leave_one_row_and_no_error(
    services: Services,
) -> None:
    # The second writer waits for the first one's commit, then finds the key used: before,
    # each read the key unused and the second's row broke its whole transaction.
    written = threading.Event()
    with services.uow() as uow:
        writer = OutboxWriter(uow.session, services.clock.now())
        first = _add(writer)
        assert first is not None

        def second() -> int | None:
            with services.uow() as other:
                late = OutboxWriter(other.session, services.clock.now())
                written.set()
                row = _add(late, "the second writer's")
                other.commit()
                return row

        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(second)
            assert written.wait(10)
            if is_postgres(uow.session):
                # The case that broke: the second writer already waiting on the first's row.
                assert _someone_waits_for_a_lock(services)
            uow.commit()
            assert result.result(timeout=30) is None
    assert _rows(services) == [(first, "Help needed")]
    with services.uow() as uow:
        total = uow.session.exec(select(func.count()).select_from(Notification)).one()
        keys = uow.session.exec(
            select(func.count()).where(col(Notification.idempotency_key).is_not(None))
        ).one()
    assert (total, keys) == (1, 1)


def _someone_waits_for_a_lock(services: Services, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with services.engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                return True
        time.sleep(0.01)  # polling for the waiter to arrive, not for time to pass
    return False
