"""Upgrading a database that is in use keeps every row: answers, regions, deliveries.

On SQLite, Alembic changes a table by copying it and dropping the old one; with foreign keys
on, that drop deleted every answer when 0006 altered `occurrences`. Migrations now run with
the keys off on their connection and are checked before they commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bot.store.database import Database

NOW = datetime(2026, 11, 1, 1, 0, tzinfo=UTC).replace(tzinfo=None)  # as SQLite stores it


def count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_upgrading_from_the_reminders_release_keeps_every_answer(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'in-use.sqlite3'}")
    database.upgrade("0005")
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO members (id, channel, external_id, language, role, subscription,"
                " created_at, last_seen_at) VALUES (1, 'telegram', '1', 'ja', 'member',"
                " 'subscribed', :now, :now)"
            ),
            {"now": NOW},
        )
        connection.execute(text("INSERT INTO member_regions VALUES (1, 'toshima')"))
        connection.execute(
            text(
                "INSERT INTO events (id, slug, source, title, kind, description, rsvp_enabled,"
                " updated_at) VALUES (1, 'rally', 'tokyo.yaml', '集会', 'rally', '', 1, :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO occurrences (id, event_id, key, starts_at, status, revision,"
                " updated_at) VALUES (1, 1, 'k', :now, 'scheduled', 0, :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO rsvps (occurrence_id, member_id, status, guests, created_at,"
                " updated_at) VALUES (1, 1, 'going', 2, :now, :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO deliveries (purpose, reference, member_id, payload, lane,"
                " occurrence_id, state, due_at, attempts, created_at)"
                " VALUES ('event_change', 'occurrence:1:rev:1', 1, '{}', 1, 1, 'sent',"
                " :now, 1, :now)"
            ),
            {"now": NOW},
        )

    database.upgrade()

    assert [count(database, t) for t in ("rsvps", "member_regions", "deliveries")] == [1, 1, 1]
    with database.engine.connect() as connection:
        occurrence = connection.execute(text("SELECT occurrence_id FROM deliveries")).scalar_one()
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
    assert occurrence == 1, "not set to NULL by a copied occurrences table"
    assert foreign_keys == 1, "the keys are on again for the bot's own work"
    database.dispose()
