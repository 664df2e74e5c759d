"""more server texts: a terminal's history, an incident's close, a callback handed back

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 04:00:00.000000

As 0024 did for case titles and history lines: these three were written in English only, and
a Chinese operator read them so. Old rows keep their English text and a NULL key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("device_history", "detail_msg"),
    ("incident", "close_reason_msg"),
    ("auto_callback", "reason_msg"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.JSON(), nullable=True))


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
