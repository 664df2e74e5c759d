"""PostgreSQL: a pooled connection is tried before use only after it sat idle.

Pinging on every checkout cost the gateway a round trip per press batch, a twelfth of
its round trips; a connection the server dropped while idle must still be replaced.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from care_api.store import db
from care_api.store.db import make_engine
from tests.databases import PG_ADMIN_DSN


@pytest.fixture
def pg_engine(db_url: str) -> Iterator[Engine]:
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's pool only")
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_a_connection_used_again_at_once_is_not_pinged(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    real_ping = pg_engine.dialect.do_ping

    def counted(dbapi_conn: object) -> bool:
        pings.append(dbapi_conn)
        return real_ping(dbapi_conn)

    monkeypatch.setattr(pg_engine.dialect, "do_ping", counted)
    first = _backend_pid(pg_engine)
    assert _backend_pid(pg_engine) == first  # the same pooled connection
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # now every reuse counts as idle
    assert _backend_pid(pg_engine) == first
    assert len(pings) == 1


def test_a_connection_dropped_while_idle_is_replaced(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    dropped = _backend_pid(pg_engine)
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))
    assert _backend_pid(pg_engine) != dropped  # no error: a new connection took its place
