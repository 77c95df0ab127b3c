"""Members: which version of the welcome text (what the bot keeps) they answered.

Members stored before answered the text of before versions ("0"): they are asked again at
their next message, and get no notices until they answer, since the text they agreed to said
less than the bot keeps (issue 15).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE_VERSIONS = "0"
"""The welcome text members answered before it had a version (`PRIVACY_VERSION`)."""


def upgrade() -> None:
    # An added column only: SQLite adds it in place (no copy of the members table).
    op.add_column("members", sa.Column("consent_version", sa.String(length=32), nullable=True))
    members = sa.table("members", sa.column("subscription"), sa.column("consent_version"))
    op.execute(
        members.update()
        .where(members.c.subscription != "pending")
        .values(consent_version=BEFORE_VERSIONS)
    )


def downgrade() -> None:
    op.drop_column("members", "consent_version")
