"""A member's whole journey through the real python-telegram-bot stack and the fake Bot API."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.members import Member, Role, Subscription
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.telegram.conftest import ORGANISER_ID, RunningBot

HANAKO = 1001
MENU = [["予定", "質問"], ["通知設定", "ヘルプ"]]


def stored(running: RunningBot, chat_id: int) -> Member:
    with running.database.unit_of_work() as uow:
        member = uow.members.get("telegram", str(chat_id))
    assert member is not None
    return member


def shown_keyboard(fake: FakeTelegram, chat_id: int) -> list[list[str]] | None:
    """The reply keyboard the member sees: Telegram keeps the last one sent until replaced."""
    keyboards = [m.reply_keyboard for m in fake.messages(chat_id) if m.reply_keyboard]
    return keyboards[-1] if keyboards else None


async def reply_to(
    fake: FakeTelegram,
    chat_id: int,
    act: Callable[[], object],
    count: int = 1,
    *,
    timeout: float = 5.0,  # noqa: ASYNC109 - mirrors the fake's own waiting helpers
) -> list[SentMessage]:
    """Do something as the member and wait for `count` more messages from the bot."""
    before = len(fake.messages(chat_id))
    act()
    messages = await fake.messages_eventually(chat_id, before + count, timeout)
    return messages[before:]


async def test_first_contact_consent_region_menu(running: RunningBot, fake: FakeTelegram) -> None:
    fake.add_user(HANAKO, "花子", last_name="山田")

    welcome, consent = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "/start"), 2)
    assert "東京社保協" in welcome.text
    assert "【記録すること】" in welcome.text
    assert consent.button_labels == ["はい、受け取ります", "いいえ、受け取りません"]

    (picker,) = await reply_to(
        fake,
        HANAKO,
        lambda: fake.press_button(HANAKO, consent.message_id, label="はい、受け取ります"),
    )
    # Stored from the consent answer on (nothing before), with the name Telegram gave.
    assert stored(running, HANAKO).display_name == "花子 山田"
    assert fake.message(HANAKO, consent.message_id).text.startswith("ありがとうございます")
    assert "地域を選んでください" in picker.text
    assert len(fake.callback_answers) == 1, "every button press is answered"

    fake.press_button(HANAKO, picker.message_id, label="板橋区")
    await fake.until(lambda: "✓ 板橋区" in fake.message(HANAKO, picker.message_id).button_labels)
    assert len(fake.messages(HANAKO)) == 3, "the picker is updated in place"
    assert stored(running, HANAKO).regions == {"itabashi"}

    (done,) = await reply_to(
        fake, HANAKO, lambda: fake.press_button(HANAKO, picker.message_id, label="決定")
    )
    assert "登録が終わりました" in done.text
    assert done.reply_keyboard == MENU
    assert fake.last_message(HANAKO).reply_markup is not None
    member = stored(running, HANAKO)
    assert member.subscription is Subscription.SUBSCRIBED
    assert member.consent_at is not None


async def register(fake: FakeTelegram, chat_id: int, region: str = "板橋区") -> None:
    fake.add_user(chat_id, f"会員{chat_id}")
    _, consent = await reply_to(fake, chat_id, lambda: fake.send_text(chat_id, "/start"), 2)
    (picker,) = await reply_to(
        fake,
        chat_id,
        lambda: fake.press_button(chat_id, consent.message_id, label="はい、受け取ります"),
    )
    fake.press_button(chat_id, picker.message_id, label=region)
    await fake.until(
        lambda: f"✓ {region}" in fake.message(chat_id, picker.message_id).button_labels
    )
    await reply_to(
        fake, chat_id, lambda: fake.press_button(chat_id, picker.message_id, label="決定")
    )


async def open_card(fake: FakeTelegram, chat_id: int, title: str) -> SentMessage:
    """As a member opens an event: 「予定」, then the button of the event whose line in the
    list contains `title`; the card that comes."""
    (listing,) = await reply_to(fake, chat_id, lambda: fake.send_text(chat_id, "予定"))
    lines = [line for line in listing.text.splitlines() if line.startswith("・")]
    buttons = [data for row in listing.inline_buttons for _, data in row]
    index = next((i for i, line in enumerate(lines) if title in line), None)
    assert index is not None, f"no event {title!r} in the list:\n{listing.text}"
    (card,) = await reply_to(
        fake,
        chat_id,
        lambda: fake.press_button(chat_id, listing.message_id, data=buttons[index]),
    )
    return card


async def test_menu_settings_stop_and_start_again(running: RunningBot, fake: FakeTelegram) -> None:
    await register(fake, HANAKO)

    # The reply keyboard sends its label as text.
    (settings,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "通知設定"))
    assert "地域: 板橋区" in settings.text
    (picker,) = await reply_to(
        fake, HANAKO, lambda: fake.press_button(HANAKO, settings.message_id, label="地域を変える")
    )
    fake.press_button(HANAKO, picker.message_id, label="渋谷区")
    await fake.until(lambda: "✓ 渋谷区" in fake.message(HANAKO, picker.message_id).button_labels)
    (saved,) = await reply_to(
        fake, HANAKO, lambda: fake.press_button(HANAKO, picker.message_id, label="決定")
    )
    assert "渋谷区、板橋区" in saved.text
    assert stored(running, HANAKO).regions == {"shibuya", "itabashi"}

    (stopped,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "/stop"))
    assert "配信再開" in stopped.text
    assert stored(running, HANAKO).subscription is Subscription.UNSUBSCRIBED

    (back,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "/start"))
    assert "再開しました" in back.text
    assert stored(running, HANAKO).subscription is Subscription.SUBSCRIBED


async def test_two_members_at_once_each_get_their_own_answers(
    running: RunningBot, fake: FakeTelegram
) -> None:
    for chat_id in (2001, 2002):
        fake.add_user(chat_id, f"会員{chat_id}")
        fake.send_text(chat_id, "/start")
    for chat_id in (2001, 2002):
        welcome, consent = await fake.messages_eventually(chat_id, 2)
        assert "東京社保協" in welcome.text
        assert consent.button_labels[0] == "はい、受け取ります"
    fake.send_text(2001, "ヘルプ")
    fake.send_text(2002, "/stop")
    await fake.until(lambda: len(fake.messages(2001)) == 3 and len(fake.messages(2002)) == 3)
    assert "使い方" in fake.last_message(2001).text
    assert "止めました" in fake.last_message(2002).text


async def test_a_members_quick_messages_are_answered_in_order(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    before = len(fake.messages(HANAKO))
    for word in ("ヘルプ", "通知設定", "メニュー", "予定"):
        fake.send_text(HANAKO, word)
    replies = (await fake.messages_eventually(HANAKO, before + 4))[before:]
    assert ["使い方" in replies[0].text, "いまの設定" in replies[1].text] == [True, True]
    assert "ボタンから選んでください" in replies[2].text
    assert "予定はありません" in replies[3].text


async def test_an_organiser_sees_sign_ups(running: RunningBot, fake: FakeTelegram) -> None:
    await register(fake, 3001)
    await register(fake, ORGANISER_ID, region="都全体")
    assert stored(running, ORGANISER_ID).role is Role.ORGANISER
    assert fake.last_message(ORGANISER_ID).reply_keyboard == [
        *MENU,
        ["登録状況", "参加状況"],
        ["一斉送信", "送信一覧", "中止連絡"],
    ]

    (stats,) = await reply_to(fake, ORGANISER_ID, lambda: fake.send_text(ORGANISER_ID, "登録状況"))
    assert "登録: 2人" in stats.text
    assert "・板橋区: 1人" in stats.text


async def test_the_command_menu_is_registered_in_japanese_and_english(
    running: RunningBot, fake: FakeTelegram
) -> None:
    japanese = {c["command"]: c["description"] for c in fake.commands(language_code="ja")}
    english = {c["command"]: c["description"] for c in fake.commands(language_code="en")}
    default = {c["command"]: c["description"] for c in fake.commands()}
    assert japanese["stop"] == "お知らせを止める"
    assert english["stop"] == "Stop notices"
    assert default == japanese
    assert set(japanese) == {"start", "menu", "events", "ask", "settings", "help", "stop"}


async def test_deep_link_payload_reaches_the_core(running: RunningBot, fake: FakeTelegram) -> None:
    fake.add_user(HANAKO, "花子")
    welcome, _ = await reply_to(
        fake, HANAKO, lambda: fake.send_command(HANAKO, "/start", "ev_rally"), 2
    )
    assert "東京社保協" in welcome.text


async def test_the_menu_keyboard_is_not_resent_with_every_reply(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    keyboards_before = sum(1 for m in fake.messages(HANAKO) if m.reply_keyboard)
    for word in ("ヘルプ", "メニュー"):
        await reply_to(fake, HANAKO, lambda word=word: fake.send_text(HANAKO, word))
    assert sum(1 for m in fake.messages(HANAKO) if m.reply_keyboard) == keyboards_before
    assert shown_keyboard(fake, HANAKO) == MENU

    # Switching language changes the labels: the new keyboard is sent.
    (settings,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "通知設定"))
    await reply_to(
        fake, HANAKO, lambda: fake.press_button(HANAKO, settings.message_id, label="English")
    )
    await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "menu"))
    assert shown_keyboard(fake, HANAKO) == [["Events", "Questions"], ["Settings", "Help"]]
