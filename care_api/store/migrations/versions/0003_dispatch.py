"""dispatch: volunteers and their tasks, merchants and orders, callbacks, strikes, deadlines

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 22:53:14.298514
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_day",
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("updated_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "merchant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("red_until", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "volunteer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("availability", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "callback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("time_ok", sa.Boolean(), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("price_ok", sa.Boolean(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["care_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_deadline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("matter", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("limit_days", sa.Integer(), nullable=False),
        sa.Column("filed_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("extended_days", sa.Integer(), nullable=False),
        sa.Column("extension_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("extended_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("supervised_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["care_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )
    with op.batch_alter_table("case_deadline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_deadline_due_at"), ["due_at"], unique=False)

    op.create_table(
        "case_need",
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("need", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("skill", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("needs_medical", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["care_case.id"],
        ),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "service_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("strategy", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("contact_due_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("contacted_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("done_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["care_case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("service_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_order_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_service_order_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_service_order_status"), ["status"], unique=False)

    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("ring", sa.Integer(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("need", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("needs_medical", sa.Boolean(), nullable=False),
        sa.Column("offered_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["care_case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "volunteer_id", name="uq_task_offer"),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_volunteer_id"), ["volunteer_id"], unique=False)

    op.create_table(
        "merchant_strike",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("card", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("revoked_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("revoke_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callback.id"],
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["care_case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("merchant_strike", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_strike_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "order_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("assigned_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "contact_due_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ended_at", care_api.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["service_order.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_attempt_assigned_at"), ["assigned_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_order_attempt_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_order_attempt_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_attempt_order_id"))
        batch_op.drop_index(batch_op.f("ix_order_attempt_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_order_attempt_assigned_at"))

    op.drop_table("order_attempt")
    with op.batch_alter_table("merchant_strike", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_strike_merchant_id"))

    op.drop_table("merchant_strike")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_task_case_id"))

    op.drop_table("task")
    with op.batch_alter_table("service_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_order_status"))
        batch_op.drop_index(batch_op.f("ix_service_order_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_service_order_case_id"))

    op.drop_table("service_order")
    op.drop_table("case_need")
    with op.batch_alter_table("case_deadline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_deadline_due_at"))

    op.drop_table("case_deadline")
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_case_id"))

    op.drop_table("callback")
    op.drop_table("volunteer")
    op.drop_table("merchant")
    op.drop_table("calendar_day")
