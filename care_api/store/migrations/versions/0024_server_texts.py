"""server texts: case titles, history lines and console messages kept as catalogue keys

Revision ID: 0024
Revises: 0019
Create Date: 2026-12-04 14:00:00.000000

Old rows keep their English text and a NULL key: the API shows them as they were written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("care_case", "summary_msg"), ("case_event", "why_msg"), ("notification", "body_msg"))


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.JSON(), nullable=True))


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
