"""Members: the buttons of the screen last shown (a label typed as text presses it), and what
the bot answered to the last question (shown to the organiser a question is relayed to).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Added columns only: SQLite adds them in place (no copy of the members table).
    op.add_column("members", sa.Column("shown", _JSON, nullable=True))
    op.add_column("members", sa.Column("last_answer", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("members", "last_answer")
    op.drop_column("members", "shown")
