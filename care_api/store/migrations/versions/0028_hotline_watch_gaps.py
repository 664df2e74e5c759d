"""hotline and watch gaps: operators' own phones, elders' watch flags, position retention

Revision ID: 0028
Revises: 0021
Create Date: 2026-12-04 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0028"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_phone",
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("updated_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor"),
    )
    with op.batch_alter_table("elder", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("wanders", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("taken_off_case", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("position_point", schema=None) as batch_op:
        batch_op.create_index("ix_position_point_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("position_point", schema=None) as batch_op:
        batch_op.drop_index("ix_position_point_received_at")
    with op.batch_alter_table("elder", schema=None) as batch_op:
        batch_op.drop_column("taken_off_case")
        batch_op.drop_column("wanders")
    op.drop_table("operator_phone")
