"""Answering events through the real python-telegram-bot stack and the fake Bot API."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.tables import DeliveryRow, RsvpRow
from tests.events.conftest import CALENDAR, HIBIYA, ONLINE, RALLY, ZOOM, at, called_off
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.telegram.conftest import RunningBot
from tests.telegram.test_journey import open_card, register, reply_to

ALICE, BOB = 1101, 1102
APOLOGY = "申し訳ありません"


def url_buttons(message: SentMessage) -> list[tuple[str, str]]:
    """The message's link buttons (they open a page; nothing comes back to the bot)."""
    markup = message.reply_markup or {}
    return [
        (button["text"], button["url"])
        for row in markup.get("inline_keyboard", [])
        for button in row
        if "url" in button
    ]


async def card_of(fake: FakeTelegram, chat_id: int, title: str) -> int:
    """The message id of the event's card, opened from 予定."""
    return (await open_card(fake, chat_id, title)).message_id


async def test_answer_guests_then_the_calendar_file_on_request(
    running: RunningBot, fake: FakeTelegram
) -> None:
    running.app.calendar_sync.sync(CALENDAR)
    await register(fake, ALICE)
    (listing,) = await reply_to(fake, ALICE, lambda: fake.send_text(ALICE, "予定"))
    assert listing.button_labels == [
        "12月7日 保険証を残せ 12.7大集会",
        "12月10日 マイナ保険証 学習会",
    ]
    assert "予定はここまでです。" in listing.text

    rally = await card_of(fake, ALICE, "12.7大集会")
    (question,) = await reply_to(
        fake, ALICE, lambda: fake.press_button(ALICE, rally, label="参加する")
    )
    card = fake.message(ALICE, rally)
    assert "あなたの返事: 参加" in card.text, "the card pressed is edited in place"
    assert len(card.edits) == 1
    assert card.button_labels == ["参加する", "未定", "行けない", "地図を開く"]
    assert url_buttons(card) == [("地図を開く", HIBIYA.map_url)], "the map, still a link"
    assert question.text == "ご一緒に来る方は何人ですか？\n席の残りが少ないため、2人までです。"
    assert question.button_labels == ["ひとりで行く", "1人", "2人"], "capacity 3: two fit"
    assert fake.requests("sendDocument") == [], "no file in the answer"
    with running.database.session() as session:
        assert [(r.status, r.guests) for r in session.scalars(select(RsvpRow))] == [("going", 0)]

    count = len(fake.messages(ALICE))
    fake.press_button(ALICE, question.message_id, label="2人")
    await fake.until(lambda: "同行の方2人" in fake.message(ALICE, question.message_id).text)
    confirmation = fake.message(ALICE, question.message_id)
    assert confirmation.text == (
        "12月7日(月)の「保険証を残せ 12.7大集会」に、同行の方2人と参加で受け付けました。"
    )
    assert confirmation.button_labels == ["カレンダーに追加"]
    assert len(fake.messages(ALICE)) == count, "the question became the confirmation"
    with running.database.session() as session:
        assert [(r.status, r.guests) for r in session.scalars(select(RsvpRow))] == [("going", 2)]

    text, ics = await reply_to(
        fake,
        ALICE,
        lambda: fake.press_button(ALICE, question.message_id, label="カレンダーに追加"),
        2,
    )
    assert "カレンダーに入れるファイルです" in text.text
    assert ics.document is not None
    assert ics.document.filename == "rally-1207-once.ics"
    assert b"SUMMARY:" in ics.document.content
    assert fake.message(ALICE, question.message_id).button_labels == ["カレンダーに追加"]


async def test_a_calendar_file_that_fails_leaves_the_answer_alone(
    running: RunningBot, fake: FakeTelegram
) -> None:
    running.app.calendar_sync.sync(CALENDAR)
    await register(fake, ALICE)
    study = await card_of(fake, ALICE, "学習会")
    (question,) = await reply_to(
        fake, ALICE, lambda: fake.press_button(ALICE, study, label="参加する")
    )
    fake.press_button(ALICE, question.message_id, label="ひとりで行く")
    await fake.until(lambda: "受け付けました" in fake.message(ALICE, question.message_id).text)
    fake.refuse_next("Bad Request: file must be non-empty", methods="sendDocument")

    (text,) = await reply_to(
        fake,
        ALICE,
        lambda: fake.press_button(ALICE, question.message_id, label="カレンダーに追加"),
    )
    await fake.until(lambda: len(fake.requests("sendDocument")) == 1)

    assert "カレンダーに入れるファイルです" in text.text
    assert all(APOLOGY not in m.text for m in fake.messages(ALICE))
    assert "参加で受け付けました" in fake.message(ALICE, question.message_id).text
    with running.database.session() as session:
        assert [(r.status, r.guests) for r in session.scalars(select(RsvpRow))] == [("going", 0)]
    _, ics = await reply_to(
        fake,
        ALICE,
        lambda: fake.press_button(ALICE, question.message_id, label="カレンダーに追加"),
        2,
    )
    assert ics.document is not None, "asked again, it comes"


async def test_waitlist_promotion_and_cancellation_notice_are_queued(
    running: RunningBot, fake: FakeTelegram
) -> None:
    sync = running.app.calendar_sync
    sync.sync(CALENDAR)
    for chat_id in (ALICE, BOB):
        await register(fake, chat_id)
    alice_card = await card_of(fake, ALICE, "12.7大集会")
    await reply_to(fake, ALICE, lambda: fake.press_button(ALICE, alice_card, label="参加する"))
    question = fake.last_message(ALICE).message_id
    fake.press_button(ALICE, question, label="2人")
    await fake.until(lambda: "同行の方2人" in fake.message(ALICE, question).text)
    bob_card = await card_of(fake, BOB, "12.7大集会")
    (waiting,) = await reply_to(
        fake, BOB, lambda: fake.press_button(BOB, bob_card, label="参加する")
    )
    assert "キャンセル待ち" in waiting.text

    newest = await card_of(fake, ALICE, "12.7大集会")
    await reply_to(fake, ALICE, lambda: fake.press_button(ALICE, newest, label="行けない"))
    sync.sync(CALENDAR.__class__(events=(called_off(RALLY, "雨天"),)))

    with running.database.session() as session:
        queued = [
            (row.purpose, row.member_id)
            for row in session.scalars(select(DeliveryRow).order_by(DeliveryRow.id))
        ]
    assert [purpose for purpose, _ in queued] == ["waitlist_promoted", "event_change"]
    assert queued[0][1] == queued[1][1], "bob was promoted, then told of the cancellation"
    (refused,) = await reply_to(fake, BOB, lambda: fake.press_button(BOB, bob_card, label="未定"))
    assert "中止になりました" in refused.text
    card = fake.message(BOB, bob_card)
    assert card.text.startswith("【中止】"), "the card pressed now says so"
    assert card.button_labels == ["地図を開く"], "no answer buttons; the map is only a link"


async def test_changing_an_answer_and_a_passed_deadline(
    running: RunningBot, fake: FakeTelegram, clock: FakeClock
) -> None:
    running.app.calendar_sync.sync(CALENDAR)
    await register(fake, ALICE)
    study = await card_of(fake, ALICE, "学習会")
    await reply_to(fake, ALICE, lambda: fake.press_button(ALICE, study, label="参加する"))
    assert "あなたの返事: 参加" in fake.message(ALICE, study).text
    (changed,) = await reply_to(fake, ALICE, lambda: fake.press_button(ALICE, study, label="未定"))
    assert "未定で受け付けました" in changed.text
    card = fake.message(ALICE, study)
    assert "あなたの返事: 未定" in card.text, "the old card does not keep the old answer"
    assert "あなたの返事: 参加" not in card.text

    clock.set(at("2026-12-09", "19:00"))
    (closed,) = await reply_to(
        fake, ALICE, lambda: fake.press_button(ALICE, study, label="行けない")
    )
    assert "受付は終わりました" in closed.text
    card = fake.message(ALICE, study)
    assert "あなたの返事: 未定" in card.text
    assert card.button_labels == [], "the card pressed loses the buttons that no longer work"
    with running.database.session() as session:
        assert [r.status for r in session.scalars(select(RsvpRow))] == ["maybe"]


async def test_the_map_and_the_online_meeting_are_link_buttons_never_text(
    running: RunningBot, fake: FakeTelegram
) -> None:
    running.app.calendar_sync.sync(CALENDAR.__class__(events=(RALLY, ONLINE)))
    await register(fake, ALICE)

    rally = await open_card(fake, ALICE, "12.7大集会")
    online = await open_card(fake, ALICE, "オンライン学習会")

    # The fake checks every url button as Telegram does (tests/fakes/telegram_markup.py).
    assert url_buttons(rally) == [("地図を開く", HIBIYA.map_url)]
    assert rally.button_labels == ["参加する", "未定", "行けない", "地図を開く"], "links last"
    assert [label for label, _ in url_buttons(online)] == [
        "オンラインで参加",
        "関連ページを開く",
        "関連ページ2を開く",
        "関連ページ3を開く",
    ]
    assert url_buttons(online)[0] == ("オンラインで参加", ZOOM)
    texts = [m.text for m in fake.messages(ALICE)]
    assert [t for t in texts if "http" in t or "%E" in t] == [], "no address in what she reads"
