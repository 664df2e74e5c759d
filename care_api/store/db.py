"""Engine construction for SQLite (embedded default) and PostgreSQL, and schema upgrade."""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, exc, make_url
from sqlmodel import create_engine

from care_api.store.background import Background

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# With `checkpoint_apart`, how often `WalCheckpointer` looks at the WAL. SQLite's own
# checkpoint runs inside whichever commit takes the WAL past 1,000 pages: at 1,000
# presses/s a gateway worker's commit every quarter of a second, waiting on two fsyncs
# (5–350 ms each on a shared disk) while the presses behind it wait for their acks.
CHECKPOINT_EVERY_S = 1.0
# ... and the commits since the last checkpoint it waits for. Each checkpoint that catches
# up makes the next commit start the WAL over, syncing its header in that commit: checked
# every 0.1 s, a burst's first press waited on it. Gateway worker fsyncs in a 15 s run at
# 1,000 presses/s (strace): SQLite's own 40 (1,079 ms), every 0.1 s 32 (649 ms), every 1 s
# 4 (63 ms; fewer presses got through that run).
CHECKPOINT_AFTER_COMMITS = 100
# A passive checkpoint never catches up with a writer that commits while it runs, and only
# a caught-up WAL starts over from its beginning. Past this many pages (40 MB) one
# checkpoint holds the writers off (a few pages left to copy, two fsyncs), once in seconds
# instead of four times a second.
CHECKPOINT_RESTART_PAGES = 10_000
CHECKPOINT_JOIN_S = 5.0
# PostgreSQL: a pooled connection idle for longer than this is tried with a round trip
# before use, and replaced if the server dropped it meanwhile (a restart, an idle timeout).
# One used again sooner goes without: the gateway takes one for every press batch, and the
# ping was a twelfth of the batch's round trips. A server gone within this second fails
# that one statement: the gateway retries it, an API request fails once.
PING_AFTER_IDLE_S = 1.0


def make_engine(url: str, *, checkpoint_apart: bool = False) -> Engine:
    """Build the engine for `url`, tuned for many small transactions from several threads.

    With `checkpoint_apart`, SQLite commits never checkpoint the WAL: a `WalCheckpointer`
    on the engine must, or the WAL grows without end.
    """
    if url.startswith("sqlite"):
        # Last returned, first handed out: each connection keeps its own page cache, and
        # a write on another one empties it (WAL). Handed out in turn, a one-thread run
        # (`vnh simulate`) found its connection's cache emptied on nearly every checkout.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_use_lifo=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:  # noqa: ANN401
            cur = dbapi_conn.cursor()
            # WAL lets readers (API) run beside the writer (gateway); NORMAL loses no committed
            # row when the process is killed, only on power loss (ARCHITECTURE.md).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if checkpoint_apart:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pre-ping, for connections idle long enough to have been dropped."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_conn: object, record: Any) -> None:  # noqa: ANN401
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: object) -> None:  # noqa: ANN401
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_conn, None):
                # As pre-ping: every connection as old is suspect; the pool opens new ones.
                raise exc.InvalidatePoolError() from error
            raise


def has_wal(url: str) -> bool:
    """True for a SQLite database in a file (in WAL mode, whose checkpoints may be moved)."""
    if not url.startswith("sqlite"):
        return False
    database = make_url(url).database or ""
    return database not in ("", ":memory:") and not database.startswith("file::memory:")


class WalCheckpointer:
    """Checkpoints a SQLite engine's WAL from a thread of its own, every `every_s` when busy.

    A passive checkpoint takes no lock a writer needs: commits go on meanwhile, and the
    disk waits fall on this thread alone (the interpreter lock is let go during them).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        every_s: float = CHECKPOINT_EVERY_S,
        restart_pages: int = CHECKPOINT_RESTART_PAGES,
    ) -> None:
        self._engine = engine
        self._every_s = every_s
        self._restart_pages = restart_pages
        self._commits = 0  # since the last checkpoint; a lost count only delays one
        event.listen(engine, "commit", self._count_commit)
        self._thread = Background("vnh-checkpoint", self._run, join_s=CHECKPOINT_JOIN_S)

    def start(self) -> None:
        """Start the checkpointing thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last checkpoint."""
        self._thread.stop()

    def checkpoint(self) -> int:
        """Copy what the WAL holds back into the database, as far as readers allow.

        Returns the pages the WAL holds (0: it starts over at the next commit).
        """
        with self._engine.connect() as conn:
            _, pages, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            if pages < self._restart_pages:
                return int(pages)
            # Without waiting: a writer or reader in the way, the next round tries again.
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            try:
                busy, pages, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)").one()
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            return 0 if not busy else int(pages)

    def _count_commit(self, _conn: object) -> None:
        self._commits += 1

    def _run(self, stopping: threading.Event) -> None:
        while not stopping.wait(self._every_s):
            if self._commits >= CHECKPOINT_AFTER_COMMITS:
                self._commits = 0
                self._checkpoint_quietly()
        self._checkpoint_quietly()

    def _checkpoint_quietly(self) -> None:
        try:
            self.checkpoint()
        except Exception:
            # A locked or vanished file: the WAL only grows meanwhile; the next round retries.
            log.warning("WAL checkpoint failed; retrying", exc_info=True)


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
