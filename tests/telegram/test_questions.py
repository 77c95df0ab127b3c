"""Questions through Telegram: answers with named sources, もしかして, and the organiser relay."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.tables import DeliveryRow
from tests.events.conftest import CALENDAR, STUDY, with_changes
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_state import SentMessage
from tests.telegram.conftest import ORGANISER_ID, RunningBot
from tests.telegram.test_journey import HANAKO, open_card, register, reply_to


def links(message: SentMessage) -> list[tuple[str, str]]:
    """The message's link buttons (a web page opened by its name): (name, address)."""
    return [
        (label, target)
        for row in message.inline_buttons
        for label, target in row
        if target is not None and target.startswith(("https://", "http://"))
    ]


def choices(message: SentMessage) -> list[tuple[str, str | None]]:
    """The message's other inline buttons: the ones that come back to the bot."""
    return [
        button for row in message.inline_buttons for button in row if button not in links(message)
    ]


async def test_a_question_is_answered_with_source_and_date(
    serving: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    question = "マイナンバーカードを落としてしまいました"
    (answer,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, question))
    assert "0120-95-0178" in answer.text
    assert "確認日: 2026年11月20日" in answer.text
    assert "世話人に聞く" in answer.button_labels
    # The source is a link button named after it, under the choices; never a raw address.
    (source,) = links(answer)
    assert source[0].startswith("出典: ")
    assert source[1].startswith("https://")
    assert "https://" not in answer.text


async def test_a_close_call_offers_the_neighbouring_answers(
    serving: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    (answer,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "資格確認書の期限"))
    assert "近い質問の答えもあります" in answer.text
    others = [label for label, _ in choices(answer) if label not in ("くわしく", "世話人に聞く")]
    assert 1 <= len(others) <= 2
    (other,) = await reply_to(
        fake, HANAKO, lambda: fake.press_button(HANAKO, answer.message_id, label=others[0])
    )
    assert "確認日:" in other.text
    assert len(links(other)) == 1
    assert other.text != answer.text


async def test_off_topic_is_declined(serving: RunningBot, fake: FakeTelegram) -> None:
    await register(fake, HANAKO)
    declined, _menu = await reply_to(
        fake, HANAKO, lambda: fake.send_text(HANAKO, "明日の天気は？"), 2
    )
    assert "この質問にはお答えできません" in declined.text


async def test_relay_to_an_organiser_and_back(serving: RunningBot, fake: FakeTelegram) -> None:
    await register(fake, ORGANISER_ID, region="都全体")
    await register(fake, HANAKO)
    question = "板橋区役所の国保の窓口は土曜もあいてますか"
    await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, question))
    asked = [m for m in fake.messages(HANAKO) if "世話人に聞く" in m.button_labels][-1]
    before = len(fake.messages(ORGANISER_ID))
    (sent,) = await reply_to(
        fake, HANAKO, lambda: fake.press_button(HANAKO, asked.message_id, label="世話人に聞く")
    )
    assert "世話人に質問を送りました" in sent.text

    (relayed,) = (await fake.messages_eventually(ORGANISER_ID, before + 1))[before:]
    assert "【会員からの質問 #" in relayed.text
    assert f"「{question}」" in relayed.text
    (prompt,) = await reply_to(
        fake,
        ORGANISER_ID,
        lambda: fake.press_button(ORGANISER_ID, relayed.message_id, label="返事を書く"),
    )
    assert "への返事を書いて送ってください" in prompt.text

    before = len(fake.messages(HANAKO))
    reply = "土曜は閉まっています。平日に。"
    (done,) = await reply_to(fake, ORGANISER_ID, lambda: fake.send_text(ORGANISER_ID, reply))
    assert "に返事を送りました" in done.text
    (answer,) = (await fake.messages_eventually(HANAKO, before + 1))[before:]
    assert answer.text.startswith("【世話人からの返事】")
    assert reply in answer.text

    def states() -> list[str]:
        with serving.database.session() as session:
            return [r.state for r in session.scalars(select(DeliveryRow).order_by(DeliveryRow.id))]

    await fake.until(lambda: states() == ["sent", "sent"], description="both recorded as sent")


async def test_a_changed_event_reaches_those_who_answered(
    serving: RunningBot, fake: FakeTelegram
) -> None:
    serving.app.calendar_sync.sync(CALENDAR)
    await register(fake, HANAKO)
    card = await open_card(fake, HANAKO, "学習会")
    await reply_to(fake, HANAKO, lambda: fake.press_button(HANAKO, card.message_id, label="未定"))
    before = len(fake.messages(HANAKO))

    moved = with_changes(STUDY, venue=None)
    serving.app.calendar_sync.sync(CALENDAR.__class__(events=(*CALENDAR.events[:2], moved)))

    (notice,) = (await fake.messages_eventually(HANAKO, before + 1))[before:]
    assert notice.text.startswith("【予定の変更】「マイナ保険証 学習会」")
    assert "場所: 板橋区立グリーンホール → 未定" in notice.text
