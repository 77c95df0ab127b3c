"""`campaign-bot members find | forget` and `campaign-bot db purge`, on both databases."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import build
from bot.commands import members
from bot.config import load_settings
from bot.domain.deliveries import message_payload
from bot.domain.members import Member
from bot.domain.messages import Outgoing
from bot.domain.ports import LoggedQuestion
from bot.domain.privacy import FORGOTTEN_CHANNEL
from bot.store.database import Database
from bot.store.tables import AuditRow, DeliveryRow, FaqQuestionRow, MemberRow
from tests.cli.test_broadcast_cli import (  # noqa: F401 - the fixtures, shared
    Run,
    config,
    run,
)
from tests.fakes.clock import FakeClock

NAME = "佐藤ハナ"


@pytest.fixture
def sato(config: Path, clock: FakeClock) -> int:  # noqa: F811
    """A member who asked to be deleted by phone, and another called 佐藤."""
    app = build(load_settings(config, env=dict(os.environ)), clock=clock)
    try:
        now = clock.now()
        with app.database.unit_of_work() as uow:
            ids = []
            for external_id, name in (("6001", NAME), ("6002", "佐藤次郎")):
                member = Member(
                    "telegram", external_id, display_name=name, created_at=now, last_seen_at=now
                )
                member.subscribe(now)
                stored, _ = uow.members.register(member)
                assert stored.id is not None
                ids.append(stored.id)
                uow.outbox.enqueue("broadcast", "b:1", stored, message_payload(Outgoing("x")), now)
            uow.commit()
        return ids[0]
    finally:
        app.close()


def test_find_shows_names_and_numbers_not_channel_ids(
    run: Run,  # noqa: F811
    sato: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("members", "find", "佐藤") == 0
    out = capsys.readouterr().out
    assert f"#{sato}" in out
    assert NAME in out
    assert "佐藤次郎" in out
    assert "6001" not in out, "channel ids are not shown"
    assert "6002" not in out


def test_forget_needs_a_confirmation(
    run: Run,  # noqa: F811
    sato: int,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("members", "forget", "佐藤") == 1, "two people match: nothing is deleted"
    assert "何人か" in capsys.readouterr().err
    assert run("members", "forget", f"#{sato}") == 1, "no --yes and no terminal to ask"
    assert "--yes" in capsys.readouterr().err
    database = Database(database_url)
    try:
        with database.session() as session:
            assert session.get(MemberRow, sato).display_name == NAME  # type: ignore[union-attr]
    finally:
        database.dispose()


def test_forget_deletes_and_is_audit_logged(
    run: Run,  # noqa: F811
    sato: int,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("members", "forget", "佐藤ハナ", "--yes") == 0
    assert "登録を削除しました" in capsys.readouterr().out
    database = Database(database_url)
    try:
        with database.session() as session:
            row = session.get(MemberRow, sato)
            assert row is not None
            assert row.channel == FORGOTTEN_CHANNEL
            assert row.display_name is None
            assert "6001" not in row.external_id
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(DeliveryRow)
                    .where(DeliveryRow.member_id == sato)
                )
                == 0
            )
            (entry,) = session.scalars(
                select(AuditRow).where(AuditRow.action == "member_forgotten")
            ).all()
            assert entry.detail["member"] == sato
            assert entry.detail["by"] == "organiser"
            assert NAME not in str(entry.detail)
            assert "6001" not in str(entry.detail)
    finally:
        database.dispose()
    assert run("members", "find", "佐藤") == 0
    assert NAME not in capsys.readouterr().out, "a deleted member is found no more"


def test_purge_deletes_what_is_older_than_the_retention(
    run: Run,  # noqa: F811
    config: Path,  # noqa: F811
    clock: FakeClock,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = build(load_settings(config, env=dict(os.environ)), clock=clock)
    now = clock.now()
    try:
        with app.database.unit_of_work() as uow:
            member = Member("telegram", "6100", created_at=now, last_seen_at=now)
            member.subscribe(now)
            stored, _ = uow.members.register(member)
            for age, text in ((181, "old"), (179, "recent")):
                uow.questions.record(
                    LoggedQuestion(
                        text, text, "unknown", None, None, "ja", now - timedelta(days=age)
                    )
                )
                uow.audit.record(None, "test", {"age": age}, now - timedelta(days=age * 4 + 10))
            for age in (91, 89):
                uow.outbox.enqueue("broadcast", f"b:{age}", stored, {}, now - timedelta(days=age))
            uow.outbox.enqueue("broadcast", "waiting", stored, {}, now - timedelta(days=400))
            uow.commit()
        with app.database.session() as session:
            session.execute(
                DeliveryRow.__table__.update()  # type: ignore[attr-defined]
                .where(DeliveryRow.reference.like("b:%"))
                .values(state="sent", sent_at=DeliveryRow.created_at)
            )
            session.commit()
    finally:
        app.close()

    assert run("db", "purge", "--dry-run") == 0
    assert "質問 1件、送信の記録 1件、操作の記録 1件" in capsys.readouterr().out
    assert run("db", "purge") == 0
    assert "削除しました: 質問 1件、送信の記録 1件、操作の記録 1件" in capsys.readouterr().out
    database = Database(database_url)
    try:
        with database.session() as session:
            assert session.scalars(select(FaqQuestionRow.text)).all() == ["recent"]
            assert sorted(session.scalars(select(DeliveryRow.reference))) == ["b:89", "waiting"], (
                "a waiting row is never purged, however old"
            )
            assert [d["age"] for d in session.scalars(select(AuditRow.detail))] == [179]
    finally:
        database.dispose()


class Typed(io.StringIO):
    """What the organiser types at a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("typed", "deleted"), [("n\n", False), ("\n", False), ("y\n", True)])
def test_forget_asks_at_a_terminal(
    config: Path,  # noqa: F811
    clock: FakeClock,
    sato: int,
    typed: str,
    deleted: bool,
) -> None:
    app = build(load_settings(config, env=dict(os.environ)), clock=clock)
    out = io.StringIO()
    try:
        done = members.forget(app, f"#{sato}", answer=Typed(typed), out=out)
        with app.database.session() as session:
            row = session.get(MemberRow, sato)
    finally:
        app.close()
    assert done is deleted
    assert "元に戻せません" in out.getvalue()
    assert row is not None
    assert (row.channel == FORGOTTEN_CHANNEL) is deleted
