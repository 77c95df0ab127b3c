# ruff: noqa: E501 -- the table reads best with one expected message per line, unwrapped
"""Acceptance for issue 9: broken configurations and environment values, one line each.

Every case breaks one thing in an otherwise good setup (config file, environment, folders,
database). `campaign-bot check` and `campaign-bot run` (console, stdin closed) must both exit
non-zero with exactly one line on stderr, `file:line: key: message` for a mistake in the file
or `NAME: message` for the environment, never a traceback and never a password. Cases about
the database also go through `campaign-bot db upgrade`. The CLI runs in-process through
`bot.cli.main` for speed; two cases go through the installed entry point to show it is the same.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot import app
from bot.cli import main
from tests.conftest import PG_URL_ENV, ROOT

GOOD = """\
timezone: Asia/Tokyo
default_language: ja
database:
  url: sqlite:///data/bot.sqlite3
  threads: 1
schedules_dir: schedules
knowledge_dir: knowledge
regions:
  - code: tokyo
    name: 都全体
    everyone: true
organisers:
  telegram: [12345]
reminders:
  same_day_before: 2h
  quiet_hours:
    start: "21:00"
    end: "08:00"
delivery:
  per_second: 25
  per_chat_burst: 3
  lower_lane_share: 0.1
  lease: 30s
channels:
  telegram:
    enabled: false
    username: shahokyo_bot
    mode: polling
    webhook:
      path: /telegram
web:
  port: 8443
"""

SCHEDULE = """\
organiser: テスト社保協
regions: [tokyo]
events:
  - id: test-rally
    title: テスト集会
    kind: rally
    date: 2026-12-07
    weekday: 月
    start: "13:00"
"""

PASSWORD = "s3cretPW"
"""Written into URLs of some cases; it must never be printed."""


@dataclass(frozen=True)
class Case:
    name: str
    expected: str
    """A regular expression the one line on stderr must match (from its start)."""
    replace: tuple[str, str] | None = None
    """(old, new) applied to the good config's text."""
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[Path], None] | None = None
    """Breaks something in the working folder (which holds config.yaml)."""
    config_arg: str | None = None
    """What --config names, relative to the working folder (default: config.yaml)."""
    database: bool = False
    """Also `db upgrade` must refuse."""
    raw: bytes | None = None
    """The config file's bytes, instead of the good text."""


def sub(old: str, new: str) -> tuple[str, str]:
    assert old in GOOD, old
    return (old, new)


def _rm(relative: str) -> Callable[[Path], None]:
    def prepare(workdir: Path) -> None:
        target = workdir / relative
        if target.is_symlink() or target.is_file():
            target.unlink()
        else:
            shutil.rmtree(target)

    return prepare


def _empty_schedules(workdir: Path) -> None:
    for path in (workdir / "schedules").iterdir():
        path.unlink()
    (workdir / "schedules" / "README.md").write_text("# 予定\n", encoding="utf-8")


def _folder(relative: str) -> Callable[[Path], None]:
    def prepare(workdir: Path) -> None:
        (workdir / relative).mkdir()

    return prepare


def _pg_missing_database() -> str:
    url = make_url(os.environ.get(PG_URL_ENV, "postgresql+psycopg://postgres@127.0.0.1/x"))
    return url.set(database="cb_no_such_database").render_as_string(hide_password=False)


CASES = [
    # --- the file itself -----------------------------------------------------------------
    Case(
        "yaml syntax", r"config\.yaml:9: not valid YAML", replace=sub("regions:\n", "regions: [\n")
    ),
    Case(
        "tab indentation",
        r"config\.yaml:\d+: not valid YAML",
        replace=sub("    name: 都全体", "\tname: 都全体"),
    ),
    Case(
        "duplicate key",
        r"config\.yaml:2: timezone: duplicate key",
        replace=sub("default_language: ja", "timezone: UTC"),
    ),
    Case("a list, not a mapping", r"config\.yaml:1: expected a mapping", raw=b"- a\n- b\n"),
    Case("empty file", r"config\.yaml(:1)?: regions: required key is missing", raw=b""),
    Case("not UTF-8", r"config\.yaml: not UTF-8 text", raw=GOOD.encode("shift_jis")),
    Case(
        "--config names a folder",
        r"conf\.d: is a folder, not a file",
        config_arg="conf.d",
        prepare=_folder("conf.d"),
    ),
    Case("--config names nothing", r"nope\.yaml: file not found", config_arg="nope.yaml"),
    Case(
        "CAMPAIGN_BOT_CONFIG names a folder",
        r"conf\.d: is a folder",
        config_arg="",
        env={"CAMPAIGN_BOT_CONFIG": "conf.d"},
        prepare=_folder("conf.d"),
    ),
    # --- keys ------------------------------------------------------------------------------
    Case(
        "unknown top-level key",
        r"config\.yaml:6: shedules_dir: unknown key \(misspelt\?\); allowed keys: ",
        replace=sub("schedules_dir:", "shedules_dir:"),
    ),
    Case(
        "unknown nested key",
        r"config\.yaml:4: database\.uri: unknown key",
        replace=sub("  url:", "  uri:"),
    ),
    Case(
        "a secret in the file",
        r"config\.yaml:\d+: channels\.telegram\.token: secrets must not be written in files; set the environment variable TELEGRAM_BOT_TOKEN",
        replace=sub("    enabled: false\n", "    enabled: false\n    token: 123:abc\n"),
    ),
    Case(
        "regions missing",
        r"config\.yaml:1: regions: required key is missing",
        replace=sub("regions:\n  - code: tokyo\n    name: 都全体\n    everyone: true\n", ""),
    ),
    # --- types and values ------------------------------------------------------------------
    Case(
        "bad time zone",
        r'config\.yaml:1: timezone: unknown time zone; use a name such as "Asia/Tokyo", got "Asia/Tokio"',
        replace=sub("Asia/Tokyo", "Asia/Tokio"),
    ),
    Case(
        "time zone a number",
        r"config\.yaml:1: timezone: expected text",
        replace=sub("timezone: Asia/Tokyo", "timezone: 9"),
    ),
    Case(
        "language",
        r"config\.yaml:2: default_language: expected one of 'ja' or 'en'",
        replace=sub("default_language: ja", "default_language: fr"),
    ),
    Case(
        "quiet hours 25:00",
        r"config\.yaml:17: reminders\.quiet_hours\.start: expected HH:MM",
        replace=sub('start: "21:00"', 'start: "25:00"'),
    ),
    Case(
        "quiet hours in words",
        r"config\.yaml:18: reminders\.quiet_hours\.end: expected HH:MM",
        replace=sub('end: "08:00"', "end: 朝8時"),
    ),
    Case(
        "bad duration",
        r"config\.yaml:15: reminders\.same_day_before: expected a length of time",
        replace=sub("same_day_before: 2h", "same_day_before: soon"),
    ),
    Case(
        "negative-looking duration",
        r"config\.yaml:15: reminders\.same_day_before: expected a length of time",
        replace=sub("same_day_before: 2h", "same_day_before: -2h"),
    ),
    Case(
        "duration as a list",
        r"config\.yaml:15: reminders\.same_day_before: expected a length of time",
        replace=sub("same_day_before: 2h", "same_day_before: [1d, 2h]"),
    ),
    Case(
        "lease in words",
        r"config\.yaml:23: delivery\.lease: expected a length of time",
        replace=sub("lease: 30s", "lease: half a minute"),
    ),
    Case(
        "rate not a number",
        r'config\.yaml:20: delivery\.per_second: expected a number, got "fast"',
        replace=sub("per_second: 25", "per_second: fast"),
    ),
    Case(
        "burst a fraction",
        r"config\.yaml:21: delivery\.per_chat_burst: expected a whole number",
        replace=sub("per_chat_burst: 3", "per_chat_burst: 2.5"),
    ),
    Case(
        "share too large",
        r"config\.yaml:22: delivery\.lower_lane_share: less than or equal to 0\.5",
        replace=sub("lower_lane_share: 0.1", "lower_lane_share: 0.9"),
    ),
    Case(
        "threads zero",
        r"config\.yaml:5: database\.threads: greater than or equal to 1",
        replace=sub("threads: 1", "threads: 0"),
    ),
    Case(
        "boolean maybe",
        r"config\.yaml:26: channels\.telegram\.enabled: expected true or false",
        replace=sub("enabled: false", "enabled: maybe"),
    ),
    Case(
        "mode",
        r"config\.yaml:28: channels\.telegram\.mode: expected one of 'polling' or 'webhook'",
        replace=sub("mode: polling", "mode: websocket"),
    ),
    Case(
        "port out of range",
        r"config\.yaml:32: web\.port: less than or equal to 65535",
        replace=sub("port: 8443", "port: 70000"),
    ),
    Case(
        "path without slash",
        r"config\.yaml:30: channels\.telegram\.webhook\.path: has characters that are not allowed",
        replace=sub("path: /telegram", "path: telegram"),
    ),
    Case(
        "username",
        r"config\.yaml:27: channels\.telegram\.username: has characters that are not allowed",
        replace=sub("username: shahokyo_bot", "username: '@x'"),
    ),
    Case(
        "organisers not a list",
        r"config\.yaml:13: organisers\.telegram: expected a list",
        replace=sub("telegram: [12345]", "telegram: 12345"),
    ),
    # --- regions ---------------------------------------------------------------------------
    Case(
        "empty regions",
        r"config\.yaml:8: regions: must not be empty",
        replace=sub(
            "regions:\n  - code: tokyo\n    name: 都全体\n    everyone: true\n", "regions: []\n"
        ),
    ),
    Case(
        "region code",
        r"config\.yaml:9: regions\[0\]\.code: has characters that are not allowed",
        replace=sub("code: tokyo", "code: Tokyo"),
    ),
    Case(
        "region name empty",
        r"config\.yaml:10: regions\[0\]\.name: must not be empty",
        replace=sub("name: 都全体", 'name: ""'),
    ),
    Case(
        "region twice",
        r'config\.yaml:12: regions\[1\]\.code: duplicate region "tokyo"',
        replace=sub("    everyone: true\n", "    everyone: true\n  - {code: tokyo, name: 東京}\n"),
    ),
    # --- folders ---------------------------------------------------------------------------
    Case(
        "schedules_dir misspelt",
        r"schedule/: folder not found; create it or change schedules_dir",
        replace=sub("schedules_dir: schedules", "schedules_dir: schedule"),
    ),
    Case("schedules folder moved away", r"schedules/: folder not found", prepare=_rm("schedules")),
    Case(
        "schedules folder empty",
        r"schedules/: no \*\.yaml files in the folder",
        prepare=_empty_schedules,
    ),
    Case(
        "schedules_dir names a file",
        r"config\.yaml/: is a file, not a folder; schedules_dir must be a folder",
        replace=sub("schedules_dir: schedules", "schedules_dir: config.yaml"),
    ),
    Case(
        "schedules_dir a number",
        r"config\.yaml:6: schedules_dir: expected text",
        replace=sub("schedules_dir: schedules", "schedules_dir: 5"),
    ),
    Case(
        "knowledge folder missing",
        r"knowledge/: folder not found; create it or change knowledge_dir",
        prepare=_rm("knowledge"),
    ),
    # --- the database URL in the file ------------------------------------------------------
    Case(
        "url not a URL",
        r"config\.yaml:4: database\.url: not a database URL; write it like sqlite:///",
        replace=sub("sqlite:///data/bot.sqlite3", "my database"),
        database=True,
    ),
    Case(
        "url unsupported scheme",
        r'config\.yaml:4: database\.url: unsupported database "mysql"',
        replace=sub("sqlite:///data/bot.sqlite3", f"mysql://bot:{PASSWORD}@db/campaign"),
        database=True,
    ),
    Case(
        "url without the driver",
        r"config\.yaml:4: database\.url: write postgresql\+psycopg://",
        replace=sub("sqlite:///data/bot.sqlite3", f"postgresql://bot:{PASSWORD}@db/campaign"),
        database=True,
    ),
    Case(
        "sqlite under a file",
        r"config\.yaml:4: database\.url: cannot create the folder .*config\.yaml for the SQLite database: a file has that name",
        replace=sub("sqlite:///data/bot.sqlite3", "sqlite:///config.yaml/bot.sqlite3"),
        database=True,
    ),
    Case(
        "sqlite a folder",
        r"config\.yaml:4: database\.url: cannot use the SQLite database .*: it is a folder",
        replace=sub("sqlite:///data/bot.sqlite3", "sqlite:///schedules"),
        database=True,
    ),
    Case(
        "sqlite not a database",
        r"config\.yaml:4: database\.url: cannot use the SQLite database .*: it is not an SQLite database file",
        replace=sub("sqlite:///data/bot.sqlite3", "sqlite:///schedules/test.yaml"),
        database=True,
    ),
    Case(
        "postgres refused",
        r"config\.yaml:4: database\.url: cannot use postgresql\+psycopg://bot:\*\*\*@127\.0\.0\.1:1/campaign: nothing answers at 127\.0\.0\.1:1 \(connection refused\)",
        replace=sub(
            "sqlite:///data/bot.sqlite3",
            f"postgresql+psycopg://bot:{PASSWORD}@127.0.0.1:1/campaign",
        ),
        database=True,
    ),
    # --- the environment -------------------------------------------------------------------
    Case(
        "DATABASE_URL garbage",
        r"DATABASE_URL: not a database URL",
        env={"DATABASE_URL": f"bot:{PASSWORD}@db"},
        database=True,
    ),
    Case(
        "DATABASE_URL bad port",
        r"DATABASE_URL: not a database URL",
        env={"DATABASE_URL": f"postgresql+psycopg://bot:{PASSWORD}@db:54x2/campaign"},
        database=True,
    ),
    Case(
        "DATABASE_URL postgres://",
        r'DATABASE_URL: write postgresql\+psycopg:// \(the psycopg 3 driver\), not "postgres://"',
        env={"DATABASE_URL": f"postgres://bot:{PASSWORD}@db/campaign"},
        database=True,
    ),
    Case(
        "DATABASE_URL no database",
        r"DATABASE_URL: name the database after the last /",
        env={"DATABASE_URL": f"postgresql+psycopg://bot:{PASSWORD}@db"},
        database=True,
    ),
    Case(
        "DATABASE_URL refused",
        r"DATABASE_URL: cannot use postgresql\+psycopg://bot:\*\*\*@127\.0\.0\.1:1/campaign: nothing answers",
        env={"DATABASE_URL": f"postgresql+psycopg://bot:{PASSWORD}@127.0.0.1:1/campaign"},
        database=True,
    ),
    Case(
        "DATABASE_URL unknown host",
        r'DATABASE_URL: cannot use .*: the host "no-such-host\.invalid" is unknown',
        env={"DATABASE_URL": f"postgresql+psycopg://bot:{PASSWORD}@no-such-host.invalid/campaign"},
        database=True,
    ),
    Case(
        "DATABASE_URL sqlite in /proc",
        r"DATABASE_URL: cannot create the folder /proc/campaign-bot for the SQLite database",
        env={"DATABASE_URL": "sqlite:////proc/campaign-bot/bot.sqlite3"},
        database=True,
    ),
    Case(
        "TELEGRAM_BOT_TOKEN with a space",
        r"TELEGRAM_BOT_TOKEN: not a bot token",
        env={"TELEGRAM_BOT_TOKEN": "123456 ABCdef"},
    ),
    Case(
        "TELEGRAM_BOT_TOKEN with a newline",
        r"TELEGRAM_BOT_TOKEN: not a bot token",
        env={"TELEGRAM_BOT_TOKEN": "123456:ABCdef\n"},
    ),
    Case(
        "TELEGRAM_BOT_TOKEN quoted",
        r"TELEGRAM_BOT_TOKEN: not a bot token",
        env={"TELEGRAM_BOT_TOKEN": '"123456:ABCdef"'},
    ),
]
if os.environ.get(PG_URL_ENV):
    CASES.append(
        Case(
            "PostgreSQL database missing",
            r'DATABASE_URL: cannot use .*: the database "cb_no_such_database" does not exist',
            env={"DATABASE_URL": _pg_missing_database()},
            database=True,
        )
    )

IDS = [case.name for case in CASES]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "test.yaml").write_text(SCHEDULE, encoding="utf-8")
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    (tmp_path / "config.yaml").write_text(GOOD, encoding="utf-8")
    for name in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "CAMPAIGN_BOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    # `run` on the console with stdin closed (run_console binds sys.stdin when defined).
    closed = functools.partial(app.run_console, stdin=io.StringIO(""), stdout=io.StringIO())
    monkeypatch.setattr(app, "run_console", closed)
    return tmp_path


def break_it(case: Case, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Apply the case; the --config arguments to pass."""
    if case.raw is not None:
        (workdir / "config.yaml").write_bytes(case.raw)
    if case.replace is not None:
        old, new = case.replace
        (workdir / "config.yaml").write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    if case.prepare is not None:
        case.prepare(workdir)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    if case.config_arg == "":
        return []
    return ["--config", case.config_arg or "config.yaml"]


def assert_one_line(case: Case, code: int, out: str, err: str) -> None:
    assert code != 0, f"{case.name}: exit 0\n{out}"
    assert "Traceback" not in err + out
    assert PASSWORD not in err + out, "a password was printed"
    lines = err.splitlines()
    assert len(lines) == 1, f"{case.name}: expected one line, got:\n{err}"
    assert re.match(case.expected, lines[0]), f"{case.name}: {lines[0]!r}"


@pytest.mark.parametrize("command", [["check"], ["run", "--channel", "console"]])
def test_the_good_config_passes(
    command: list[str], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The baseline every case breaks once: without it a case could fail for another reason."""
    assert main([*command, "--config", "config.yaml"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_broken_setup_is_one_line_and_a_failure(
    case: Case, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = break_it(case, workdir, monkeypatch)
    commands = [["check"], ["run", "--channel", "console"]]
    if case.database:
        commands.append(["db", "upgrade"])
    for command in commands:
        code = main([*command, *config])
        out, err = capsys.readouterr()
        assert_one_line(case, code, out, err)


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name in {"DATABASE_URL garbage", "--config names a folder"}],
    ids=lambda c: c.name,
)
def test_the_installed_command_says_the_same(
    case: Case, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = break_it(case, workdir, monkeypatch)
    script = shutil.which("campaign-bot", path=str(Path(sys.executable).parent))
    assert script, "campaign-bot is not installed in this environment"
    for command in (["check"], ["run"]):
        result = subprocess.run(
            [script, *command, *config],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            env=dict(os.environ),
            check=False,
        )
        assert_one_line(case, result.returncode, result.stdout, result.stderr)
