"""device position: the last position a terminal (a 4G watch) reported

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-05 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0019"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.add_column(
            sa.Column("position_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("position_lat", sa.Float(), nullable=True))
        batch.add_column(sa.Column("position_lon", sa.Float(), nullable=True))
        batch.add_column(sa.Column("position_fix", sa.Boolean(), nullable=True))
        batch.add_column(
            sa.Column("position_source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("device") as batch:
        for column in ("position_source", "position_fix", "position_lon", "position_lat"):
            batch.drop_column(column)
        batch.drop_column("position_at")
