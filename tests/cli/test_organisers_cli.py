"""`campaign-bot organisers add | remove | list`, on both databases, at the fake clock's moment.

config.yaml lists Telegram user 7002 as an organiser (and the console's organiser_id, as
shipped); Telegram user 7001, whose display name is hostile, has written to the bot.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import terminal
from bot.app import build
from bot.commands.organisers import say
from bot.config import load_settings
from bot.domain.dialogs import Dialog
from bot.domain.members import Member, Role
from bot.store.database import Database
from bot.store.tables import AuditRow, OrganiserRow
from tests.cli.test_broadcast_cli import (  # noqa: F401 - the fixtures, shared
    JA,
    Run,
    config,
    run,
)
from tests.conftest import TOKYO
from tests.fakes.clock import FakeClock

# A name that would clear the screen, retitle the window and reverse the line if printed raw.
EVIL_NAME = "\x1b[2J\x1b]0;pwned\x07山田\u202eさん"
ACTIVE = ("\x1b", "\x07", "\u202e")


@pytest.fixture
def members(config: Path, clock: FakeClock) -> dict[str, int]:  # noqa: F811
    """7001 (an ordinary member so far) and 7002 (an organiser by the config), by id."""
    text = config.read_text("utf-8")
    assert "organisers:\n  console: []\n  telegram: []\n" in text
    config.write_text(
        text.replace(
            "organisers:\n  console: []\n  telegram: []\n",
            "organisers:\n  console: []\n  telegram: ['7002']\n",
        ),
        encoding="utf-8",
    )
    app = build(load_settings(config, env=dict(os.environ)), clock=clock)
    ids: dict[str, int] = {}
    try:
        now = clock.now()
        with app.database.unit_of_work() as uow:
            for external_id, name in (("7001", EVIL_NAME), ("7002", "佐藤")):
                member = Member(
                    "telegram", external_id, display_name=name, created_at=now, last_seen_at=now
                )
                stored, _ = uow.members.register(member)
                assert stored.id is not None
                ids[external_id] = stored.id
            uow.organisers.sync_roles(app.settings.campaign().organisers)
            uow.commit()
    finally:
        app.close()
    return ids


def role(database: Database, member_id: int) -> Role:
    with database.unit_of_work() as uow:
        member = uow.members.get_by_id(member_id)
        assert member is not None
        return member.role


def open_dialog(database: Database, member_id: int, clock: FakeClock) -> None:
    """A broadcast being composed, as the chat leaves it between two messages."""
    with database.unit_of_work() as uow:
        uow.dialogs.save(member_id, Dialog.start("broadcast", clock.now(), {"step": "text"}))
        uow.commit()


def dialog_of(database: Database, member_id: int) -> Dialog | None:
    with database.unit_of_work() as uow:
        return uow.dialogs.get(member_id)


def listed(database: Database) -> list[tuple[str, str, str, str]]:
    with database.session() as session:
        return [
            (row.channel, row.external_id, row.note, row.added_by)
            for row in session.scalars(select(OrganiserRow).order_by(OrganiserRow.id))
        ]


def audits(database: Database) -> list[tuple[str, str, dict[str, object]]]:
    with database.session() as session:
        return [
            (row.action, row.actor_label, dict(row.detail))
            for row in session.scalars(select(AuditRow).order_by(AuditRow.id))
        ]


def test_add_makes_someone_an_organiser_at_once(
    run: Run,  # noqa: F811
    members: dict[str, int],
    clock: FakeClock,
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert role(database, members["7001"]) is Role.MEMBER

    assert run("organisers", "add", "telegram", "7001", "--note", "板橋の世話人") == 0

    assert capsys.readouterr().out == (
        say(JA, "cli.organisers.added", channel="telegram", id="7001") + "\n"
    )
    assert listed(database) == [("telegram", "7001", "板橋の世話人", "cli")]
    with database.session() as session:
        (row,) = session.scalars(select(OrganiserRow))
        assert row.added_at == clock.now()
    assert role(database, members["7001"]) is Role.ORGANISER
    assert audits(database) == [
        (
            "organiser.added",
            "cli",
            {"channel": "telegram", "external_id": "7001", "note": "板橋の世話人", "by": "cli"},
        )
    ]

    # Asked again: they are one already; nothing more is stored or recorded.
    assert run("organisers", "add", "telegram", "7001") == 0
    assert capsys.readouterr().out == (
        say(JA, "cli.organisers.already", channel="telegram", id="7001") + "\n"
    )
    assert len(listed(database)) == 1
    assert len(audits(database)) == 1


def test_someone_who_has_not_written_yet_is_listed_and_told_so(
    run: Run,  # noqa: F811
    members: dict[str, int],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("organisers", "add", "line", "U" + "0" * 32) == 0
    out = capsys.readouterr().out
    assert say(JA, "cli.organisers.unknown_yet", channel="line", id="U" + "0" * 32) in out
    assert listed(database) == [("line", "U" + "0" * 32, "", "cli")]


def test_remove_takes_the_role_and_the_open_dialog_away(
    run: Run,  # noqa: F811
    members: dict[str, int],
    clock: FakeClock,
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("organisers", "add", "telegram", "7001") == 0
    open_dialog(database, members["7001"], clock)
    assert dialog_of(database, members["7001"]) is not None
    capsys.readouterr()

    assert run("organisers", "remove", "telegram", "7001") == 0

    assert capsys.readouterr().out == (
        say(JA, "cli.organisers.removed", channel="telegram", id="7001") + "\n"
    )
    assert listed(database) == []
    assert role(database, members["7001"]) is Role.MEMBER
    assert dialog_of(database, members["7001"]) is None, "a broadcast half composed is gone"
    assert audits(database)[-1] == (
        "organiser.removed",
        "cli",
        {"channel": "telegram", "external_id": "7001", "by": "cli"},
    )

    assert run("organisers", "remove", "telegram", "7001") == 1
    assert capsys.readouterr().err == (
        "campaign-bot: "
        + say(JA, "cli.organisers.not_listed", channel="telegram", id="7001")
        + "\n"
    )
    assert len(audits(database)) == 2


def test_someone_the_config_lists_stays_an_organiser(
    run: Run,  # noqa: F811
    members: dict[str, int],
    clock: FakeClock,
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert role(database, members["7002"]) is Role.ORGANISER
    assert run("organisers", "remove", "telegram", "7002") == 1
    assert capsys.readouterr().err == (
        "campaign-bot: "
        + say(JA, "cli.organisers.only_in_config", channel="telegram", id="7002")
        + "\n"
    )

    assert run("organisers", "add", "telegram", "7002") == 0
    open_dialog(database, members["7002"], clock)
    capsys.readouterr()
    assert run("organisers", "remove", "telegram", "7002") == 0
    assert capsys.readouterr().out == (
        say(JA, "cli.organisers.still_in_config", channel="telegram", id="7002") + "\n"
    )
    assert listed(database) == []
    assert role(database, members["7002"]) is Role.ORGANISER
    assert dialog_of(database, members["7002"]) is not None


def test_list_says_who_organises_and_on_whose_word(
    run: Run,  # noqa: F811
    members: dict[str, int],
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("organisers", "add", "telegram", "7001", "--note", "板橋\x1b[31m") == 0
    assert run("organisers", "add", "telegram", "7002") == 0
    capsys.readouterr()

    assert run("organisers", "list") == 0

    out = capsys.readouterr().out
    assert not any(character in out for character in ACTIVE), "names and notes are inert"
    config_word = say(JA, "cli.organisers.from_config")
    database_word = say(JA, "cli.organisers.from_database")
    rows = {tuple(line.split()[:3]) for line in out.splitlines()}
    assert rows == {
        ("telegram", "7001", database_word),
        ("telegram", "7002", f"{config_word}+{database_word}"),
        ("console", "console-organiser", config_word),
    }
    (line,) = [line for line in out.splitlines() if " 7001 " in line]
    assert terminal.field(EVIL_NAME) in line
    assert terminal.field("板橋\x1b[31m") in line
    assert JA.format_datetime(clock.now(), TOKYO) in line, "when it was added"


def test_a_wrong_channel_or_id_is_refused_and_nothing_is_stored(
    run: Run,  # noqa: F811
    members: dict[str, int],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        run("organisers", "add", "fax", "7001")
    assert exited.value.code == 2
    assert "invalid choice: 'fax'" in capsys.readouterr().err
    for forged in ("", " ", "a\nb", "\x1b[2J", "x" * 129):
        assert run("organisers", "add", "telegram", forged) == 1
        err = capsys.readouterr().err
        assert err.startswith("campaign-bot: ")
        assert err.count("\n") == 1
        assert "\x1b" not in err
    assert listed(database) == []
    assert audits(database) == []
