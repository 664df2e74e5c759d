"""fleet: heartbeat intervals and device problem flags, commands, device history, models

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_model",
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("heartbeat_s", sa.Integer(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("updated_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model"),
    )
    op.create_table(
        "device_command",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("cmd", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("round_trip_ms", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.device_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_command", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_command_device_created", ["device_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_device_command_status"), ["status"], unique=False)

    op.create_table(
        "device_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.device_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_history_device_id"), ["device_id"], unique=False
        )

    # Server defaults fill the rows that exist already: PROTOCOL.md's 300 s, no problems.
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("heartbeat_s", sa.Integer(), nullable=False, server_default="300")
        )
        batch_op.add_column(
            sa.Column("offline_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "outage_since", care_api.store.types.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("battery_low", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("power_lost", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_device_watch", ["heartbeat_s", "last_seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index("ix_device_watch")
        batch_op.drop_column("power_lost")
        batch_op.drop_column("battery_low")
        batch_op.drop_column("outage_since")
        batch_op.drop_column("offline_at")
        batch_op.drop_column("heartbeat_s")
        batch_op.drop_column("model")

    with op.batch_alter_table("device_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_history_device_id"))

    op.drop_table("device_history")
    with op.batch_alter_table("device_command", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_command_status"))
        batch_op.drop_index("ix_device_command_device_created")

    op.drop_table("device_command")
    op.drop_table("device_model")
