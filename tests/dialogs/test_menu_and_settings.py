"""The main menu, help, settings and language, and what organisers alone can see."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.config import Settings
from bot.domain.members import Member, Role, Scope, Subscription
from bot.domain.messages import MemberRef
from bot.services.conversation import Conversation
from tests.dialogs.chat import Chat
from tests.dialogs.test_registration import register

Stored = Callable[[str], Member]
MENU = ["予定", "質問", "通知設定", "ヘルプ"]


@pytest.mark.parametrize("word", ["メニュー", "めにゅー", "  メニュー。", "ﾒﾆｭｰ", "menu", "/menu"])
def test_the_menu_is_reachable_by_plain_words(chat: Chat, word: str) -> None:
    register(chat, "板橋区")
    chat.say(word)
    assert chat.labels() == MENU


@pytest.mark.parametrize("word", ["ヘルプ", "へるぷ", "使い方", "help", "/help"])
def test_help_explains_the_menu(chat: Chat, word: str) -> None:
    register(chat, "板橋区")
    chat.say(word)
    assert "使い方" in chat.text
    assert "配信停止" in chat.text
    assert "世話人" not in chat.text
    assert chat.labels() == MENU


def test_menu_buttons_lead_where_their_labels_say(chat: Chat) -> None:
    register(chat, "板橋区")
    chat.press("通知設定")
    assert "いまの設定" in chat.text
    chat.press("メニューに戻る")
    chat.press("ヘルプ")
    assert "使い方" in chat.text


def test_events_with_an_empty_calendar_and_how_to_ask_a_question(chat: Chat) -> None:
    register(chat, "板橋区")
    chat.press("予定")
    assert "いまお知らせできる予定はありません" in chat.text
    assert chat.labels() == MENU
    chat.press("質問")
    assert "ふつうの言葉で書いて送ってください" in chat.text


def test_settings_show_the_current_choices(chat: Chat) -> None:
    register(chat, "板橋区", "渋谷区")
    chat.say("通知設定")
    assert "地域: 渋谷区、板橋区" in chat.text
    assert "お知らせ: すべて受け取る" in chat.text
    assert "言語: 日本語" in chat.text
    assert chat.labels() == [
        "地域を変える",
        "集会のお知らせだけにする",
        "お知らせを止める",
        "English",
        "登録情報",
        "メニューに戻る",
    ]


def test_changing_regions_from_settings(chat: Chat, stored: Stored) -> None:
    register(chat, "板橋区")
    chat.say("設定")
    chat.press("地域を変える")
    chat.press("✓ 板橋区")
    chat.press("西東京市")
    chat.press("決定")

    assert "地域を「西東京市」にしました" in chat.text
    assert "いまの設定" in chat.text
    assert stored("alice").regions == {"nishitokyo"}


def test_notifications_off_and_on_from_settings(chat: Chat, stored: Stored) -> None:
    register(chat, "板橋区")
    chat.say("通知設定")
    chat.press("お知らせを止める")
    assert stored("alice").subscription is Subscription.UNSUBSCRIBED
    assert "お知らせ: 受け取らない" in chat.text

    chat.press("お知らせをすべて受け取る")
    assert stored("alice").subscription is Subscription.SUBSCRIBED
    assert "お知らせ: すべて受け取る" in chat.text


def test_rallies_only_from_settings_and_back_to_all(chat: Chat, stored: Stored) -> None:
    register(chat, "板橋区")
    chat.say("通知設定")
    chat.press("集会のお知らせだけにする")
    assert stored("alice").scope is Scope.RALLIES
    assert stored("alice").subscription is Subscription.SUBSCRIBED
    assert "お知らせ: 集会のお知らせだけ受け取る" in chat.text
    assert "「参加」と答えた予定のお知らせは、これまでどおり届きます" in chat.text
    assert "集会のお知らせだけにする" not in chat.labels()

    chat.press("お知らせを止める")
    assert stored("alice").subscription is Subscription.UNSUBSCRIBED
    chat.press("集会のお知らせだけにする")  # from nothing straight to rallies only
    assert stored("alice").subscription is Subscription.SUBSCRIBED
    assert stored("alice").scope is Scope.RALLIES

    chat.press("お知らせをすべて受け取る")
    assert stored("alice").scope is Scope.ALL


def test_switching_to_english_and_back(chat: Chat, stored: Stored) -> None:
    register(chat, "板橋区")
    chat.say("通知設定")
    chat.press("English")

    assert stored("alice").language == "en"
    assert "Language: English" in chat.text
    chat.press("Back to menu")
    assert chat.labels() == ["Events", "Questions", "Settings", "Help"]
    chat.say("help")
    assert "How to use" in chat.text
    chat.say("ヘルプ")
    assert "How to use" in chat.text, "Japanese words keep working for English speakers"

    chat.say("settings")
    chat.press("日本語")
    assert stored("alice").language == "ja"
    assert "表示を日本語にしました" in chat.text


def test_sign_ups_are_for_organisers_only(chat: Chat) -> None:
    register(chat, "板橋区")
    chat.say("登録状況")
    assert "世話人だけ" in chat.text
    assert "登録状況" not in chat.labels()


def test_organisers_see_sign_up_counts(
    conversation: Conversation, settings: Settings, stored: Stored
) -> None:
    for name, regions in (("a", ["板橋区"]), ("b", ["板橋区", "渋谷区"]), ("c", [])):
        member = Chat(conversation, MemberRef("console", name))
        if regions:
            register(member, *regions)
        else:
            member.say("/start")
    Chat(conversation, MemberRef("console", "b")).say("/stop")
    organiser_id = settings.config.channels.console.organiser_id
    organiser = Chat(conversation, MemberRef("console", organiser_id))
    register(organiser, "都全体")

    organiser.say("ヘルプ")
    assert "世話人のかたへ" in organiser.text
    assert "登録状況" in organiser.labels()
    organiser.press("登録状況")

    # c only said /start and never answered the consent question: not stored, not counted.
    assert "登録: 3人" in organiser.text
    assert "お知らせを受け取る: 2人" in organiser.text
    assert "返事待ち: 0人" in organiser.text
    assert "停止中: 1人" in organiser.text
    assert "・板橋区: 1人" in organiser.text
    assert "・都全体: 1人" in organiser.text
    assert "渋谷区" not in organiser.text, "b stopped, so 渋谷区 has no subscribers"
    assert stored(organiser_id).role is Role.ORGANISER
