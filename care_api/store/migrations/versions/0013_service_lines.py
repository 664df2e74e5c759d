"""service lines: the centre's line (life care, medical, emergency, legal, care home) of a case

Revision ID: 0013
Revises: 0018
Create Date: 2026-12-04 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The line each kind had by default before lines existed (domain.lines.default_line).
# Consultations stay unclassified: nothing recorded whether they were legal or care-home.
_BACKFILL = sa.text(
    "UPDATE care_case SET line = CASE kind "
    "WHEN 'emergency' THEN 'emergency' "
    "WHEN 'service' THEN 'life_care' "
    "WHEN 'care' THEN 'life_care' END "
    "WHERE line IS NULL"
)


def upgrade() -> None:
    with op.batch_alter_table("care_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("line", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_care_case_line"), ["line"], unique=False)
    op.execute(_BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("care_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_case_line"))
        batch_op.drop_column("line")
