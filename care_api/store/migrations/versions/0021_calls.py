"""calls: operators' bridged calls from a case, and the callbacks the service makes itself

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-04 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0021"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time() -> care_api.store.types.UtcDateTime:
    return care_api.store.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", _text(32), nullable=False),
        sa.Column("party", _text(32), nullable=False),
        sa.Column("party_name", _text(200), nullable=False),
        sa.Column("party_phone", _text(32), nullable=False),
        sa.Column("operator", _text(100), nullable=False),
        sa.Column("operator_phone", _text(32), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("call_sid", _text(64), nullable=True),
        sa.Column("party_outcome", _text(16), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("detail", _text(500), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("ended_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["care_case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_call", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_call_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_call_call_sid"), ["call_sid"], unique=False)
        batch_op.create_index("ix_case_call_state", ["state"], unique=False)
    op.create_table(
        "auto_callback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", _text(32), nullable=False),
        sa.Column("phone", _text(32), nullable=False),
        sa.Column("whom", _text(32), nullable=False),
        sa.Column("language", _text(16), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("call_sid", _text(64), nullable=True),
        sa.Column("question", _text(16), nullable=False),
        sa.Column("asked", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.Column("due_at", _time(), nullable=True),
        sa.Column("reason", _text(200), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["care_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )
    with op.batch_alter_table("auto_callback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auto_callback_call_sid"), ["call_sid"], unique=False)
        batch_op.create_index("ix_auto_callback_state_due", ["state", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_table("auto_callback")
    op.drop_table("case_call")
