"""Databases of the suite's own: a temporary SQLite file, or a fresh PostgreSQL database.

Each is a copy of a template migrated once per test process (a copied SQLite file, a
PostgreSQL `CREATE DATABASE … TEMPLATE`), so a test starts on the newest schema without
paying for the migrations again; `upgrade_schema` on the copy finds nothing to do.
The next PostgreSQL copy is made, and the last one dropped, by a helper thread while a test
runs: a test waits for neither.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from care_api.store.db import upgrade_schema

# The server may be the machine's; the database is always one this run creates and drops.
PG_ADMIN_DSN = os.environ.get("VNH_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


_reached = False  # once the server answered, each test need not ask again


def _require_postgres() -> None:
    global _reached
    if _reached:
        return
    _reached = postgres_available()
    if not _reached:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}; `make test` starts it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}")


def _sqlalchemy_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def _create(conn: psycopg.Connection[object], name: str, template: str | None = None) -> None:
    """CREATE DATABASE, set to commit without waiting for its WAL to reach the disk."""
    suffix = f' TEMPLATE "{template}"' if template else ""
    conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    # A test's database need not survive a crash of the server: a commit then costs 0.15 ms,
    # not 2.5 ms of waiting for the disk. Per database (a copy does not inherit it), and
    # only here: production's databases keep PostgreSQL's default.
    conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@functools.cache
def _postgres_template() -> str:
    """The name of this process's migrated PostgreSQL template, made on first use."""
    name = f"vnh_test_tmpl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        _create(conn, name)
    atexit.register(_drop, name)
    upgrade_schema(_sqlalchemy_url(name))
    return name


@functools.cache
def _sqlite_template() -> Path:
    """This process's migrated SQLite file, made on first use."""
    folder = Path(tempfile.mkdtemp(prefix="vnh-test-template-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "template.db"
    upgrade_schema(f"sqlite:///{path}")
    return path


def migrated_sqlite_url(path: Path) -> str:
    """A SQLite database at `path` holding the newest schema (a copy of the template)."""
    # The backup API copies a consistent image whatever WAL the template left behind.
    with sqlite3.connect(_sqlite_template()) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return f"sqlite:///{path}"


@contextmanager
def empty_postgres_database() -> Iterator[str]:
    """Create an empty database (no schema), yield its SQLAlchemy URL, drop it afterwards."""
    _require_postgres()
    name = f"vnh_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        _create(conn, name)
    try:
        yield _sqlalchemy_url(name)
    finally:
        _drop(name)


# One thread does every CREATE and DROP of copies, in order: copies of one template are
# never made at once, and a drop queued behind the next copy does not hold up a test.
_pg_helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vnh-test-pg")
_spare: list[Future[str]] = []  # the copy being made for the next test, if any


def _copy_of_template() -> str:
    name = f"vnh_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        _create(conn, name, _postgres_template())
    return name


def _drop_spare() -> None:
    # At exit the helper thread has finished its queue (threading joins it before atexit).
    for future in _spare:
        if future.exception() is None:
            _drop(future.result())


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a database on the newest schema, yield its SQLAlchemy URL, drop it afterwards."""
    _require_postgres()
    if not _spare:
        _postgres_template()  # made here, so a failed migration fails this test plainly
        atexit.register(_drop_spare)
        _spare.append(_pg_helper.submit(_copy_of_template))
    try:
        name = _spare[0].result()
    finally:  # a failed copy is not handed to every later test
        _spare[0] = _pg_helper.submit(_copy_of_template)
    try:
        yield _sqlalchemy_url(name)
    finally:
        _pg_helper.submit(_drop, name)


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A database URL of `kind` ("sqlite" or "postgres") that lives as long as the block."""
    if kind == "sqlite":
        yield migrated_sqlite_url(tmp_path / "vnh-test.db")
    else:
        with fresh_postgres_database() as url:
            yield url
