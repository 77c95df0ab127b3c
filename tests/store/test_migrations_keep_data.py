"""Upgrading a database that is in use keeps every row: answers, regions, deliveries.

On SQLite, Alembic changes a table by copying it and dropping the old one; with foreign keys
on, that drop deleted every answer when 0006 altered `occurrences`. Migrations now run with
the keys off on their connection and are checked before they commit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text

from bot.store.database import Database, alembic_config
from bot.store.dialect import check_foreign_keys, foreign_keys_off
from tests.conftest import BACKENDS, PG_URL_ENV
from tests.private_schema import private_schema

NOW = datetime(2026, 11, 1, 1, 0, tzinfo=UTC).replace(tzinfo=None)  # as SQLite stores it


def count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def insert_member(connection: Connection) -> None:
    """Member 1, in columns every revision since the first has."""
    connection.execute(
        text(
            "INSERT INTO members (id, channel, external_id, language, role, subscription,"
            " created_at, last_seen_at) VALUES (1, 'telegram', '1', 'ja', 'member',"
            " 'subscribed', :now, :now)"
        ),
        {"now": NOW},
    )


def test_upgrading_from_the_reminders_release_keeps_every_answer(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'in-use.sqlite3'}")
    database.upgrade("0005")
    with database.engine.begin() as connection:
        insert_member(connection)
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


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (the shared PostgreSQL schema must stay at the head)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    with private_schema(os.environ[PG_URL_ENV]) as url:
        yield url


def downgrade(database: Database, revision: str) -> None:
    """As `Database.upgrade` does it, the other way."""
    with (
        database.engine.connect() as connection,
        foreign_keys_off(connection),
        connection.begin(),
    ):
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        check_foreign_keys(connection)


def deliveries_keys(database: Database) -> set[str]:
    """The tables the outbox's foreign keys point to."""
    with database.engine.connect() as connection:
        keys = inspect(connection).get_foreign_keys("deliveries")
    return {key["referred_table"] for key in keys}


def test_the_outbox_keeps_a_foreign_key_to_its_members_only_and_can_go_back(
    fresh_url: str,
) -> None:
    database = Database(fresh_url)
    database.upgrade()
    assert deliveries_keys(database) == {"members"}, "what a message is about: no keys (0011)"
    with database.engine.begin() as connection:
        insert_member(connection)
        connection.execute(
            text(
                "INSERT INTO deliveries (purpose, reference, member_id, payload, lane,"
                " occurrence_id, state, due_at, attempts, created_at)"
                " VALUES ('reminder', 'day_before:41', 1, '{}', 3, 41, 'queued', :now, 0, :now)"
            ),
            {"now": NOW},
        )

    downgrade(database, "0010")

    assert deliveries_keys(database) == {"members", "occurrences", "relays", "broadcasts"}
    with database.engine.connect() as connection:
        occurrence = connection.execute(text("SELECT occurrence_id FROM deliveries")).scalar_one()
    assert occurrence is None, "a reference to nothing is emptied, as ON DELETE SET NULL did"
    assert count(database, "deliveries") == 1
    database.upgrade()
    assert deliveries_keys(database) == {"members"}
    database.dispose()
