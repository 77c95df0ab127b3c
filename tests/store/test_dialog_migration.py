"""Migration 0007 carries an answer being written to a relayed question over to the dialogs
table, so an organiser half-way through one when the bot is upgraded can finish it; and
dropping the old column loses nothing that hangs off a member."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text

from bot.store.database import Database, alembic_config


def upgrade_to(database: Database, revision: str) -> None:
    with database.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_an_open_relay_answer_becomes_a_dialog(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade_to(database, "0006")
    seen = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    with database.engine.begin() as connection:
        for external_id, dialog in (("o1", "relay:12"), ("o2", None), ("o3", "relay:junk")):
            connection.execute(
                text(
                    "INSERT INTO members (channel, external_id, language, role, subscription,"
                    " notify_scope, created_at, last_seen_at, dialog)"
                    " VALUES ('telegram', :id, 'ja', 'organiser', 'subscribed', 'all',"
                    " :seen, :seen, :dialog)"
                ),
                {"id": external_id, "seen": seen, "dialog": dialog},
            )
        connection.execute(
            text("INSERT INTO member_regions (member_id, region) SELECT id, 'toshima' FROM members")
        )

    database.upgrade()

    with database.unit_of_work() as uow:
        first = uow.members.get("telegram", "o1")
        others = [uow.members.get("telegram", name) for name in ("o2", "o3")]
        assert first is not None
        assert first.id is not None
        dialog = uow.dialogs.get(first.id)
        assert dialog is not None
        assert dialog.name == "relay_reply"
        assert dialog.data == {"relay_id": 12}
        assert dialog.expires_at > dialog.started_at
        assert first.regions == {"toshima"}, "dropping the column deleted nothing else"
        for other in others:
            assert other is not None
            assert other.id is not None
            assert uow.dialogs.get(other.id) is None
    database.dispose()
