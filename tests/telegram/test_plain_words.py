"""Issue 12 through the real python-telegram-bot stack and the fake Bot API: a button's words
typed press it, a lone number with no choices shows the menu, 私のID shows the Telegram id,
and a relayed question shows the organiser what the bot had answered."""

from __future__ import annotations

from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import ORGANISER_ID, RunningBot
from tests.telegram.test_journey import register, reply_to

HANAKO = 1101


async def test_typing_a_buttons_words_presses_it(running: RunningBot, fake: FakeTelegram) -> None:
    await register(fake, HANAKO)
    (settings,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "通知設定"))
    assert "地域を変える" in settings.button_labels

    (picker,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "地域を変える"))

    assert "✓ 板橋区" in picker.button_labels


async def test_a_lone_number_with_nothing_to_choose_shows_the_menu(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "ヘルプ"))
    (menu,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "1"))
    assert menu.text == "ご用件を下のボタンから選んでください。"


async def test_my_id_shows_the_number_to_give_the_office(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    (reply,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "私のID"))
    assert f"あなたのID: telegram {HANAKO}" in reply.text


async def test_a_relayed_question_shows_the_organiser_what_the_bot_answered(
    serving: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, ORGANISER_ID, region="都全体")
    await register(fake, HANAKO)
    answer, *_ = await reply_to(
        fake, HANAKO, lambda: fake.send_text(HANAKO, "保険証はいつまで使えますか")
    )
    assert "世話人に聞く" in answer.button_labels
    before = len(fake.messages(ORGANISER_ID))
    fake.press_button(HANAKO, answer.message_id, label="世話人に聞く")
    relayed = await fake.messages_eventually(ORGANISER_ID, before + 1)

    assert "「保険証はいつまで使えますか」" in relayed[-1].text
    assert "ボットの答え: 「" in relayed[-1].text


async def test_asking_for_the_contact_gives_the_campaigns_card(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    (card,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "問い合わせ"))
    assert card.text.startswith("【問い合わせ先】\n東京社保協 事務局")
