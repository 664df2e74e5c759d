"""Databases of the suite's own: a temporary SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

# The server may be the machine's; the database is always one this run creates and drops.
PG_ADMIN_DSN = os.environ.get("VNH_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database, yield its SQLAlchemy URL, drop it afterwards."""
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}; `make test` starts it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}")
    name = f"vnh_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A database URL of `kind` ("sqlite" or "postgres") that lives as long as the block."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'vnh-test.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url
