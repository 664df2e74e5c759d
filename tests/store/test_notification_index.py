"""The counts by send bound and status read through their index, on SQLite and PostgreSQL.

`/metrics` counts the messages the send bounds stopped: without an index on the status
that count read the whole outbox, every message ever sent.
"""

from __future__ import annotations

from sqlalchemy import insert

from care_api.services import Services
from care_api.store.tables import Notification
from care_api.usecases.cases.queries import BOUNDED_NOTIFICATIONS, count_bounded_notifications
from tests.fakes import FakeClock

MESSAGES = 5000
STOPPED_EVERY = 100  # one message in a hundred stopped by a bound, the rest sent


def test_counting_stopped_messages_by_bound_reads_the_status_index(
    services: Services, clock: FakeClock
) -> None:
    now = clock.now()
    rows = [
        {
            "channel": "sms",
            "to": f"+8613800{n:06d}",
            "body": "alert",
            "status": "suppressed" if n % STOPPED_EVERY == 0 else "sent",
            "bounded_by": "person" if n % STOPPED_EVERY == 0 else None,
            "created_at": now,
            "updated_at": now,
            "idempotency_key": f"bench:{n}",
        }
        for n in range(MESSAGES)
    ]
    with services.engine.begin() as conn:
        conn.execute(insert(Notification), rows)
        conn.exec_driver_sql("ANALYZE")  # the planner's statistics, on both databases
        sql = str(
            BOUNDED_NOTIFICATIONS.compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True}
            )
        )
        explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        plan = "\n".join(str(row) for row in conn.exec_driver_sql(explain + sql))
    assert "ix_notification_status_bounded_by" in plan, plan
    with services.uow() as uow:
        assert count_bounded_notifications(uow.session) == {"person": MESSAGES // STOPPED_EVERY}
