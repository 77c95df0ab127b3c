"""Alembic migrations are the only way the schema is made, and they match the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot.store.database import Database, alembic_config
from bot.store.tables import Base


def test_migrated_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_database_is_at_the_newest_revision(database: Database) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert database.current_revision() == head


def test_upgrade_creates_every_table_on_an_empty_database(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'fresh' / 'bot.sqlite3'}")
    assert database.current_revision() is None
    database.upgrade()
    database.upgrade()  # a second run is a no-op
    tables = set(inspect(database.engine).get_table_names())
    database.dispose()
    assert set(Base.metadata.tables) <= tables


def test_migrations_form_one_line(tmp_path: Path) -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1
