"""Logs: a whole journey through the real Telegram stack, logged at DEBUG, holds no token or
secret anywhere, and no member's words, name or chat id at INFO and above; at DEBUG their
words only with `logging.member_texts`."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError

from bot.channels import log_redaction
from bot.channels.telegram.channel import webhook_secret
from bot.domain.messages import Incoming, MemberRef
from bot.store.database import Database
from bot.store.tables import FaqQuestionRow, MemberRow
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import TOKEN, RunningBot, fake, running  # noqa: F401
from tests.telegram.test_journey import reply_to

CHAT = 73910455
FIRST, LAST = "秘密子", "記録"
QUESTION = "ひみつの相談です。電話は090-5555-1212です"
SECRET_PART = TOKEN.split(":", 1)[1]


@pytest.fixture
def scrubbed() -> Iterator[None]:
    """The record factory `campaign-bot` installs before anything logs."""
    log_redaction.install(log_redaction.Redactor([TOKEN, webhook_secret(TOKEN)]))
    yield
    log_redaction.uninstall()


def rendered(caplog: pytest.LogCaptureFixture, *, at_least: int) -> list[str]:
    """Every record at `at_least` or above as a handler writes it: message and traceback."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(r) for r in caplog.records if r.levelno >= at_least]


async def test_a_journey_logs_no_token_and_no_member_words(
    scrubbed: None,
    running: RunningBot,  # noqa: F811
    fake: FakeTelegram,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.add_user(CHAT, FIRST, last_name=LAST)
    _, consent = await reply_to(fake, CHAT, lambda: fake.send_text(CHAT, "/start"), 2)
    (picker,) = await reply_to(
        fake, CHAT, lambda: fake.press_button(CHAT, consent.message_id, label="はい、受け取ります")
    )
    fake.press_button(CHAT, picker.message_id, label="板橋区")
    await fake.until(lambda: "✓ 板橋区" in fake.message(CHAT, picker.message_id).button_labels)
    await reply_to(fake, CHAT, lambda: fake.press_button(CHAT, picker.message_id, label="決定"))
    await reply_to(fake, CHAT, lambda: fake.send_text(CHAT, QUESTION), 2)
    await reply_to(fake, CHAT, lambda: fake.send_text(CHAT, "/mydata"))

    everything = rendered(caplog, at_least=logging.DEBUG)
    assert len(everything) > 20, "the journey was logged at DEBUG"
    for line in everything:
        assert TOKEN not in line
        assert SECRET_PART not in line
        assert webhook_secret(TOKEN) not in line
    for line in everything:
        # Not even at DEBUG without logging.member_texts.
        assert "ひみつの相談" not in line, line
        assert "5555" not in line, line
        assert FIRST not in line, line
    for line in rendered(caplog, at_least=logging.INFO):
        assert str(CHAT) not in line, line
    with running.database.session() as session:
        logged = list(session.scalars(select(FaqQuestionRow.text)))
    assert logged == ["ひみつの相談です。電話は[電話番号]です"], "the question log is masked"


def test_member_texts_show_at_debug_only_when_allowed(
    scrubbed: None, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("bot.test")
    caplog.set_level(logging.DEBUG)
    incoming = Incoming.from_text(MemberRef("telegram", str(CHAT), "秘密子"), QUESTION)
    log.debug("got %s", incoming)
    log_redaction.allow_member_texts(True)
    try:
        log.debug("got %s with %s", incoming, {"text": QUESTION})
        log.info("got %s", incoming)
        log.warning("failed %s", {"text": QUESTION})
    finally:
        log_redaction.allow_member_texts(False)
    hidden, shown, info, warning = (r.getMessage() for r in caplog.records)
    assert "ひみつ" not in hidden
    assert "ひみつ" in shown, "allowed at DEBUG"
    assert "ひみつ" not in info, "never at INFO"
    assert "ひみつ" not in warning
    for message in (hidden, shown, info, warning):
        assert str(CHAT) not in message, "chat ids are pseudonyms, even then"
        assert "秘密子" not in message
    assert hidden.startswith("got <text of ")
    assert "telegram#" in hidden


def test_line_user_ids_are_pseudonyms(scrubbed: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    user = "U" + "0123456789abcdef" * 2
    logging.getLogger("bot.test").info("push to %s failed", user)
    logging.getLogger("bot.test").info(f"push to {user} failed")
    for record in caplog.records:
        assert user not in record.getMessage()
        assert "line#" in record.getMessage()


def test_a_failed_statement_does_not_log_the_values(
    scrubbed: None, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A database error is logged with its traceback: the values (a member's name, what they
    wrote) are not in it, neither SQLAlchemy's parameters nor PostgreSQL's DETAIL line."""
    with database.session() as session:
        row = {"channel": "telegram", "external_id": str(CHAT), "language": "ja"}
        values = {**row, "role": "member", "subscription": "subscribed", "display_name": FIRST}
        try:
            session.execute(insert(MemberRow), [values])  # the NOT NULL times are missing
        except DBAPIError as exc:
            logging.getLogger("bot.test").exception("could not store: %s", exc)
    (line,) = rendered(caplog, at_least=logging.ERROR)
    assert "Traceback" in line
    assert FIRST not in line
    assert str(CHAT) not in line
