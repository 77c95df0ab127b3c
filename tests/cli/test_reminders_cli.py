"""`campaign-bot reminders plan [--dry-run]`: what reminders go to whom and when, on both
databases, with a schedule whose event is three days from now."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import build
from bot.cli import main
from bot.config import load_settings
from bot.domain.events import Rsvp, RsvpStatus
from bot.domain.members import Member
from bot.store.database import Database
from bot.store.tables import DeliveryRow
from tests.conftest import EXAMPLE_CONFIG, ROOT, TOKYO

FORGED_NAME = "山田\x1b]0;pwned\x07"


@pytest.fixture
def config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The bot holds a week of reminders in the outbox, so that all of the event's are there.
    example = EXAMPLE_CONFIG.read_text("utf-8")
    assert "  plan_ahead: 2d\n" in example
    (tmp_path / "config.yaml").write_text(
        example.replace("  plan_ahead: 2d\n", "  plan_ahead: 7d\n"), encoding="utf-8"
    )
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    day = (datetime.now(TOKYO) + timedelta(days=3)).date()
    (schedules / "itabashi.yaml").write_text(
        f"""\
organiser: 板橋社保協
regions: [itabashi]
events:
  - id: itabashi-study
    title: マイナ保険証 学習会
    kind: study
    date: {day.isoformat()}
    start: "14:00"
    venue: 板橋区立グリーンホール
""",
        encoding="utf-8",
    )
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("CAMPAIGN_BOT_CONFIG", raising=False)
    return tmp_path / "config.yaml"


@pytest.fixture
def going(config: Path) -> None:
    """A member of 板橋区 who answered 参加 to the study meeting."""
    app = build(load_settings(config, env=dict(os.environ)))
    try:
        app.schedules.reload()
        now = datetime.now(UTC)
        member = Member(
            "telegram", "5001", display_name=FORGED_NAME, created_at=now, last_seen_at=now
        )
        member.subscribe(now)
        member.regions = {"itabashi"}
        with app.database.unit_of_work() as uow:
            stored, _ = uow.members.register(member)
            (occurrence,) = uow.calendar.upcoming(None, now, limit=5)
            assert stored.id is not None
            uow.rsvps.save(Rsvp(occurrence.id, stored.id, RsvpStatus.GOING, 0, now, now))
            uow.commit()
    finally:
        app.close()


def planned(database: Database) -> int:
    with database.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(DeliveryRow)
                .where(DeliveryRow.purpose == "reminder")
            )
            or 0
        )


def test_dry_run_lists_the_day_before_and_the_day_and_writes_nothing(
    config: Path, going: None, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reminders", "plan", "--dry-run", "--config", str(config)]) == 0

    out = capsys.readouterr().out
    assert "これから7日の間に送る自動のお知らせ（2件）" in out
    assert out.count("マイナ保険証 学習会") == 2
    assert "前日" in out
    assert "当日" in out
    assert "10:00" in out
    assert "12:00" in out
    assert "\x1b" not in out, "a member's name must not act on the terminal"
    assert "送信待ちには入れていません" in out
    assert planned(database) == 0


def test_without_dry_run_the_plan_is_put_in_the_outbox(
    config: Path, going: None, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reminders", "plan", "--config", str(config)]) == 0

    assert "新しく2件" in capsys.readouterr().out
    assert planned(database) == 2


def test_nothing_to_plan_says_so(
    config: Path, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reminders", "plan", "--dry-run", "--days", "1", "--config", str(config)]) == 0

    assert "これから1日の間に送る自動のお知らせはありません" in capsys.readouterr().out
