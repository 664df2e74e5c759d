"""On SQLite, commits never checkpoint the WAL: a thread of the service's own does.

SQLite's own checkpoint ran inside the commit that took the WAL past 1,000 pages, so a
gateway worker waited on two fsyncs now and then while presses queued behind it.
"""

from __future__ import annotations

from sqlalchemy import Engine, insert

from care_api.services import Services, build_services
from care_api.store.db import WalCheckpointer, make_engine
from care_api.store.tables import Notification
from tests.conftest import make_settings
from tests.fakes import FakeClock

ROWS = 3000  # well past SQLite's own 1,000-page checkpoint threshold, with the bodies below
BODY = "x" * 1000


def _write_rows(engine: Engine, clock: FakeClock, first: int) -> None:
    now = clock.now()
    for start in range(first, first + ROWS, 100):
        rows = [
            {
                "channel": "sms",
                "to": f"+8613800{n:06d}",
                "body": BODY,
                "status": "sent",
                "created_at": now,
                "updated_at": now,
                "idempotency_key": f"wal:{n}",
            }
            for n in range(start, start + 100)
        ]
        with engine.begin() as conn:
            conn.execute(insert(Notification), rows)


def _wal_pages(engine: Engine) -> int:
    """Pages written to the WAL since it last started over (a passive checkpoint tells)."""
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1])


def test_the_service_commits_leave_the_wal_to_its_checkpointer(
    sqlite_url: str, clock: FakeClock
) -> None:
    services = build_services(make_settings(sqlite_url), clock=clock)
    try:
        assert services.checkpointer is not None
        services.checkpointer.stop()  # the test checkpoints by hand from here on
        with services.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        _write_rows(services.engine, clock, 0)
        # No commit copied the WAL back and started it over: it holds every page written.
        assert _wal_pages(services.engine) > 1000
    finally:
        services.close()


def test_a_wal_past_its_limit_starts_over_after_a_checkpoint(
    sqlite_url: str, clock: FakeClock
) -> None:
    engine = make_engine(sqlite_url, checkpoint_apart=True)
    checkpointer = WalCheckpointer(engine, restart_pages=1000)
    try:
        _write_rows(engine, clock, 0)
        first = _wal_pages(engine)
        assert checkpointer.checkpoint() == 0
        _write_rows(engine, clock, ROWS)
        assert _wal_pages(engine) < first * 3 // 2  # it started at its beginning again
        with engine.connect() as conn:  # and nothing written was lost on the way
            count = conn.exec_driver_sql("SELECT count(*) FROM notification").scalar()
        assert count == 2 * ROWS
    finally:
        engine.dispose()


def test_postgres_services_need_no_checkpointer(services: Services) -> None:
    is_sqlite = services.settings.database_url.startswith("sqlite")
    assert (services.checkpointer is not None) == is_sqlite
