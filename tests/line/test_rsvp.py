"""Events and answers on LINE: Flex cards with 参加する / 未定 / 行けない, guests, the .ics link."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from bot.store.tables import DeliveryRow, RsvpRow
from tests.events.conftest import CALENDAR, HIBIYA, ONLINE, RALLY, ZOOM, at, called_off
from tests.fakes.clock import FakeClock
from tests.fakes.line_state import Delivered
from tests.line.conftest import LineBot, labels, links, quick_replies, shown

ALICE, BOB = "U" + "a1" * 16, "U" + "b2" * 16
ANSWERS = ["参加する", "未定", "行けない"]


async def open_card(bot: LineBot, user: str, title: str) -> Delivered:
    """As a member opens an event: 「予定」, then the event's button; the card that comes."""
    (listing,) = await bot.say(user, "予定")
    (button,) = [label for label in quick_replies(listing) if title in label]
    (card,) = await bot.tap(user, button)
    return card


def rsvps(bot: LineBot) -> list[tuple[str, int]]:
    with bot.app.database.session() as session:
        return [(r.status, r.guests) for r in session.scalars(select(RsvpRow))]


async def test_answer_with_guests_then_the_calendar_link(line_bot: LineBot) -> None:
    bot = line_bot
    bot.app.calendar_sync.sync(CALENDAR)
    await bot.register(ALICE)
    (listing,) = await bot.say(ALICE, "予定")
    assert quick_replies(listing) == [
        "12月7日 保険証を残せ 12.7大集会",
        "12月10日 マイナ保険証 学習会",
    ]
    assert "予定はここまでです。" in shown(listing)

    card = await open_card(bot, ALICE, "12.7大集会")
    assert card.type == "flex", "an event card is a Flex bubble"
    assert "保険証を残せ 12.7大集会" in shown(card)
    assert labels(card) == [*ANSWERS, "地図を開く"]
    assert links(card) == [("地図を開く", HIBIYA.map_url)]
    assert all(len(a["data"]) <= 300 for a in card.actions if a["type"] == "postback")

    redrawn, question = await bot.tap(ALICE, "参加する", 2)
    assert "あなたの返事: 参加" in shown(redrawn), "LINE cannot edit: the card comes again"
    assert labels(redrawn)[:3] == ANSWERS
    assert shown(question) == "ご一緒に来る方は何人ですか？\n席の残りが少ないため、2人までです。"
    assert quick_replies(question) == ["ひとりで行く", "1人", "2人"], "capacity 3: two fit"
    assert rsvps(bot) == [("going", 0)]

    (confirmation,) = await bot.tap(ALICE, "2人")
    assert shown(confirmation) == (
        "12月7日(月)の「保険証を残せ 12.7大集会」に、同行の方2人と参加で受け付けました。"
    )
    assert rsvps(bot) == [("going", 2)]
    assert labels(confirmation) == ["カレンダーに追加"], "LINE offers the calendar, as a link"

    replies = await bot.tap(ALICE, "カレンダーに追加")
    ((label, address),) = [link for reply in replies for link in links(reply)]
    assert label == "カレンダーに追加"
    assert address.startswith(f"{bot.url}/line/ics/")
    async with httpx.AsyncClient() as client:
        served = await client.get(address)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/calendar")
    assert b"SUMMARY:" in served.content
    assert "12.7大集会".encode() in served.content
    assert bot.fake.quota_used == 0, "every answer went free, by reply token"


async def test_waitlist_promotion_and_cancellation_notice_are_pushed(
    line_bot: LineBot,
) -> None:
    bot = line_bot
    sync = bot.app.calendar_sync
    sync.sync(CALENDAR)
    for user in (ALICE, BOB):
        await bot.register(user)
    await open_card(bot, ALICE, "12.7大集会")
    await bot.tap(ALICE, "参加する", 2)
    await bot.tap(ALICE, "2人")
    await open_card(bot, BOB, "12.7大集会")
    _, waiting = await bot.tap(BOB, "参加する", 2)
    assert "キャンセル待ち" in shown(waiting)

    await open_card(bot, ALICE, "12.7大集会")
    await bot.tap(ALICE, "行けない")
    before = len(bot.fake.messages(BOB))
    sync.sync(CALENDAR.__class__(events=(called_off(RALLY, "雨天"),)))

    called_off_notice = "【中止】「保険証を残せ 12.7大集会」"

    def notices() -> list[Delivered]:
        return [
            m for m in bot.fake.messages(BOB)[before:] if shown(m).startswith(called_off_notice)
        ]

    await bot.fake.until(lambda: notices(), description="the call-off notice")
    (notice,) = notices()
    assert notice.endpoint == "push_message", "the outbox pushes"
    assert notice.retry_key is not None, "with the delivery row's retry key"

    def states() -> list[tuple[str, str]]:
        with bot.app.database.session() as session:
            rows = session.scalars(select(DeliveryRow).order_by(DeliveryRow.id))
            return [(r.purpose, r.state) for r in rows]

    # The promotion went if the outbox reached it before the call-off; else, stale by then
    # (the event is off), it is skipped. Either way the call-off notice is sent.
    await bot.fake.until(
        lambda: (
            states()
            in (
                [("waitlist_promoted", "skipped"), ("event_change", "sent")],
                [("waitlist_promoted", "sent"), ("event_change", "sent")],
            )
        ),
        description="the outcomes recorded",
    )
    promoted = [m for m in bot.fake.messages(BOB)[before:] if "空きが出ました" in shown(m)]
    assert len(promoted) == (states()[0][1] == "sent"), "a skipped promotion never arrives"


async def test_changing_an_answer_and_a_passed_deadline(
    line_bot: LineBot, clock: FakeClock
) -> None:
    bot = line_bot
    bot.app.calendar_sync.sync(CALENDAR)
    await bot.register(ALICE)
    await open_card(bot, ALICE, "学習会")
    answered = await bot.tap(ALICE, "参加する")
    assert "あなたの返事: 参加" in shown(answered[0])
    changed = await bot.tap(ALICE, "未定")
    assert any("未定で受け付けました" in shown(m) for m in changed)

    clock.set(at("2026-12-09", "19:00"))
    closed = await bot.tap(ALICE, "行けない")
    assert any("受付は終わりました" in shown(m) for m in closed)
    assert rsvps(bot) == [("maybe", 0)]


async def test_the_map_and_the_online_meeting_are_link_buttons_never_text(
    line_bot: LineBot,
) -> None:
    bot = line_bot
    bot.app.calendar_sync.sync(CALENDAR.__class__(events=(RALLY, ONLINE)))
    await bot.register(ALICE)
    rally = await open_card(bot, ALICE, "12.7大集会")
    online = await open_card(bot, ALICE, "オンライン学習会")
    assert links(rally) == [("地図を開く", HIBIYA.map_url)]
    assert [label for label, _ in links(online)] == [
        "オンラインで参加",
        "関連ページを開く",
        "関連ページ2を開く",
        "関連ページ3を開く",
    ]
    assert links(online)[0] == ("オンラインで参加", ZOOM)
    texts = [shown(m) for m in bot.fake.messages(ALICE)]
    assert [t for t in texts if "http" in t or "%E" in t] == [], "no address in what she reads"


async def test_the_day_before_reminder_is_pushed_with_the_card(
    line_bot: LineBot, clock: FakeClock
) -> None:
    bot = line_bot
    bot.app.calendar_sync.sync(CALENDAR)
    await bot.register(ALICE)
    await open_card(bot, ALICE, "学習会")
    await bot.tap(ALICE, "参加する")
    before = len(bot.fake.messages(ALICE))

    clock.set(at("2026-12-09", "10:00"))  # the day before, at day_before_at
    await asyncio.to_thread(bot.app.plan_reminders)
    received = (await bot.fake.messages_eventually(ALICE, before + 1))[before:]
    assert all(m.endpoint == "push_message" for m in received), "the outbox pushes"
    assert all(m.retry_key for m in received)
    assert any("マイナ保険証 学習会" in shown(m) for m in received)
    assert any(m.type == "flex" for m in received), "with the event's card"
