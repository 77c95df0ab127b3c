"""Reminders: when an occurrence was published, per-event reminder rules, members' scope.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    # Occurrences stored before now were published long ago: no invitation goes out for them.
    op.execute("UPDATE occurrences SET published_at = updated_at")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.alter_column("published_at", nullable=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders", _JSON, nullable=True))
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notify_scope", sa.String(length=16), nullable=False, server_default="all")
        )


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("notify_scope")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("reminders")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_column("published_at")
