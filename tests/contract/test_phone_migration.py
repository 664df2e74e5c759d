"""Migration 0012 over real databases: stored numbers become E.164, bad ones are left alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from care_api.store.db import alembic_config, make_engine
from tests.databases import empty_postgres_database

ROWS = [  # (table, id, phone as stored before, after)
    ("contact", 1, "139 0000 0001", "+8613900000001"),
    ("contact", 2, "008613900000002", "+8613900000002"),
    ("contact", 3, "+13900000001", "+13900000001"),  # no valid number: left, matches nobody
    ("volunteer", 1, "8613100000001", "+8613100000001"),
    ("merchant", 1, "+86 151-0000-0001", "+8615100000001"),
    ("shift", 1, "137 0000 0000", "+8613700000000"),
    ("elder", 1, "138 0000 0000", "+8613800000000"),
]
NOW = "2026-11-22 08:00:00+00:00"


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet: the migrations up to 0009 run here, not a template's."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with empty_postgres_database() as url:
            yield url


def test_migration_0012_rewrites_stored_phones_in_e164(empty_db_url: str) -> None:
    db_url = empty_db_url
    config = alembic_config(db_url)
    command.upgrade(config, "0009")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO elder (id, name, phone, address, medical_notes, created_at,"
                " district) VALUES (1, 'Wang', '138 0000 0000', '', '', :t, '')"
            ),
            {"t": NOW},
        )
        for table, row_id, phone, _ in ROWS:
            if table == "contact":
                conn.execute(
                    sa.text(
                        "INSERT INTO contact (id, elder_id, name, phone, relation, priority,"
                        " notify_only, drill_opt_in) VALUES (:id, 1, 'C', :p, '', 1,"
                        " false, false)"
                    ),
                    {"id": row_id, "p": phone},
                )
            elif table == "volunteer":
                conn.execute(
                    sa.text(
                        "INSERT INTO volunteer (id, name, phone, lat, lon, active, skills,"
                        " availability, created_at, drill_opt_in) VALUES (1, 'V', :p, 0, 0,"
                        " true, '[]', '{}', :t, false)"
                    ),
                    {"p": phone, "t": NOW},
                )
            elif table == "merchant":
                conn.execute(
                    sa.text(
                        "INSERT INTO merchant (id, name, phone, lat, lon, rating, categories,"
                        " status, created_at) VALUES (1, 'M', :p, 0, 0, 5, '[]', 'active',"
                        " :t)"
                    ),
                    {"p": phone, "t": NOW},
                )
            elif table == "shift":
                conn.execute(
                    sa.text(
                        "INSERT INTO shift (id, person, role, phone, start_at, end_at,"
                        " created_by, created_at) VALUES (1, 'S', 'supervisor', :p, :t, :t,"
                        " 'admin', :t)"
                    ),
                    {"p": phone, "t": NOW},
                )

    command.upgrade(config, "0012")

    with engine.connect() as conn:
        for table, row_id, _, after in ROWS:
            stored = conn.execute(
                sa.text(f"SELECT phone FROM {table} WHERE id = :id"),  # noqa: S608
                {"id": row_id},
            ).scalar_one()
            assert (table, row_id, stored) == (table, row_id, after)
    engine.dispose()
