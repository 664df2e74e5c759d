"""ladder repeats: the last rung runs again until someone takes the case

Revision ID: 0011
Revises: 0013
Create Date: 2026-12-04 06:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ladder_config", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repeat", sa.Integer(), server_default="3", nullable=False))
        batch_op.add_column(
            sa.Column("repeat_every_s", sa.Integer(), server_default="300", nullable=False)
        )
    # A saved ladder of another kind keeps doing what it did: only emergencies repeat, as
    # the built-in ladders do.
    op.execute("UPDATE ladder_config SET repeat = 0 WHERE kind <> 'emergency'")


def downgrade() -> None:
    with op.batch_alter_table("ladder_config", schema=None) as batch_op:
        batch_op.drop_column("repeat_every_s")
        batch_op.drop_column("repeat")
