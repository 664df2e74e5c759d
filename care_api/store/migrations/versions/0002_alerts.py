"""alerts: notification retry columns and admin-editable escalation ladders

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ladder_config",
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("updated_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("say", sqlmodel.sql.sqltypes.AutoString(length=1600), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "next_attempt_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_notification_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index("ix_notification_provider_id", ["provider_id"], unique=False)
        batch_op.create_index("ix_notification_idempotency_key", ["idempotency_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_idempotency_key")
        batch_op.drop_index("ix_notification_provider_id")
        batch_op.drop_index(batch_op.f("ix_notification_next_attempt_at"))
        batch_op.drop_column("idempotency_key")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("say")
    op.drop_table("ladder_config")
