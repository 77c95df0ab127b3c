"""Hole 6: the database at start-up: `check` connects, and a failure is one line, masked.

The table of broken set-ups is in test_broken_configs.py; these are the working databases
(both kinds) and the pieces that make the messages.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.cli import main
from bot.store.database import Database, DatabaseProblem, explain
from tests.conftest import EXAMPLE_CONFIG


def test_check_connects_to_the_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["check", "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    backend = make_url(database_url).get_backend_name()
    assert f"database: OK ({backend}" in out


def test_ping_and_upgrade_work_on_both_databases(database: Database) -> None:
    database.ping()
    database.upgrade()  # already at the newest version: nothing to do, under the lock


def test_the_password_is_masked_even_where_the_driver_repeats_it() -> None:
    url = make_url("postgresql+psycopg://bot:hunter2@db.example:5433/campaign")
    error = OperationalError("SELECT 1", {}, Exception('connection to "hunter2" went wrong'))
    message = explain(url, error)
    assert "hunter2" not in message
    assert message.startswith("cannot use postgresql+psycopg://bot:***@db.example:5433/campaign")


def test_a_url_the_bot_cannot_use_is_refused_before_connecting() -> None:
    with pytest.raises(DatabaseProblem, match="unsupported database"):
        Database("oracle://scott:tiger@db/orcl")
