"""hotline: calls and texts to the centre's number, missed calls, terminal SIM numbers

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def _ts(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, care_api.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.add_column(sa.Column("sim_phone", _TEXT(length=32), nullable=True))
        batch.create_index(batch.f("ix_device_sim_phone"), ["sim_phone"])
    op.create_table(
        "hotline_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid", _TEXT(length=64), nullable=False),
        sa.Column("channel", _TEXT(length=8), nullable=False),
        sa.Column("phone", _TEXT(length=32), nullable=False),
        sa.Column("caller", _TEXT(length=16), nullable=False),
        sa.Column("actor", _TEXT(length=100), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=True),
        sa.Column("case_id", _TEXT(length=32), nullable=True),
        sa.Column("line", _TEXT(length=16), nullable=True),
        sa.Column("status", _TEXT(length=16), nullable=False),
        sa.Column("language", _TEXT(length=16), nullable=True),
        _ts("started_at", False),
        _ts("updated_at", False),
        sa.Column("dial_status", _TEXT(length=16), nullable=True),
        sa.Column("operators_rung", sa.Integer(), nullable=False),
        _ts("missed_at", True),
        _ts("callback_due_at", True),
        _ts("called_back_at", True),
        sa.Column("called_back_by", _TEXT(length=100), nullable=True),
        sa.Column("callback_note", _TEXT(length=500), nullable=False),
        _ts("overdue_at", True),
        sa.ForeignKeyConstraint(["elder_id"], ["elder.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sid"),
    )
    with op.batch_alter_table("hotline_call") as batch:
        batch.create_index("ix_hotline_call_status_due", ["status", "callback_due_at"])
        batch.create_index(batch.f("ix_hotline_call_elder_id"), ["elder_id"])
        batch.create_index(batch.f("ix_hotline_call_case_id"), ["case_id"])
        batch.create_index(batch.f("ix_hotline_call_started_at"), ["started_at"])
    op.create_table(
        "walk_in_caller",
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("phone", _TEXT(length=32), nullable=False),
        _ts("created_at", False),
        sa.ForeignKeyConstraint(["elder_id"], ["elder.id"]),
        sa.PrimaryKeyConstraint("elder_id"),
    )
    with op.batch_alter_table("walk_in_caller") as batch:
        batch.create_index(batch.f("ix_walk_in_caller_phone"), ["phone"])


def downgrade() -> None:
    op.drop_table("walk_in_caller")
    op.drop_table("hotline_call")
    with op.batch_alter_table("device") as batch:
        batch.drop_index(batch.f("ix_device_sim_phone"))
        batch.drop_column("sim_phone")
