"""watches: the track of positions, health readings, safe zones

Revision ID: 0026
Revises: 0019
Create Date: 2026-12-04 14:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0026"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, care_api.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "position_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=True),
        _ts("at"),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("fix", sa.Boolean(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        _ts("received_at"),
        sa.ForeignKeyConstraint(["device_id"], ["device.device_id"]),
        sa.ForeignKeyConstraint(["elder_id"], ["elder.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_position_point_elder_at", "position_point", ["elder_id", "at"])
    op.create_table(
        "health_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("keyword", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("heart_rate", sa.Integer(), nullable=True),
        sa.Column("systolic", sa.Integer(), nullable=True),
        sa.Column("diastolic", sa.Integer(), nullable=True),
        sa.Column("temperature_c", sa.Float(), nullable=True),
        _ts("received_at"),
        sa.ForeignKeyConstraint(["device_id"], ["device.device_id"]),
        sa.ForeignKeyConstraint(["elder_id"], ["elder.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_health_reading_elder_at", "health_reading", ["elder_id", "received_at"])
    op.create_table(
        "safe_zone",
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("radius_m", sa.Integer(), nullable=False),
        _ts("outside_since", nullable=True),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["elder_id"], ["elder.id"]),
        sa.PrimaryKeyConstraint("elder_id"),
    )


def downgrade() -> None:
    op.drop_table("safe_zone")
    op.drop_index("ix_health_reading_elder_at", table_name="health_reading")
    op.drop_table("health_reading")
    op.drop_index("ix_position_point_elder_at", table_name="position_point")
    op.drop_table("position_point")
