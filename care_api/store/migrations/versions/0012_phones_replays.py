"""phones in E.164, and Twilio webhooks received once

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 06:40:00.000000

Stored numbers are rewritten in E.164 ("+8613900000001"): answers are matched on the exact
number from now on, never on its last digits. A number typed without "+" is read in the
centre's region (VNH_PHONE_REGION, default CN). A stored number that is no valid number is
left as it was and logged: it can no longer identify anyone by SMS, so fix it by hand.
"""

import logging
import os
from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa
import sqlmodel
from alembic import op

import care_api.store.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

PHONE_TABLES = ("elder", "contact", "volunteer", "merchant", "shift")


def _e164(raw: str, region: str) -> str | None:
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def upgrade() -> None:
    region = os.environ.get("VNH_PHONE_REGION", "CN").strip().upper() or "CN"
    bind = op.get_bind()
    for table in PHONE_TABLES:
        rows = bind.execute(sa.text(f"SELECT id, phone FROM {table} WHERE phone <> ''")).all()  # noqa: S608
        for row_id, phone in rows:
            e164 = _e164(phone, region)
            if e164 is None:
                log.warning(
                    "%s %s: phone ...%s is no valid number; left as it is",
                    table,
                    row_id,
                    phone[-4:],
                )
            elif e164 != phone:
                bind.execute(
                    sa.text(f"UPDATE {table} SET phone = :phone WHERE id = :id"),  # noqa: S608
                    {"phone": e164, "id": row_id},
                )
    op.create_table(
        "webhook_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("received_at", care_api.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sid", "step", name="uq_webhook_receipt_sid_step"),
    )


def downgrade() -> None:
    # The E.164 spelling is a valid spelling for the code before: numbers stay as they are.
    op.drop_table("webhook_receipt")
