"""desk: outcome codes, case outcomes, scripted procedures, handover notes

Revision ID: 0025
Revises: 0019
Create Date: 2026-12-04 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0025"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, care_api.store.types.UtcDateTime(timezone=True), nullable=False)


def _text(name: str, length: int, **kw: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "outcome_code",
        _text("code", 32, nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("updated_by", 100, nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "case_outcome",
        _text("case_id", 32, nullable=False),
        _text("code", 32, nullable=False),
        _text("by", 100, nullable=False),
        _when("at"),
        sa.ForeignKeyConstraint(["case_id"], ["care_case.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(op.f("ix_case_outcome_code"), "case_outcome", ["code"], unique=False)
    op.create_table(
        "case_script",
        _text("kind", 16, nullable=False),
        _text("line", 16, nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        _text("updated_by", 100, nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("kind", "line"),
    )
    op.create_table(
        "handover_note",
        sa.Column("id", sa.Integer(), nullable=False),
        _when("at"),
        _text("by", 100, nullable=False),
        _text("text", 2000, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_handover_note_at"), "handover_note", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_handover_note_at"), table_name="handover_note")
    op.drop_table("handover_note")
    op.drop_table("case_script")
    op.drop_index(op.f("ix_case_outcome_code"), table_name="case_outcome")
    op.drop_table("case_outcome")
    op.drop_table("outcome_code")
