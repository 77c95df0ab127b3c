"""Webhook events already handled, so a platform's redelivery is not handled twice.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table only: nothing is copied, on SQLite either.
    op.create_table(
        "webhook_events",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "event_id", name=op.f("pk_webhook_events")),
    )
    op.create_index(
        op.f("ix_webhook_events_received_at"), "webhook_events", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_events_received_at"), table_name="webhook_events")
    op.drop_table("webhook_events")
