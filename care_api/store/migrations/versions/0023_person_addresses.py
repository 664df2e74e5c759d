"""person addresses: WeChat openids, preferred channels, one-time WeChat bind codes

Revision ID: 0023
Revises: 0019
Create Date: 2026-12-04 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0023"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    ts = care_api.store.types.UtcDateTime
    op.create_table(
        "person_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", _s(100), nullable=False),
        sa.Column("kind", _s(20), nullable=False),
        sa.Column("address", _s(128), nullable=False),
        sa.Column("bound_at", ts(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("actor", "kind", name="uq_person_address_actor_kind"),
    )
    op.create_index("ix_person_address_kind_address", "person_address", ["kind", "address"])
    op.create_table(
        "person_preference",
        sa.Column("actor", _s(100), nullable=False),
        sa.Column("channel", _s(20), nullable=False),
        sa.Column("updated_at", ts(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor"),
    )
    op.create_table(
        "wechat_bind_code",
        sa.Column("code_hash", _s(64), nullable=False),
        sa.Column("actor", _s(100), nullable=False),
        sa.Column("created_at", ts(timezone=True), nullable=False),
        sa.Column("expires_at", ts(timezone=True), nullable=False),
        sa.Column("used_at", ts(timezone=True), nullable=True),
        sa.Column("used_by", _s(128), nullable=True),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_index("ix_wechat_bind_code_actor", "wechat_bind_code", ["actor"])


def downgrade() -> None:
    op.drop_index("ix_wechat_bind_code_actor", table_name="wechat_bind_code")
    op.drop_table("wechat_bind_code")
    op.drop_table("person_preference")
    op.drop_index("ix_person_address_kind_address", table_name="person_address")
    op.drop_table("person_address")
