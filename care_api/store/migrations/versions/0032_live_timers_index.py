"""live timers index: the timers not fired and not cancelled, by due time

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 04:00:00.000000

A cancelled timer keeps fired_at empty for good, and ix_timer_pending_due (fired_at,
due_at) left every "anything due?" and "next due time" (each beat, and before every step
of `vnh simulate`) to read all of them: in a simulated week those reads went from 0.1 ms
to 1 ms from the first day to the fifth, and a centre's beat would slow month after month.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timer_live_due", ["fired_at", "cancelled", "due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.drop_index("ix_timer_live_due")
