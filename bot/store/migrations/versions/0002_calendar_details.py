"""Calendar details: the organising body of an event, and a map link per occurrence.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 01:56:29.245498
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organiser", sa.String(length=100), nullable=True))

    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("venue_map_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_column("venue_map_url")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("organiser")
