"""`campaign-bot broadcast` and LINE's monthly quota, with LINE on in the config: the real
line-bot-sdk reads the quota from the fake LINE API; the preview shows what the announcement
uses of it, and one beyond what is left is refused unless --force (2026-11-30 in Tokyo).

The campaign: three members on LINE and one on Telegram, all in 板橋区."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import build
from bot.cli import main
from bot.config import load_settings
from bot.domain.members import Member
from bot.store.database import Database
from bot.store.tables import BroadcastRow
from tests.cli.test_broadcast_cli import SCHEDULE
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.fakes.clock import FakeClock
from tests.fakes.line_api import FakeLine
from tests.line_admin.conftest import NOW

TEXT = "12月7日の集会は予定どおり行います。"
Run = Callable[..., int]


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    with FakeLine(clock=lambda: NOW) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def config(
    tmp_path: Path, database_url: str, fake: FakeLine, monkeypatch: pytest.MonkeyPatch
) -> Path:
    text = EXAMPLE_CONFIG.read_text("utf-8")
    written = "    enabled: false\n    api_host: https://api.line.me\n"  # channels.line
    assert text.count(written) == 1
    text = text.replace(written, f"    enabled: true\n    api_host: {fake.base_url}\n")
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "itabashi.yaml").write_text(SCHEDULE, encoding="utf-8")
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", fake.access_token)
    monkeypatch.setenv("LINE_CHANNEL_SECRET", fake.channel_secret)
    monkeypatch.delenv("CAMPAIGN_BOT_CONFIG", raising=False)
    return tmp_path / "config.yaml"


@pytest.fixture
def people(config: Path, clock: FakeClock) -> None:
    app = build(load_settings(config, env=dict(os.environ)), clock=clock)
    try:
        now = clock.now()
        with app.database.unit_of_work() as uow:
            for channel, external_id in [
                ("line", "U" + "1" * 32),
                ("line", "U" + "2" * 32),
                ("line", "U" + "3" * 32),
                ("telegram", "5001"),
            ]:
                member = Member(channel, external_id, created_at=now, last_seen_at=now)
                member.subscribe(now)
                stored, _ = uow.members.register(member)
                stored.regions = {"itabashi"}
                uow.members.save(stored)
            uow.commit()
    finally:
        app.close()


@pytest.fixture
def run(config: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    def campaign_bot(*args: str, text: str = TEXT, stdin: str = "") -> int:
        path = tmp_path / "message.txt"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        command = ["broadcast", "--to", "all", "--text-file", str(path), *args]
        return main([*command, "--config", str(config)], clock=clock)

    return campaign_bot


def stored(database: Database) -> list[BroadcastRow]:
    with database.session() as session:
        return list(session.scalars(select(BroadcastRow)))


def test_the_preview_shows_lines_use_against_what_lines_says_is_left(
    run: Run,
    people: None,
    fake: FakeLine,
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.set_monthly_limit(200, used=150)

    assert run(stdin="y\n") == 0

    out = capsys.readouterr().out
    assert "届く人: 4人" in out
    assert "LINE: 3通使います（今月の残り 50通）" in out
    assert [b.recipients for b in stored(database)] == [4]
    assert [r.endpoint for r in fake.requests()] == [
        "get_message_quota",
        "get_message_quota_consumption",
    ]


def test_a_long_announcement_counts_each_part(
    run: Run, people: None, fake: FakeLine, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.set_monthly_limit(200, used=0)

    assert run(text="あ" * 4000 + "\n\n" + "い" * 100, stdin="n\n") == 1

    out = capsys.readouterr().out
    assert "長いので2回に分けて送ります。" in out
    assert "LINE: 6通使います（今月の残り 200通）" in out


def test_beyond_what_is_left_it_is_refused_in_one_line_and_nothing_is_stored(
    run: Run,
    people: None,
    fake: FakeLine,
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.set_monthly_limit(200, used=198)

    assert run(stdin="y\n") == 1
    assert run("--yes") == 1

    captured = capsys.readouterr()
    assert "⚠ LINEの今月の残り（2通）より1通多いので、届かない人が出ます。" in captured.out
    assert "送信しますか？" not in captured.out, "refused before asking"
    refusal = (
        "campaign-bot: LINEの今月の残り（2通）では足りません（このお知らせは3通使います）。"
        "人数をしぼるか、来月に予約してください。それでも送るときは --force をつけてください。"
    )
    assert captured.err.splitlines() == [refusal, refusal]
    assert stored(database) == []


def test_force_sends_it_anyway_after_the_usual_question(
    run: Run,
    people: None,
    fake: FakeLine,
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.set_monthly_limit(200, used=200)

    assert run("--force", stdin="y\n") == 0

    out = capsys.readouterr().out
    assert "LINE: 3通使います（今月の残り 0通）" in out
    assert "送信しますか？" in out
    assert [b.recipients for b in stored(database)] == [4]


def test_when_line_does_not_answer_the_use_is_shown_and_nothing_refused(
    run: Run,
    people: None,
    fake: FakeLine,
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.set_monthly_limit(200, used=200)
    fake.fail_next(status=500, endpoints="get_message_quota")

    assert run("--yes") == 0

    assert capsys.readouterr().err == ""
    assert [b.recipients for b in stored(database)] == [4]
