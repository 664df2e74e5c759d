"""elders' access notes: how a responder gets in (key safe and its code, a neighbour's key)

Revision ID: 0015
Revises: 0016
Create Date: 2026-12-04 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("elder", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "access_notes",
                sqlmodel.sql.sqltypes.AutoString(length=1000),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("elder", schema=None) as batch_op:
        batch_op.drop_column("access_notes")
