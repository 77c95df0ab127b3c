"""`campaign-bot outbox [--list] | retry | drop` as an organiser types them, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.cli import main
from bot.domain.deliveries import message_payload
from bot.domain.members import Member
from bot.domain.messages import Outgoing
from bot.store.database import Database
from bot.store.tables import DeliveryRow
from tests.conftest import EXAMPLE_CONFIG, ROOT

# A name and an error text that would act on a terminal if printed raw.
FORGED_NAME = "山田\x1b]0;pwned\x07"
FORGED_ERROR = "Bad Request: chat not found\x1b[2J"


@pytest.fixture
def config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "config.yaml").write_text(EXAMPLE_CONFIG.read_text("utf-8"), encoding="utf-8")
    (tmp_path / "schedules").symlink_to(ROOT / "schedules")
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("CAMPAIGN_BOT_CONFIG", raising=False)
    return tmp_path / "config.yaml"


@pytest.fixture
def rows(database: Database) -> dict[str, int]:
    """A queued reminder for tomorrow, a failed one, a skipped broadcast, a sent reminder."""
    now = datetime.now(UTC)
    member = Member("telegram", "5001", display_name=FORGED_NAME, created_at=now, last_seen_at=now)
    member.subscribe(now)
    ids: dict[str, int] = {}
    with database.unit_of_work() as uow:
        stored, _ = uow.members.register(member)
        for name, purpose, due in [
            ("queued", "reminder", now + timedelta(days=1)),
            ("failed", "reminder", now - timedelta(hours=1)),
            ("skipped", "broadcast", now - timedelta(hours=2)),
            ("sent", "reminder", now - timedelta(hours=3)),
        ]:
            uow.outbox.enqueue(purpose, name, stored, message_payload(Outgoing(name)), due)
        uow.commit()
    with database.session() as session:
        for row in session.query(DeliveryRow):
            ids[row.reference] = row.id
        changes: dict[str, dict[str, Any]] = {
            "failed": {"state": "failed", "last_error": FORGED_ERROR, "attempts": 5},
            "skipped": {"state": "skipped", "skip_reason": "unreachable"},
            "sent": {"state": "sent", "sent_at": now},
        }
        for name, values in changes.items():
            session.execute(update(DeliveryRow).where(DeliveryRow.id == ids[name]).values(values))
        session.commit()
    return ids


def run(config: Path, *args: str) -> int:
    return main(["outbox", *args, "--config", str(config)])


def test_the_overview_counts_by_purpose_and_state_with_reasons(
    config: Path, rows: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config) == 0
    out = capsys.readouterr().out
    assert "  broadcast: 送信待ち 0 / 送信中 0 / 失敗 0 / 見送り 1" in out
    assert "  reminder: 送信待ち 1 / 送信中 0 / 失敗 1 / 見送り 0" in out
    assert "もう送る時刻になっているもの 0件" in out
    assert "     1件  失敗  reminder  Bad Request: chat not found\\x1b[2J" in out
    assert "     1件  見送り  broadcast  unreachable" in out
    assert "\x1b" not in out, "an error text must not act on the terminal"


def test_the_list_shows_rows_filtered_and_escaped(
    config: Path, rows: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "--list") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3, "sent rows only on request"
    assert lines[0].split()[:3] == [str(rows["queued"]), "reminder", "queued"]
    assert "山田\\x1b]0;pwned\\x07 (telegram)" in out
    assert "\x1b" not in out
    assert "\x07" not in out

    assert run(config, "--list", "--state", "sent") == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split()[:3] == [str(rows["sent"]), "reminder", "sent"]

    assert run(config, "--list", "--purpose", "broadcast") == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split()[:3] == [str(rows["skipped"]), "broadcast", "skipped"]
    assert line.endswith("unreachable")

    assert run(config, "--list", "--limit", "1") == 0
    out = capsys.readouterr().out
    assert "（3件のうち新しい1件を表示しました。--limit で増やせます）" in out


def test_retry_and_drop_answer_every_id_and_fail_if_any_failed(
    config: Path, rows: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "retry", str(rows["failed"])) == 0
    out = capsys.readouterr().out
    assert out == f"{rows['failed']}: 送信待ちに戻しました（失敗でした）。すぐに送ります。\n"

    assert run(config, "retry", str(rows["skipped"]), str(rows["sent"]), "777777") == 1
    captured = capsys.readouterr()
    assert f"{rows['skipped']}: 送信待ちに戻しました（見送りでした）" in captured.out
    assert captured.err.splitlines() == [
        f"campaign-bot: {rows['sent']}: 送信済みなので、やり直せません"
        "（やり直せるのは 失敗 と 見送り だけです）。",
        "campaign-bot: 777777: この番号の送信はありません。",
    ]

    assert run(config, "drop", str(rows["queued"])) == 0
    assert (
        capsys.readouterr().out == f"{rows['queued']}: 送らないことにしました（送信待ちでした）。\n"
    )
    assert run(config, "drop", str(rows["queued"])) == 1
    assert "見送りなので、取りやめられません" in capsys.readouterr().err

    assert run(config, "--list", "--state", "skipped") == 0
    assert "dropped by organiser" in capsys.readouterr().out


def test_a_wrong_state_or_id_is_a_usage_error(config: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(config, "--list", "--state", "lost")
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        run(config, "retry", "abc")
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        run(config, "--limit", "0")
    assert exit_info.value.code == 2
