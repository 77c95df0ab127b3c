"""The `campaign-bot` command as organisers use it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import __version__
from bot.cli import main
from tests.conftest import EXAMPLE_CONFIG, ROOT


def campaign_bot(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a person would in a terminal."""
    script = shutil.which("campaign-bot", path=str(Path(sys.executable).parent))
    assert script, "campaign-bot is not installed in this environment"
    return subprocess.run(
        [script, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        env={**os.environ, "CAMPAIGN_BOT_CONFIG": "", **(env or {})},
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A checkout's files as `run` needs them: the example config, schedules and knowledge."""
    shutil.copyfile(EXAMPLE_CONFIG, tmp_path / "config.example.yaml")
    (tmp_path / "schedules").symlink_to(ROOT / "schedules")
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    return tmp_path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"campaign-bot {__version__}"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "COMMAND"),
        (["run"], "--as-organiser"),
        (["check"], "every problem"),
        (["db"], "upgrade"),
        (["db", "upgrade"], "migration"),
    ],
)
def test_every_command_has_help(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    assert expected in capsys.readouterr().out


def test_check_passes_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(EXAMPLE_CONFIG)]) == 0
    assert "config.example.yaml: OK" in capsys.readouterr().out


def test_check_lists_every_problem_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "config.yaml"
    broken.write_text(
        "timezone: Asia/Tokio\nregions:\n  - {code: tokyo, name: 都全体}\n"
        "  - {code: tokyo, name: 東京}\nreminders:\n  quiet_hours: {start: '25:00'}\n",
        encoding="utf-8",
    )
    assert main(["check", "--config", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "config.yaml:1: timezone: unknown time zone" in err
    assert "config.yaml:6: reminders.quiet_hours.start: expected HH:MM" in err
    assert "3 problems found." in err


def test_check_on_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml: file not found" in capsys.readouterr().err


def test_db_upgrade_then_current(workdir: Path) -> None:
    upgraded = campaign_bot("db", "upgrade", cwd=workdir)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (workdir / "data" / "campaign-bot.sqlite3").is_file()
    current = campaign_bot("db", "current", cwd=workdir)
    assert current.stdout.strip() == upgraded.stdout.strip() != "schema version: none"


def test_run_chats_on_the_console_from_piped_input(workdir: Path) -> None:
    result = campaign_bot("run", cwd=workdir, stdin="/start\n1\n3\nヘルプ\n")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "「/start」と入力して始めてください" in out
    assert "受け取りますか？\n  [1] はい、受け取ります" in out
    assert "地域を選んでください" in out
    assert "いま選んでいる地域: 板橋区" in out
    assert "【使い方】" in out
    assert "メニュー: [1] 予定  [2] 質問  [3] 通知設定  [4] ヘルプ" in out
    assert "Traceback" not in result.stderr


def test_run_remembers_members_between_runs(workdir: Path) -> None:
    campaign_bot("run", cwd=workdir, stdin="/start\n1\n3\n17\n")
    again = campaign_bot("run", cwd=workdir, stdin="通知設定\n")
    assert "地域: 板橋区" in again.stdout
    assert "お知らせ: すべて受け取る" in again.stdout


def test_run_as_organiser(workdir: Path) -> None:
    result = campaign_bot(
        "run", "--as-organiser", cwd=workdir, stdin="/start\n1\n1\n17\n登録状況\n"
    )
    assert result.returncode == 0, result.stderr
    assert "世話人として話しています" in result.stdout
    assert "【登録状況】" in result.stdout
    assert "[5] 登録状況" in result.stdout


def test_run_refuses_a_broken_config_with_the_reasons(workdir: Path) -> None:
    (workdir / "config.yaml").write_text("regions: []\n", encoding="utf-8")
    result = campaign_bot("run", cwd=workdir, stdin="/start\n")
    assert result.returncode == 1
    assert "config.yaml:1: regions: must not be empty" in result.stderr


def test_run_telegram_without_a_token_says_what_to_set(workdir: Path) -> None:
    (workdir / "config.yaml").write_text(
        "regions: [{code: tokyo, name: 都全体}]\nchannels: {telegram: {enabled: true}}\n",
        encoding="utf-8",
    )
    result = campaign_bot("run", cwd=workdir, stdin="/start\n", env={"TELEGRAM_BOT_TOKEN": ""})
    # Telegram on without a token is refused, never swapped for the console.
    assert result.returncode == 2
    assert result.stderr.startswith("campaign-bot: TELEGRAM_BOT_TOKEN is not set")
    assert result.stdout == ""
