"""Engine construction for SQLite (embedded default) and PostgreSQL, and schema upgrade."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event
from sqlmodel import create_engine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str) -> Engine:
    """Build the engine for `url`, tuned for many small transactions from several threads."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:  # noqa: ANN401
            cur = dbapi_conn.cursor()
            # WAL lets readers (API) run beside the writer (gateway); NORMAL loses no committed
            # row when the process is killed, only on power loss (ARCHITECTURE.md).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def alembic_config(url: str) -> Config:
    """An alembic configuration pointing at our migrations and `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def _heads() -> frozenset[str]:
    """The newest revisions of our migrations (read once: they do not change while we run)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def _is_current(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return frozenset(MigrationContext.configure(conn).get_current_heads()) == _heads()
    finally:
        engine.dispose()


def upgrade_schema(url: str) -> None:
    """Bring the database at `url` to the newest schema (idempotent)."""
    # A database already at head skips alembic's upgrade, which compiles every migration
    # file again on each call (a tenth of a second each time a service is built).
    if not _is_current(url):
        command.upgrade(alembic_config(url), "head")
    log.info("database schema is current at %s", _redact(url))


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
