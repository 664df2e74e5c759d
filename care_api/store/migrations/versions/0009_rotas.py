"""rotas: operators' and supervisors' shifts, and merchants' opening hours

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("start_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("end_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shift", schema=None) as batch_op:
        batch_op.create_index("ix_shift_role_end", ["role", "end_at"], unique=False)
    # Null for merchants registered before: always open, as they were.
    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hours", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.drop_column("hours")
    with op.batch_alter_table("shift", schema=None) as batch_op:
        batch_op.drop_index("ix_shift_role_end")
    op.drop_table("shift")
