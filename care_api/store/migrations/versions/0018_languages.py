"""languages: each person's language, and the SMS segments each message costs

Revision ID: 0018
Revises: 0009
Create Date: 2026-12-04 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PEOPLE = ("elder", "contact", "volunteer", "merchant")


def upgrade() -> None:
    for table in PEOPLE:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
            )
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("segments", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("language")
        batch.drop_column("segments")
    for table in PEOPLE:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("language")
