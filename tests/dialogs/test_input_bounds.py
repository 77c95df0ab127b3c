"""Hole 8 (input): nothing a member can type crashes a turn.

Text is bounded after NFKC normalisation (what the question matcher and its tokenizer see),
lone surrogates are replaced, display names are cleaned and cut, and the console reads bytes
that are not UTF-8.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable

import pytest

from bot.channels.console import ConsoleChannel
from bot.domain.members import Member
from bot.domain.messages import MAX_NAME_CHARS, MAX_TEXT_CHARS, MemberRef, clean_text
from bot.services.conversation import Conversation
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.dialogs.test_registration import register

Stored = Callable[[str], Member]
APOLOGY = "申し訳ありません"

# Characters whose NFKC form is much longer than themselves.
GROWING = ["\ufdfa", "\ufdfb", "\u3300", "\u33ff", "\u2474", "\ufb2c", "\u0390"]


@pytest.mark.parametrize("ch", GROWING, ids=[f"U+{ord(c):04X}" for c in GROWING])
@pytest.mark.parametrize("times", [1, 700, MAX_TEXT_CHARS, 10 * MAX_TEXT_CHARS])
def test_text_is_bounded_after_normalisation(ch: str, times: int) -> None:
    cleaned = clean_text(ch * times)
    assert len(unicodedata.normalize("NFKC", cleaned)) <= MAX_TEXT_CHARS
    assert cleaned, "something is kept"


@pytest.mark.parametrize("ch", ["\ufdfa", "\ufdfb", "\u3300"])
def test_characters_that_grow_under_nfkc_do_not_crash_the_question_matcher(
    chat: Chat, ch: str
) -> None:
    register(chat, "板橋区")
    chat.say(ch * MAX_TEXT_CHARS)
    assert APOLOGY not in chat.text
    chat.say("保険証 " + ch * 5000)
    assert APOLOGY not in chat.text


def test_lone_surrogates_and_controls_are_stored_and_answered(chat: Chat, stored: Stored) -> None:
    register(chat, "板橋区")
    chat.say("保険証\ud800は\udcffどうなる\x1b[31m")
    assert APOLOGY not in chat.text
    assert "\ud800" not in (stored("alice").last_question or "")


def test_a_long_or_odd_display_name_is_cut_and_cleaned(
    conversation: Conversation, stored: Stored
) -> None:
    chat = Chat(
        conversation, MemberRef("console", "bob", display_name="\x1b[2J名" * 300 + "\ud800")
    )
    register(chat, "板橋区")
    assert APOLOGY not in chat.text
    name = stored("bob").display_name
    assert name is not None
    assert len(name) <= MAX_NAME_CHARS
    assert "\x1b" not in name
    assert "\ud800" not in name


@pytest.mark.parametrize("errors", ["strict", "surrogateescape"])
def test_the_console_reads_bytes_that_are_not_utf8(conversation: Conversation, errors: str) -> None:
    raw = b"/start\n\xff\xfe\x80 \x82\xa0\x82\xa2\n1\n\xe3\x81\n"
    stdin = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", errors=errors)
    out = io.StringIO()
    ConsoleChannel(
        conversation.reply_to,
        MemberRef("console", "tty"),
        Catalogues.load()["ja"],
        stdin,
        out,
    ).run()
    shown = out.getvalue()
    assert APOLOGY not in shown
    assert "地域を選んでください" in shown, "the session went on after the bad line"
