"""checkins and the closed loop: elders' districts, check-in windows, away days,
quiet-period watches

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("elder", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "district",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )
    op.create_table(
        "checkin_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("start", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("end", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("holidays_off", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("kept_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("missed_case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elder.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_checkin_window_elder_id", "checkin_window", ["elder_id"], unique=False)
    op.create_table(
        "elder_away",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elder.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("elder_id", "day", name="uq_elder_away_day"),
    )
    op.create_index("ix_elder_away_elder_id", "elder_away", ["elder_id"], unique=False)
    op.create_table(
        "quiet_watch",
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("quiet_s", sa.Integer(), nullable=False),
        sa.Column("grace_s", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "last_activity_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("prompted_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("updated_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elder.id"]),
        sa.PrimaryKeyConstraint("elder_id"),
    )


def downgrade() -> None:
    op.drop_table("quiet_watch")
    op.drop_index("ix_elder_away_elder_id", table_name="elder_away")
    op.drop_table("elder_away")
    op.drop_index("ix_checkin_window_elder_id", table_name="checkin_window")
    op.drop_table("checkin_window")
    with op.batch_alter_table("elder", schema=None) as batch_op:
        batch_op.drop_column("district")
