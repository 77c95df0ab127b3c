"""Words work like buttons (issue 12): a button's words typed as text press it, common ways
of saying them too; a number with nothing on screen shows the menu; asking how the bot works
gets help; the contact card answers 問い合わせ, 入会, 署名用紙 and closes a decline."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.config import Settings
from bot.domain.campaign import Contact
from bot.domain.messages import MemberRef
from bot.faq.matcher import FaqEngine
from bot.services.conversation import Conversation
from bot.services.faq import Answers
from bot.store.database import Database
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.dialogs.test_registration import register
from tests.fakes.clock import FakeClock

OFFICE = Contact(
    organisation="東京社保協 事務局",
    phone="03-5395-3165",
    hours="平日10時〜17時",
    join_url="https://example.org/join",
)


@pytest.fixture
def with_contact(
    settings: Settings, database: Database, clock: FakeClock, shipped_engine: FaqEngine
) -> Chat:
    campaign = replace(settings.campaign(), contact=OFFICE)
    conversation = Conversation(
        database.unit_of_work, campaign, Catalogues.load(), clock, Answers(lambda: shipped_engine)
    )
    chat = Chat(conversation, MemberRef("console", "hana", display_name="はな"))
    register(chat, "豊島区")
    return chat


def test_a_label_typed_presses_its_button(chat: Chat) -> None:
    register(chat, "豊島区")
    chat.say("通知設定")
    assert "地域を変える" in chat.labels()

    chat.say("地域を変える")

    assert "どの地域" in chat.text or "地域" in chat.text
    assert "✓ 豊島区" in chat.labels(), "the region picker, as the button shows it"


def test_a_ticked_label_typed_without_its_tick_still_presses_it(chat: Chat) -> None:
    register(chat, "豊島区")
    chat.say("通知設定")
    chat.press("地域を変える")
    chat.say("練馬区")
    assert "✓ 練馬区" in chat.labels()
    chat.say("練馬区")
    assert "練馬区" in chat.labels()
    assert "✓ 練馬区" not in chat.labels()


def test_a_number_with_nothing_on_screen_shows_the_menu_not_an_answer(chat: Chat) -> None:
    register(chat, "豊島区")
    chat.say("ヘルプ")
    chat.say("1")
    assert "ご用件を下のボタンから選んでください" in chat.text
    assert "お答え" not in chat.text


def test_a_number_picks_the_button_that_says_it(chat: Chat) -> None:
    register(chat, "豊島区")
    chat.say("通知設定")
    labels = [label for label in chat.labels() if label not in {"予定", "質問"}]
    chat.say("2")
    assert chat.labels() != labels, "the second choice was pressed"


def test_the_word_organiser_typed_after_an_unanswered_question_relays_it(
    chat: Chat, database: Database
) -> None:
    register(chat, "豊島区")
    chat.say("保険証の色は何色ですか")
    chat.say("世話人")
    assert "世話人がまだこのボットに登録していない" in chat.text or "送りました" in chat.text


@pytest.mark.parametrize(
    "text", ["このボットの使い方を教えて", "何ができますか", "どうやって使うの", "what can you do"]
)
def test_asking_how_the_bot_works_shows_help(chat: Chat, text: str) -> None:
    register(chat, "豊島区")
    chat.say(text)
    assert "【使い方】" in chat.text or "[How to use]" in chat.text


def test_asking_how_to_use_the_card_is_still_a_question(chat: Chat) -> None:
    register(chat, "豊島区")
    chat.say("マイナ保険証の使い方がわからない")
    assert "【使い方】" not in chat.text


def test_asking_for_the_contact_shows_the_contact_card(with_contact: Chat) -> None:
    with_contact.say("問い合わせ")
    assert with_contact.text == (
        "【問い合わせ先】\n東京社保協 事務局\n電話: 03-5395-3165\n受付: 平日10時〜17時"
    )


def test_joining_and_the_signature_form_say_where(with_contact: Chat) -> None:
    with_contact.say("入会したいです")
    assert "https://" not in with_contact.text
    (reply,) = with_contact.replies
    assert [(link.label, link.url) for link in reply.links] == [
        ("入会のご案内", "https://example.org/join")
    ]
    with_contact.say("署名用紙がほしい")
    assert "署名用紙は、事務局からお送りします" in with_contact.text
    assert "電話: 03-5395-3165" in with_contact.text


def test_a_decline_says_whom_to_call(with_contact: Chat) -> None:
    with_contact.say("明日の天気を教えて")
    assert "お答えできません" in with_contact.text
    assert "東京社保協 事務局（電話 03-5395-3165）" in with_contact.text


def test_no_organiser_to_relay_to_gives_the_contact_card(with_contact: Chat) -> None:
    with_contact.say("保険証の色は何色ですか")
    with_contact.press("世話人に聞く")
    assert "届けられませんでした" in with_contact.text
    assert "電話: 03-5395-3165" in with_contact.text


def test_my_id_shows_the_id_to_give_the_office(chat: Chat) -> None:
    register(chat, "豊島区")
    chat.say("私のID")
    assert "あなたのID: console alice" in chat.text
    chat.say("/whoami")
    assert "あなたのID: console alice" in chat.text
