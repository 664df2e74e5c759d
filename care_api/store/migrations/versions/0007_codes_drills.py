"""codes and drills: Contact ID codes of cases, info-only contacts

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-24 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for cases opened before: their code was never recorded.
    with op.batch_alter_table("care_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("contact_id", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True)
        )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notify_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("notify_only")
    with op.batch_alter_table("care_case", schema=None) as batch_op:
        batch_op.drop_column("contact_id")
