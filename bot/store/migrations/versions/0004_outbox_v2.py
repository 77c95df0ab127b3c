"""Outbox v2: lanes, what a delivery is about, change revisions, a shared rate budget.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Lanes of the purposes queued before this revision (bot/domain/deliveries.py).
_LANES = {"event_change": 1, "waitlist_promoted": 1, "relay_question": 1, "relay_answer": 1}


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sa.Integer(), nullable=False, server_default="3"))
        batch_op.add_column(sa.Column("occurrence_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("relay_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("broadcast_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("expect_rsvp", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_occurrence_id_occurrences"),
            "occurrences",
            ["occurrence_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_relay_id_relays"),
            "relays",
            ["relay_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_broadcast_id_broadcasts"),
            "broadcasts",
            ["broadcast_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_index("ix_deliveries_state_due_at")
        batch_op.create_index(
            "ix_deliveries_state_lane_due_at", ["state", "lane", "due_at"], unique=False
        )
        batch_op.create_index("ix_deliveries_member_id_state", ["member_id", "state"], unique=False)
    deliveries = sa.table("deliveries", sa.column("purpose", sa.String), sa.column("lane"))
    for purpose, lane in _LANES.items():
        op.execute(deliveries.update().where(deliveries.c.purpose == purpose).values(lane=lane))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("lane", server_default=None)

    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.alter_column("revision", server_default=None)

    op.create_table(
        "rate_budgets",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_rate_budgets")),
    )


def downgrade() -> None:
    op.drop_table("rate_budgets")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_column("revision")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_member_id_state")
        batch_op.drop_index("ix_deliveries_state_lane_due_at")
        batch_op.create_index("ix_deliveries_state_due_at", ["state", "due_at"], unique=False)
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_broadcast_id_broadcasts"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_deliveries_relay_id_relays"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_occurrence_id_occurrences"), type_="foreignkey"
        )
        batch_op.drop_column("expect_rsvp")
        batch_op.drop_column("broadcast_id")
        batch_op.drop_column("relay_id")
        batch_op.drop_column("occurrence_id")
        batch_op.drop_column("lane")
