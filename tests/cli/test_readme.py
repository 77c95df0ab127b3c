"""The README's first command works on a fresh machine: a new virtual environment, no token."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.DOTALL)


def project_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_readme_opens_with_the_two_commands() -> None:
    commands = readme_commands()
    assert len(commands) >= 2
    run, test = commands[0], commands[1]
    assert "campaign-bot run" in run
    assert "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert test in ci, ".ci/run must run exactly the README's test command"


@pytest.mark.slow
def test_first_command_runs_the_bot_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    checkout = tmp_path / "campaign-bot"
    for name in project_files():
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "CAMPAIGN_BOT_CONFIG", "TELEGRAM_BOT_TOKEN", "DATABASE_URL"}
    }
    result = subprocess.run(
        ["bash", "-c", readme_commands()[0]],
        cwd=checkout,
        input="/start\n1\n3\nヘルプ\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "受け取りますか" in result.stdout
    assert "いま選んでいる地域: 板橋区" in result.stdout
    assert "【使い方】" in result.stdout
    assert (checkout / "data" / "campaign-bot.sqlite3").is_file()
