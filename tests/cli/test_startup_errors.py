"""Issue 12, part 6: a bot that cannot start says why in one line, exits non-zero, and never
prints a traceback or the bot token.

Each start-up error runs `campaign-bot` as a subprocess, as an organiser would, with a
temporary config; Telegram is the fake Bot API server of tests/fakes, which answers an unknown
token with 401 as api.telegram.org does.
"""

from __future__ import annotations

import logging
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.channels.log_redaction import REDACTED, Redactor, install, uninstall
from tests.cli.test_cli import campaign_bot
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:AAE-real-token-of-the-fake_0123456789"
WRONG = "987654:AAH-a-token-Telegram-never-gave_98765"
"""Shaped like a token, so it passes the config's check and reaches Telegram, who refuses it."""
SECRET_PART = WRONG.partition(":")[2]
HINT = "(run with -v for details)"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "schedules").symlink_to(ROOT / "schedules")
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    return tmp_path


def write_config(workdir: Path, *, web: dict[str, Any] | None = None, **telegram: Any) -> int:
    """The example configuration with Telegram turned on and `telegram` keys set (and `web`
    keys, the shared web server's); returns the line `base_url` is written on."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    config["channels"]["telegram"].update({"enabled": True, **telegram})
    config["web"].update(web or {})
    text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    (workdir / "config.yaml").write_text(text, encoding="utf-8")
    return line_of(text, "base_url:")


def line_of(text: str, key: str) -> int:
    (number,) = [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(key)]
    return number


def pointed_at(fake: FakeTelegram) -> dict[str, Any]:
    return {"base_url": fake.base_url, "base_file_url": fake.base_file_url}


def closed_port() -> int:
    """A port nothing listens on: bound, then let go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(workdir: Path, *args: str, token: str = "") -> subprocess.CompletedProcess[str]:
    return campaign_bot(*args, cwd=workdir, env={"TELEGRAM_BOT_TOKEN": token})


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The run failed, said so in exactly one line on stderr, without traceback or token."""
    assert result.returncode != 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert_no_token(result)
    return lines[0]


def assert_no_token(result: subprocess.CompletedProcess[str]) -> None:
    for output in (result.stdout, result.stderr):
        for secret in (WRONG, TOKEN, SECRET_PART, TOKEN.partition(":")[2]):
            assert secret not in output


# --- Telegram on, no token ------------------------------------------------------------------


def test_telegram_on_without_a_token_refuses_instead_of_chatting_in_the_terminal(
    workdir: Path,
) -> None:
    write_config(workdir)
    result = campaign_bot("run", cwd=workdir, stdin="/start\n", env={"TELEGRAM_BOT_TOKEN": ""})

    line = one_line(result)
    assert result.returncode == 2, "the code of every refusal to start as asked"
    assert line.startswith("campaign-bot: TELEGRAM_BOT_TOKEN is not set")
    assert "--channel console" in line
    assert "channels.telegram.enabled: false" in line
    assert result.stdout == "", "the console did not start"


def test_the_way_out_it_names_works(workdir: Path) -> None:
    write_config(workdir)
    result = campaign_bot(
        "run", "--channel", "console", cwd=workdir, stdin="/start\n", env={"TELEGRAM_BOT_TOKEN": ""}
    )
    assert result.returncode == 0, result.stderr
    assert "受け取りますか" in result.stdout


def test_check_warns_that_run_will_want_the_token(workdir: Path, fake: FakeTelegram) -> None:
    write_config(workdir, **pointed_at(fake))
    result = start(workdir, "check")
    assert result.returncode == 0, result.stderr
    assert "warning: TELEGRAM_BOT_TOKEN is not set" in result.stdout
    assert f"telegram: OK (answers at {fake.base_url})" in result.stdout


# --- a token Telegram refuses ---------------------------------------------------------------


def test_a_refused_token_is_one_line_without_the_token(workdir: Path, fake: FakeTelegram) -> None:
    write_config(workdir, **pointed_at(fake))
    result = start(workdir, "run", token=WRONG)

    line = one_line(result)
    assert result.returncode == 1
    assert line == (
        "TELEGRAM_BOT_TOKEN: Telegram refused the bot token (401 Unauthorized): check "
        "TELEGRAM_BOT_TOKEN against the token @BotFather gave"
    )
    [get_me] = fake.requests("getMe")
    assert (get_me.status, get_me.description) == (401, "Unauthorized"), "as api.telegram.org"
    assert result.stdout == ""


def test_verbose_shows_the_details_but_never_the_token(workdir: Path, fake: FakeTelegram) -> None:
    write_config(workdir, **pointed_at(fake))
    result = start(workdir, "-v", "run", token=WRONG)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("TELEGRAM_BOT_TOKEN: Telegram refused")
    # python-telegram-bot logs its URLs, and raises InvalidToken("The token `...` was
    # rejected"): both are there, with the token blacked out.
    assert f"{fake.base_url}{REDACTED}" in result.stderr
    assert f"InvalidToken: The token `{REDACTED}` was rejected" in result.stderr
    assert_no_token(result)


def test_check_asks_telegram_too(workdir: Path, fake: FakeTelegram) -> None:
    write_config(workdir, **pointed_at(fake))
    refused = start(workdir, "check", token=WRONG)
    assert one_line(refused).startswith("TELEGRAM_BOT_TOKEN: Telegram refused the bot token (401")

    accepted = start(workdir, "check", token=TOKEN)
    assert accepted.returncode == 0, accepted.stderr
    assert f"telegram: OK (@{fake.bot_username} at {fake.base_url})" in accepted.stdout
    assert_no_token(accepted)


# --- base_url unreachable or malformed ------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "run"])
def test_an_unreachable_base_url_is_named_with_its_line(workdir: Path, command: str) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/bot"
    line = write_config(workdir, base_url=url, base_file_url=f"http://127.0.0.1:{port}/file/bot")

    result = start(workdir, command, token=WRONG)

    assert one_line(result) == (
        f"config.yaml:{line}: channels.telegram.base_url: cannot connect to {url} "
        "(connection refused)"
    )
    assert result.returncode == 1


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_base_url_that_is_no_bot_api_is_one_line(
    workdir: Path, fake: FakeTelegram, command: str
) -> None:
    line = write_config(workdir, **pointed_at(fake))
    fake.fail_next(status=502, html=True, methods="getMe")  # a proxy's page, say

    result = start(workdir, command, token=TOKEN)

    assert one_line(result) == (
        f"config.yaml:{line}: channels.telegram.base_url: {fake.base_url} answered: Bad Gateway "
        "(502), a page that is not the Bot API's JSON"
    )
    assert result.returncode == 1


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("base_url", "127.0.0.1:8081/bot", "write the whole address with http:// or https://"),
        ("base_url", "http://127.0.0.1:8081/", "must end in /bot"),
        ("base_url", "https://api.telegram.org/bot/", "must end in /bot"),
        ("base_url", "http://127.0.0.1:80a/bot", "not a web address"),
        ("base_file_url", "http://127.0.0.1:8081/file/", "must end in /file/bot"),
    ],
)
@pytest.mark.parametrize("command", ["check", "run"])
def test_a_malformed_base_url_is_a_config_problem(
    workdir: Path, command: str, key: str, value: str, complaint: str
) -> None:
    write_config(workdir, **{key: value})
    text = (workdir / "config.yaml").read_text(encoding="utf-8")

    result = start(workdir, command, token=WRONG)

    line = one_line(result)
    assert line.startswith(f"config.yaml:{line_of(text, f'{key}:')}: channels.telegram.{key}: ")
    assert complaint in line
    assert result.returncode == 1


# --- the webhook cannot listen --------------------------------------------------------------


def test_a_webhook_port_in_use_is_named_with_its_line(workdir: Path, fake: FakeTelegram) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        write_config(
            workdir,
            **pointed_at(fake),
            mode="webhook",
            web={"listen": "127.0.0.1", "port": port},
        )
        text = (workdir / "config.yaml").read_text(encoding="utf-8")

        result = start(workdir, "run", token=TOKEN)

    assert one_line(result) == (
        f"config.yaml:{line_of(text, 'port:')}: web.port: cannot listen "
        f"on 127.0.0.1:{port} (address already in use)"
    )


def test_webhook_keys_of_the_old_place_say_where_they_went(workdir: Path) -> None:
    write_config(workdir, mode="webhook", webhook={"listen": "0.0.0.0", "path": "/telegram"})
    result = start(workdir, "run", token=TOKEN)

    text = (workdir / "config.yaml").read_text(encoding="utf-8")
    assert one_line(result) == (
        f"config.yaml:{line_of(text, 'listen: 0.0.0.0')}: channels.telegram.webhook.listen: "
        "moved to web.listen, shared by every channel"
    )


# --- anything else --------------------------------------------------------------------------


def webhook_refused(workdir: Path, fake: FakeTelegram) -> None:
    """Telegram refuses the webhook's address: nothing the start-up foresees."""
    write_config(
        workdir,
        **pointed_at(fake),
        mode="webhook",
        web={"listen": "127.0.0.1", "port": 0, "public_url": "https://bot.example.org"},
    )
    fake.refuse_next(
        "Bad Request: bad webhook: Failed to resolve host: Name or service not known",
        methods="setWebhook",
    )


def test_an_unforeseen_failure_is_its_type_and_message(workdir: Path, fake: FakeTelegram) -> None:
    webhook_refused(workdir, fake)
    result = start(workdir, "run", token=TOKEN)

    # python-telegram-bot words Telegram's "Bad Request: bad webhook: ..." its own way.
    assert one_line(result) == (
        f"campaign-bot: BadRequest: Bad webhook: failed to resolve host: name or service not "
        f"known {HINT}"
    )
    assert result.returncode == 1


def test_an_unforeseen_failure_with_verbose_shows_the_traceback_but_not_the_token(
    workdir: Path, fake: FakeTelegram
) -> None:
    webhook_refused(workdir, fake)
    result = start(workdir, "-v", "run", token=TOKEN)

    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "campaign-bot: BadRequest: Bad webhook: failed to resolve host: name or service not known"
    )
    assert_no_token(result)


# --- the redaction itself -------------------------------------------------------------------


@pytest.fixture
def redacting() -> Iterator[None]:
    install(Redactor([WRONG, None, "short"]))
    try:
        yield
    finally:
        uninstall()


@pytest.mark.usefixtures("redacting")
def test_every_record_is_scrubbed_as_it_is_made(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.redaction")
    with caplog.at_level(logging.DEBUG, logger="tests.redaction"):
        logger.debug("POST http://127.0.0.1/bot%s/getMe", WRONG)
        logger.debug("file http://127.0.0.1/file/bot%s/a.jpg", WRONG.replace(":", "%3A"))
        logger.debug("file http://127.0.0.1/file/bot987654%%3a%s/a.jpg", SECRET_PART)
        try:
            raise ValueError(f"The token `{WRONG}` was rejected")
        except ValueError:
            logger.exception("failed")
        logger.debug("a short word stays", stack_info=True)

    assert SECRET_PART not in caplog.text
    assert [record.getMessage() for record in caplog.records][:3] == [
        f"POST http://127.0.0.1/bot{REDACTED}/getMe",
        f"file http://127.0.0.1/file/bot{REDACTED}/a.jpg",
        f"file http://127.0.0.1/file/bot987654%3a{REDACTED}/a.jpg",
    ]
    assert f"ValueError: The token `{REDACTED}` was rejected" in caplog.text
    assert "a short word stays" in caplog.text


def test_installing_again_replaces_the_secrets() -> None:
    original = logging.getLogRecordFactory()
    try:
        install(Redactor(["first-secret"]))
        install(Redactor(["second-secret"]))
        record = logging.getLogRecordFactory()(
            "x", logging.INFO, __file__, 1, "first-secret second-secret", None, None
        )
        assert record.getMessage() == f"first-secret {REDACTED}"
    finally:
        uninstall()
    assert logging.getLogRecordFactory() is original
