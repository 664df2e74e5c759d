"""codes and drills: Contact ID codes of cases, info-only contacts, drill mode

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-24 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for cases opened before: their code was never recorded.
    with op.batch_alter_table("care_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("contact_id", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True)
        )
        batch_op.add_column(
            sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notify_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("drill_opt_in", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("drill_opt_in", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "drill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("district", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("started_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("started_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("drill", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drill_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_drill_district"), ["district"], unique=False)
        batch_op.create_index(batch_op.f("ix_drill_ended_at"), ["ended_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("drill", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drill_ended_at"))
        batch_op.drop_index(batch_op.f("ix_drill_district"))
        batch_op.drop_index(batch_op.f("ix_drill_device_id"))
    op.drop_table("drill")
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.drop_column("drill_opt_in")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("drill_opt_in")
        batch_op.drop_column("notify_only")
    with op.batch_alter_table("care_case", schema=None) as batch_op:
        batch_op.drop_column("drill")
        batch_op.drop_column("contact_id")
