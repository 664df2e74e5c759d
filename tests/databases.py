"""Databases of the suite's own: a temporary SQLite file, or a fresh PostgreSQL database.

Each is a copy of a template migrated once per test process (a copied SQLite file, a
PostgreSQL `CREATE DATABASE … TEMPLATE`), so a test starts on the newest schema without
paying for the migrations again; `upgrade_schema` on the copy finds nothing to do.
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


def _require_postgres() -> None:
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}; `make test` starts it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}")


def _sqlalchemy_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@functools.cache
def _postgres_template() -> str:
    """The name of this process's migrated PostgreSQL template, made on first use."""
    name = f"vnh_test_tmpl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
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
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _sqlalchemy_url(name)
    finally:
        _drop(name)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a database on the newest schema, yield its SQLAlchemy URL, drop it afterwards."""
    _require_postgres()
    template = _postgres_template()
    name = f"vnh_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _sqlalchemy_url(name)
    finally:
        _drop(name)


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A database URL of `kind` ("sqlite" or "postgres") that lives as long as the block."""
    if kind == "sqlite":
        yield migrated_sqlite_url(tmp_path / "vnh-test.db")
    else:
        with fresh_postgres_database() as url:
            yield url
