"""incidents: area incidents for alarm storms, their terminals, recent technical signals

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-04 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0022"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, care_api.store.types.UtcDateTime(timezone=True), nullable=nullable)


def _str(name: str, length: int, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("trouble", 16),
        _str("scope", 16),
        _str("area", 200),
        _str("open_key", 240, nullable=True),
        sa.Column("terminals", sa.Integer(), nullable=False),
        sa.Column("back", sa.Integer(), nullable=False),
        _ts("since"),
        _ts("last_signal_at"),
        _ts("opened_at"),
        _ts("closed_at", nullable=True),
        _str("close_reason", 200),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key"),
    )
    op.create_index("ix_incident_opened_at", "incident", ["opened_at"])
    op.create_table(
        "incident_terminal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        _str("device_id", 64),
        _str("trouble", 16),
        _ts("joined_at"),
        _ts("back_at", nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "device_id", name="uq_incident_terminal"),
    )
    op.create_index("ix_incident_terminal_incident_id", "incident_terminal", ["incident_id"])
    op.create_index("ix_incident_terminal_device_id", "incident_terminal", ["device_id"])
    op.create_table(
        "tech_signal",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("device_id", 64),
        _str("trouble", 16),
        _str("district", 64),
        _str("hub", 200),
        _ts("at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tech_signal_at", "tech_signal", ["at"])


def downgrade() -> None:
    op.drop_index("ix_tech_signal_at", table_name="tech_signal")
    op.drop_table("tech_signal")
    op.drop_index("ix_incident_terminal_device_id", table_name="incident_terminal")
    op.drop_index("ix_incident_terminal_incident_id", table_name="incident_terminal")
    op.drop_table("incident_terminal")
    op.drop_index("ix_incident_opened_at", table_name="incident")
    op.drop_table("incident")
