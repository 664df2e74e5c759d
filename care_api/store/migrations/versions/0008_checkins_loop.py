"""checkins and the closed loop (issue 9): elders' districts, check-in windows, away days,
quiet-period watches

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-24 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("elder", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "district",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("elder", schema=None) as batch_op:
        batch_op.drop_column("district")
