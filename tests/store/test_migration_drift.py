"""The migrations and the table models describe the same schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import care_api.store.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from care_api.store.db import make_engine, upgrade_schema
from tests.databases import empty_postgres_database


def drift(url: str) -> list[object]:
    upgrade_schema(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))
    finally:
        engine.dispose()


def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    assert drift(f"sqlite:///{tmp_path / 'drift.db'}") == []


@pytest.mark.external_service
def test_migrations_match_models_on_postgres() -> None:
    with empty_postgres_database() as url:
        assert drift(url) == []
