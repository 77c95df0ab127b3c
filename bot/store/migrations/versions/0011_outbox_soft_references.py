"""The outbox refers to what a message is about (an occurrence, a relayed question, an
announcement) without a foreign key; to whom it goes (the member) it still does.

A foreign key costs a trigger call for every row inserted: planning a fortnight's calendar
for ten thousand members queues tens of thousands of reminders in one statement, and the
three keys of what they are about took about half its time on PostgreSQL (issue 10). They
guarded nothing the bot does: occurrences, relays and announcements are never deleted (a
called-off occurrence stays, with its answers), and a message whose subject cannot be found
when it is due is skipped (`event gone`), as the foreign keys' ON DELETE SET NULL would
have made it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 00:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SOFT = (
    ("fk_deliveries_occurrence_id_occurrences", "occurrences", "occurrence_id"),
    ("fk_deliveries_relay_id_relays", "relays", "relay_id"),
    ("fk_deliveries_broadcast_id_broadcasts", "broadcasts", "broadcast_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for name, _, _ in _SOFT:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    deliveries = "deliveries"
    for _, table, column in _SOFT:
        # Rows whose subject is gone lose the reference, as ON DELETE SET NULL would have.
        op.execute(
            f"UPDATE {deliveries} SET {column} = NULL WHERE {column} IS NOT NULL "
            f"AND {column} NOT IN (SELECT id FROM {table})"
        )
    with op.batch_alter_table(deliveries, schema=None) as batch_op:
        for name, table, column in _SOFT:
            batch_op.create_foreign_key(name, table, [column], ["id"], ondelete="SET NULL")
