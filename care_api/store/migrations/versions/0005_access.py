"""access: Mosquitto password hashes of device secrets, and the audit log of elder reads

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for terminals provisioned before: `vnh broker-config` names them; a rotation fills it.
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("broker_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("what", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("route", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_elder_at", ["elder_id", "at"], unique=False)
        batch_op.create_index("ix_audit_log_actor_at", ["actor", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_actor_at")
        batch_op.drop_index("ix_audit_log_elder_at")
    op.drop_table("audit_log")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_column("broker_hash")
