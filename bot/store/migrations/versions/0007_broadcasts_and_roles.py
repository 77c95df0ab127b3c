"""Broadcasts and rain calls: organisers kept in the database, dialogs with an expiry, what a
broadcast needs to be sent and reported, and an occurrence called off from the chat.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)
_A_DAY = timedelta(days=1)


def upgrade() -> None:
    op.create_table(
        "organisers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisers")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_organisers_channel_external_id")
        ),
    )
    op.create_table(
        "dialogs",
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=16), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_dialogs_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_dialogs")),
    )
    # An answer being written to a relayed question ("relay:<id>") becomes a dialog, open
    # for a day from the upgrade. Times as the models store them: UTC, naive on SQLite.
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, dialog FROM members WHERE dialog LIKE 'relay:%'")).all()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    dialogs = sa.table(
        "dialogs",
        sa.column("member_id", _ID),
        sa.column("name", sa.String),
        sa.column("token", sa.String),
        sa.column("data", _JSON),
        sa.column("started_at", _AT),
        sa.column("expires_at", _AT),
    )
    moved = [
        {
            "member_id": member_id,
            "name": "relay_reply",
            "token": "migrated",
            "data": {"relay_id": int(dialog.removeprefix("relay:"))},
            "started_at": now,
            "expires_at": now + _A_DAY,
        }
        for member_id, dialog in rows
        if dialog.removeprefix("relay:").isdigit()
    ]
    if moved:
        op.bulk_insert(dialogs, moved)
    # Not in batch mode: on SQLite that copies members to a new table and drops the old one,
    # and with foreign keys on, dropping it deletes every row that cascades from a member
    # (answers, regions, deliveries). SQLite 3.35+ drops a column in place.
    op.drop_column("members", "dialog")

    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("occurrence_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("parts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("cancelled_at", _AT, nullable=True))
        batch_op.add_column(sa.Column("finished_at", _AT, nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_broadcasts_occurrence_id_occurrences"),
            "occurrences",
            ["occurrence_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_broadcasts_status"), ["status"], unique=False)

    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("called_off_at", _AT, nullable=True))
        batch_op.add_column(sa.Column("called_off_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("called_off_by", sa.String(length=100), nullable=True))

    # Partial: reminders (no broadcast) are planned by the tens of thousands at once.
    op.create_index(
        "ix_deliveries_broadcast_id",
        "deliveries",
        ["broadcast_id"],
        postgresql_where=sa.text("broadcast_id IS NOT NULL"),
        sqlite_where=sa.text("broadcast_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_broadcast_id", table_name="deliveries")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_column("called_off_by")
        batch_op.drop_column("called_off_reason")
        batch_op.drop_column("called_off_at")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcasts_status"))
        batch_op.drop_constraint(
            batch_op.f("fk_broadcasts_occurrence_id_occurrences"), type_="foreignkey"
        )
        for column in (
            "channel",
            "finished_at",
            "cancelled_at",
            "parts",
            "occurrence_id",
            "urgent",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dialog", sa.String(length=64), nullable=True))
    op.drop_table("dialogs")
    op.drop_table("organisers")
