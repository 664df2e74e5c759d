"""lookup indexes: contacts by phone, notifications by recipient, unsent rows due

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-04 19:30:00.000000

Three lookups read whole tables and grew with them (issue 22's week of a district): an SMS
reply matched to a contact by its number, an answer's search of what its actors were sent,
and the sender's sweep of unsent rows due for a try (the console rows never get a provider
id, so the provider_id index alone left them all to read and sort).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index("ix_contact_phone", ["phone"], unique=False)
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_recipient", ["recipient"], unique=False)
        batch_op.create_index(
            "ix_notification_unsent_due", ["provider_id", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_unsent_due")
        batch_op.drop_index("ix_notification_recipient")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_phone")
