"""Configuration: the example validates; each kind of mistake is named with file, line and key."""

from __future__ import annotations

import textwrap
from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.config import Settings, find_config, load_settings
from bot.yaml_validation import InvalidDocument
from tests.conftest import EXAMPLE_CONFIG

MINIMAL = """\
regions:
  - {code: tokyo, name: 都全体}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InvalidDocument) as caught:
        load_settings(write(tmp_path, text), env={})
    return [str(p) for p in caught.value.problems]


def test_the_example_config_is_valid_and_complete() -> None:
    settings = load_settings(EXAMPLE_CONFIG, env={})
    config = settings.config
    assert config.timezone == "Asia/Tokyo"
    assert config.default_language == "ja"
    codes = [r.code for r in config.regions]
    assert codes[0] == "tokyo"
    assert {"shibuya", "itabashi", "nishitokyo", "toshima"} <= set(codes)
    assert config.reminders.quiet_hours.start == time(21, 0)
    assert config.reminders.same_day_before == timedelta(hours=2)
    assert config.reminders.kinds["street"].same_day_before == timedelta(hours=1)
    assert config.channels.telegram.enabled is False


def test_a_minimal_config_gets_every_default(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), env={})
    assert settings.config.database.url == "sqlite:///data/campaign-bot.sqlite3"
    assert settings.database_url == f"sqlite:///{tmp_path}/data/campaign-bot.sqlite3"
    assert settings.schedules_dir == tmp_path / "schedules"


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "regions:\n  - {code: tokyo, name: 都全体\ntimezone: [\n")
    assert len(found) == 1
    assert found[0].startswith("config.yaml:3: not valid YAML")


def test_unknown_key_names_the_key_and_what_is_allowed(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "reminders:\n  enabled: true\n  quiet_hour: {}\n")
    assert found == [
        "config.yaml:5: reminders.quiet_hour: unknown key (misspelt?); "
        "allowed keys: enabled, day_before_at, same_day_before, invite, invite_ahead, "
        "nudge_before, digest_at, daily_cap, plan_ahead, quiet_hours, kinds, channels"
    ]


def test_wrong_type(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "channels:\n  telegram:\n    enabled: maybe\n")
    assert found == [
        'config.yaml:5: channels.telegram.enabled: expected true or false, got "maybe"'
    ]


def test_bad_timezone(tmp_path: Path) -> None:
    found = problems(tmp_path, "timezone: Tokyo/Sugamo\n" + MINIMAL)
    assert found == [
        'config.yaml:1: timezone: unknown time zone; use a name such as "Asia/Tokyo", '
        'got "Tokyo/Sugamo"'
    ]


@pytest.mark.parametrize("written", ['"25:00"', "25:00", '"9時"'])
def test_bad_time(tmp_path: Path, written: str) -> None:
    found = problems(
        tmp_path, MINIMAL + f"reminders:\n  quiet_hours:\n    start: {written}\n    end: '08:00'\n"
    )
    shown = written.strip('"')
    assert found == [
        "config.yaml:5: reminders.quiet_hours.start: expected HH:MM on a 24-hour clock, "
        f'such as "13:00", got "{shown}"'
    ]


def test_unquoted_time_that_yaml_reads_as_a_number_is_understood(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "reminders:\n  quiet_hours:\n    start: 22:30\n")
    assert load_settings(path, env={}).config.reminders.quiet_hours.start == time(22, 30)


def test_duplicate_region(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        regions:
          - {code: tokyo, name: 都全体}
          - {code: itabashi, name: 板橋区}
          - {code: itabashi, name: 板橋}
        """,
    )
    assert found == [
        'config.yaml:4: regions[2].code: duplicate region "itabashi" (also regions[1])'
    ]


def test_duplicate_key(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "timezone: Asia/Tokyo\ntimezone: UTC\n")
    assert found == [
        "config.yaml:4: timezone: duplicate key (first written on line 3); keep only one"
    ]


def test_missing_regions(tmp_path: Path) -> None:
    assert problems(tmp_path, "timezone: Asia/Tokyo\n") == [
        "config.yaml:1: regions: required key is missing"
    ]


def test_bad_region_code_and_bad_duration(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        regions:
          - {code: 板橋, name: 板橋区}
        reminders:
          same_day_before: soon
        """,
    )
    assert found == [
        'config.yaml:2: regions[0].code: has characters that are not allowed, got "板橋"',
        'config.yaml:4: reminders.same_day_before: expected a length of time such as "1d", '
        '"12h" or "30m", got "soon"',
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        timezone: Mars/Olympus
        default_language: fr
        regions:
          - {code: tokyo, name: 都全体, colour: red}
        """,
    )
    assert [line.split(":")[1] for line in found] == ["1", "2", "4"]


def test_secrets_in_the_file_are_refused_with_the_variable_to_use(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "channels:\n  telegram:\n    token: '123:abc'\n")
    assert found == [
        "config.yaml:5: channels.telegram.token: secrets must not be written in files; "
        "set the environment variable TELEGRAM_BOT_TOKEN instead"
    ]


def test_secrets_come_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, MINIMAL),
        env={
            "TELEGRAM_BOT_TOKEN": "123:abc",
            "LINE_CHANNEL_SECRET": "s",
            "LINE_CHANNEL_ACCESS_TOKEN": "t",
            "DATABASE_URL": "postgresql+psycopg://bot@db/campaign",
        },
    )
    assert settings.secrets.telegram_bot_token == "123:abc"
    assert settings.secrets.line_channel_secret == "s"
    assert settings.secrets.line_channel_access_token == "t"
    assert settings.database_url == "postgresql+psycopg://bot@db/campaign"


def test_an_empty_file_says_what_is_missing(tmp_path: Path) -> None:
    assert problems(tmp_path, "") == ["config.yaml: regions: required key is missing"]


def test_organiser_ids_are_kept_as_text(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, MINIMAL + "organisers:\n  telegram: [123456789]\n"), env={}
    )
    assert settings.campaign().is_organiser("telegram", "123456789")
    assert not settings.campaign().is_organiser("line", "123456789")


def test_config_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMPAIGN_BOT_CONFIG", raising=False)
    (tmp_path / "config.example.yaml").write_text(MINIMAL)
    assert find_config(None, tmp_path) == tmp_path / "config.example.yaml"
    (tmp_path / "config.yaml").write_text(MINIMAL)
    assert find_config(None, tmp_path) == tmp_path / "config.yaml"
    monkeypatch.setenv("CAMPAIGN_BOT_CONFIG", "/etc/bot.yaml")
    assert find_config(None, tmp_path) == Path("/etc/bot.yaml")
    assert find_config(Path("x.yaml"), tmp_path) == Path("x.yaml")


def test_settings_fixture_is_the_example(settings: Settings) -> None:
    assert settings.path == EXAMPLE_CONFIG
