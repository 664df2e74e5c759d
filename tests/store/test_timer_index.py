"""The due check and the next due time read the live timers' index, on SQLite and PostgreSQL.

A cancelled timer stays unfired for good; on (fired_at, due_at) alone every beat's "anything
due?" and `vnh simulate`'s "next due time" read all the cancelled ones, more every day.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Select, insert

from alerts.timers import _ANY_DUE
from care_api.domain.model import TimerPurpose
from care_api.services import Services
from care_api.store.tables import Timer
from tests.fakes import FakeClock
from vnh.simulate import NEXT_TIMER

CANCELLED = 5000
LIVE = 5


def _plan(services: Services, query: Select[tuple[object]]) -> str:
    with services.engine.connect() as conn:
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        return "\n".join(str(row) for row in conn.exec_driver_sql(explain + sql))


def test_due_check_and_next_due_skip_cancelled_timers_by_index(
    services: Services, clock: FakeClock
) -> None:
    now = clock.now()
    past, later = now - timedelta(hours=1), now + timedelta(hours=1)
    rows = [
        {
            "case_id": f"C{n}",
            "purpose": TimerPurpose.LADDER,
            "step": 1,
            "due_at": past if n < CANCELLED else later,
            "cancelled": n < CANCELLED,
            "created_at": past,
        }
        for n in range(CANCELLED + LIVE)
    ]
    with services.engine.begin() as conn:
        conn.execute(insert(Timer), rows)
        conn.exec_driver_sql("ANALYZE")  # the planner's statistics, on both databases
    due_check = _ANY_DUE.params(now=now)
    for query in (due_check, NEXT_TIMER):
        plan = _plan(services, query)
        assert "ix_timer_live_due" in plan, plan
    with services.engine.connect() as conn:
        assert conn.execute(due_check).first() is None  # only cancelled ones are due
        assert conn.execute(NEXT_TIMER).scalar() is not None
