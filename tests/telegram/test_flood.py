"""Issue 9, hole 9: Telegram's per-chat flood limit never fails a member's turn.

The fake enforces about one message a second per chat with a burst of three, as Telegram does;
the journeys below go as fast as a member taps, and every reply must arrive, in order, without
an apology.
"""

from __future__ import annotations

import pytest

from tests.events.conftest import CALENDAR
from tests.fakes.telegram_api import FakeTelegram, RateLimits
from tests.telegram.conftest import RunningBot
from tests.telegram.test_journey import reply_to

MEMBER = 4242
APOLOGY = "申し訳ありません"

pytestmark = pytest.mark.real_pacing


async def journeys(fake: FakeTelegram, chat_id: int) -> None:
    """Onboarding, 予定 and an RSVP with guests, each step as soon as the last reply arrived."""
    fake.add_user(chat_id, "花子")
    welcome, consent = await reply_to(fake, chat_id, lambda: fake.send_text(chat_id, "/start"), 2)
    assert "東京社保協" in welcome.text
    (picker,) = await reply_to(
        fake,
        chat_id,
        lambda: fake.press_button(chat_id, consent.message_id, label="はい、受け取ります"),
    )
    assert "地域を選んでください" in picker.text
    fake.press_button(chat_id, picker.message_id, label="板橋区")
    await fake.until(lambda: "✓ 板橋区" in fake.message(chat_id, picker.message_id).button_labels)
    (done,) = await reply_to(
        fake,
        chat_id,
        lambda: fake.press_button(chat_id, picker.message_id, label="決定"),
        timeout=10,
    )
    assert "登録が終わりました" in done.text

    (listing,) = await reply_to(fake, chat_id, lambda: fake.send_text(chat_id, "予定"), timeout=10)
    assert "ここまで" in listing.text, "the whole list in one message"
    (card,) = await reply_to(
        fake,
        chat_id,
        lambda: fake.press_button(
            chat_id, listing.message_id, label="12月7日 保険証を残せ 12.7大集会"
        ),
        timeout=10,
    )
    rally = card.message_id
    (question,) = await reply_to(
        fake, chat_id, lambda: fake.press_button(chat_id, rally, label="参加する"), timeout=10
    )
    assert "あなたの返事: 参加" in fake.message(chat_id, rally).text, "the card, edited"
    assert "何人ですか" in question.text
    fake.press_button(chat_id, question.message_id, label="2人")
    await fake.until(
        lambda: (
            "同行の方2人と参加で受け付けました" in fake.message(chat_id, question.message_id).text
        ),
        timeout=10,
    )
    _, ics = await reply_to(
        fake,
        chat_id,
        lambda: fake.press_button(chat_id, question.message_id, label="カレンダーに追加"),
        2,
        timeout=10,
    )
    assert ics.document is not None
    (again,) = await reply_to(fake, chat_id, lambda: fake.send_text(chat_id, "ヘルプ"), timeout=10)
    assert "使い方" in again.text


async def test_journeys_within_telegrams_per_chat_limit(
    serving: RunningBot, fake: FakeTelegram
) -> None:
    serving.app.calendar_sync.sync(CALENDAR)
    fake.set_rate_limits(RateLimits(private_per_second=1.0, private_burst=3))
    await journeys(fake, MEMBER)
    assert all(APOLOGY not in m.text for m in fake.messages(MEMBER))
    assert fake.stats.rate_limited == 0, "paced: Telegram never had to refuse a reply"


async def test_a_429_that_comes_despite_pacing_is_waited_out(
    running: RunningBot, fake: FakeTelegram
) -> None:
    """Telegram stricter than our budget (no burst at all): its 429s are waited out in the
    turn, and the rest of the reply sent; nothing fails, nothing is apologised for."""
    running.app.calendar_sync.sync(CALENDAR)
    fake.set_rate_limits(RateLimits(private_per_second=1.0, private_burst=1))
    await journeys(fake, MEMBER)
    assert fake.stats.rate_limited > 0, "the fake did refuse some messages"
    assert all(APOLOGY not in m.text for m in fake.messages(MEMBER))
