"""Whatever a member sends, the bot answers politely and stores nothing wrong."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.config import Settings
from bot.domain.members import Member, Subscription
from bot.domain.messages import Incoming, MemberRef
from bot.services.conversation import Conversation
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.dialogs.test_registration import register
from tests.fakes.clock import FakeClock

Stored = Callable[[str], Member]
MENU = ["予定", "質問", "通知設定", "ヘルプ"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "あ" * 10_000,
        "🙂🙏🏻👨‍👩‍👧",
        "\x00\x07\x1b[31mred\x1b[0m",
        "保険証\u200bどうなる",
        "<b>bold</b> & <script>",
        "SELECT * FROM members; --",
    ],
    ids=["empty", "spaces", "10000-chars", "emoji", "control", "zero-width", "html", "sql"],
)
def test_odd_text_gets_a_polite_reply_with_the_menu(chat: Chat, stored: Stored, text: str) -> None:
    register(chat, "板橋区")
    chat.say(text)

    assert chat.labels(), "there is always a way on: the menu, or choices"
    assert "申し訳ありません" not in chat.text
    member = stored("alice")
    assert member.regions == {"itabashi"}
    assert member.subscription is Subscription.SUBSCRIBED


def test_unknown_commands_are_named_back(chat: Chat) -> None:
    register(chat, "板橋区")
    chat.say("/frobnicate now")
    assert "/frobnicate" in chat.text
    assert chat.labels() == MENU


def test_command_addressed_to_the_bot_by_name(chat: Chat) -> None:
    register(chat, "板橋区")
    chat.say("/help@shahokyo_bot")
    assert "使い方" in chat.text


@pytest.mark.parametrize(
    "payload",
    [
        "garbage",
        "",
        "0:menu:help",
        "1:nosuch",
        "1:menu:nosuch",
        "1:menu:help:extra",
        "1:region:atlantis:onboarding",
        "1:region:itabashi:nowhere",
        "1:consent:maybe",
        "1:lang:fr",
        "1:notify:sometimes",
        "1:region",
        "x" * 500,
    ],
)
def test_stale_or_forged_buttons_are_refused_politely(
    chat: Chat, stored: Stored, payload: str
) -> None:
    register(chat, "板橋区")
    before = stored("alice")

    chat.press_raw(payload)

    assert chat.labels() == MENU or "地域" in chat.text
    assert "申し訳ありません" not in chat.text
    after = stored("alice")
    assert after.regions == before.regions
    assert after.subscription is before.subscription
    assert after.language == before.language


def test_forged_region_is_refused_without_storing(chat: Chat, stored: Stored) -> None:
    register(chat, "板橋区")
    chat.press_raw("1:region:atlantis:settings")
    assert "その地域は選べません" in chat.text
    assert stored("alice").regions == {"itabashi"}


def test_organiser_only_button_pressed_by_a_member(chat: Chat) -> None:
    register(chat, "板橋区")
    chat.press_raw("1:menu:stats")
    assert "世話人だけ" in chat.text


def test_a_pending_member_who_rambles_is_asked_for_consent_again(chat: Chat) -> None:
    chat.say("/start")
    chat.say("えーと、なんだっけ")
    assert "受け取りますか" in chat.text
    assert chat.labels() == ["はい、受け取ります", "いいえ、受け取りません"]


class _BrokenUnitOfWork:
    def __enter__(self) -> _BrokenUnitOfWork:
        raise ConnectionError("database is down")

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_failure_becomes_an_apology_not_a_traceback(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    conversation = Conversation(
        _BrokenUnitOfWork,  # type: ignore[arg-type]  # a unit of work that cannot open
        settings.campaign(),
        Catalogues.load(),
        clock,
    )
    replies = conversation.reply_to(Incoming.from_text(MemberRef("console", "bob"), "/start"))

    assert len(replies) == 1
    assert "申し訳ありません" in replies[0].text
    assert "Traceback" not in replies[0].text
    assert "database is down" in caplog.text
