"""Updates the bot must survive: non-text, edits, channels, groups, no sender, huge, forged."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.domain.deliveries import Lane
from bot.domain.members import Subscription
from bot.store.tables import DeliveryRow
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import RunningBot
from tests.telegram.test_journey import (
    HANAKO,
    MENU,
    register,
    reply_to,
    shown_keyboard,
    stored,
)

GROUP = -100500


async def probe_other_member(fake: FakeTelegram) -> None:
    """A later update of another member was handled too (the bot is not stuck)."""
    fake.add_user(5555, "確認用")
    await reply_to(fake, 5555, lambda: fake.send_text(5555, "/start"), 2)


async def probe(fake: FakeTelegram) -> None:
    """Everything sent before this has been fetched and handled: the member's next reply came."""
    await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "ヘルプ"))


@pytest.mark.parametrize(
    "send",
    [
        lambda fake: fake.send_sticker(HANAKO),
        lambda fake: fake.send_photo(HANAKO),
        lambda fake: fake.send_voice(HANAKO),
        lambda fake: fake.send_location(HANAKO, 35.73, 139.74),
    ],
    ids=["sticker", "photo", "voice", "location"],
)
async def test_non_text_gets_a_gentle_note_and_the_menu(
    running: RunningBot, fake: FakeTelegram, send: object, caplog: pytest.LogCaptureFixture
) -> None:
    await register(fake, HANAKO)
    (reply,) = await reply_to(fake, HANAKO, lambda: send(fake))  # type: ignore[operator]
    assert "文字で送ってください" in reply.text
    assert shown_keyboard(fake, HANAKO) == MENU
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_edited_messages_are_not_answered_again(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "ヘルプ"))
    count = len(fake.messages(HANAKO))
    fake.edit_text(HANAKO, "通知設定")
    await probe(fake)
    assert len(fake.messages(HANAKO)) == count + 1, "only the probe was answered"


async def test_groups_channels_and_senderless_updates_are_ignored(
    running: RunningBot, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    await register(fake, HANAKO)
    fake.add_group(GROUP, "板橋社保協 世話人会")
    fake.add_channel(-100777, "東京社保協ニュース")
    fake.send_group_message(HANAKO, GROUP, "今日の宣伝おつかれさまでした")
    fake.send_text(HANAKO, "/help", chat_id=GROUP)
    fake.post_in_channel(-100777, "11.7大集会のお知らせ")
    fake.send_without_sender(GROUP, "匿名管理者の投稿")
    await fake.until(lambda: fake.updates_pending() == 0)
    await probe(fake)

    assert fake.messages(GROUP) == []
    assert fake.messages(-100777) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with running.database.unit_of_work() as uow:
        assert uow.members.stats().total == 1, "no member is made from a group or channel"


async def test_very_long_text_is_answered(running: RunningBot, fake: FakeTelegram) -> None:
    await register(fake, HANAKO)
    replies = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "保" * 4096), 2)
    assert "お答えできません" in replies[0].text or "わかりません" in replies[0].text


async def test_html_in_member_text_cannot_break_our_markup(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    fake.add_user(4001, "<b>悪い</b> & 名前")
    welcome, consent = await reply_to(fake, 4001, lambda: fake.send_text(4001, "/start"), 2)
    assert "東京社保協" in welcome.text
    await reply_to(
        fake, 4001, lambda: fake.press_button(4001, consent.message_id, label="はい、受け取ります")
    )
    assert stored(running, 4001).display_name == "<b>悪い</b> & 名前"


@pytest.mark.parametrize("data", ["garbage", "1:region:atlantis:onboarding", "0:menu:help"])
async def test_forged_callback_data_is_refused_politely(
    running: RunningBot, fake: FakeTelegram, data: str
) -> None:
    await register(fake, HANAKO)
    menu_message = fake.last_message(HANAKO)
    update_ids: list[int] = []
    (reply,) = await reply_to(
        fake,
        HANAKO,
        lambda: update_ids.append(fake.send_callback(HANAKO, menu_message.message_id, data)),
    )
    assert "このボタンはもう使えません" in reply.text or "その地域は選べません" in reply.text
    assert fake.callback_answer(update_ids[0]) is not None
    assert stored(running, HANAKO).regions == {"itabashi"}


async def test_blocking_marks_the_member_unreachable_and_nothing_more_is_sent(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    sent_before = len(fake.requests("sendMessage"))

    fake.block(HANAKO)
    await fake.until(lambda: stored(running, HANAKO).unreachable_at is not None)

    member = stored(running, HANAKO)
    assert "blocked" in (member.unreachable_reason or "")
    assert member.subscription is Subscription.SUBSCRIBED, "their choice is kept for a return"
    assert len(fake.requests("sendMessage")) == sent_before


async def test_unblocking_makes_the_member_reachable_again(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    fake.block(HANAKO)
    await fake.until(lambda: stored(running, HANAKO).unreachable_at is not None)
    fake.unblock(HANAKO)
    await fake.until(lambda: stored(running, HANAKO).unreachable_at is None)


async def test_a_member_gone_while_we_answer_is_marked_not_apologised_to(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)

    def attempts() -> list[int]:
        return [r.status for r in fake.requests("sendMessage") if r.params["chat_id"] == HANAKO]

    before = len(attempts())
    fake.send_text(HANAKO, "ヘルプ")
    fake.deactivate(HANAKO)
    await fake.until(lambda: stored(running, HANAKO).unreachable_at is not None)
    await probe_other_member(fake)

    assert stored(running, HANAKO).unreachable_reason == "Forbidden: user is deactivated"
    assert attempts()[before:] == [403], "one refused answer, and no apology after it"


async def test_a_reply_telegram_fails_to_take_waits_in_the_outbox_not_an_apology(
    running: RunningBot, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    await register(fake, HANAKO)
    before = len(fake.messages(HANAKO))
    fake.fail_next(1, status=500, methods="sendMessage")
    fake.send_text(HANAKO, "ヘルプ")

    def deferred() -> list[DeliveryRow]:
        with running.database.session() as session:
            return list(session.scalars(select(DeliveryRow).where(DeliveryRow.purpose == "reply")))

    await fake.until(lambda: bool(deferred()), description="the reply was queued")
    (row,) = deferred()
    assert row.lane == Lane.INTERACTIVE
    assert "使い方" in row.payload["message"]["text"]
    assert len(fake.messages(HANAKO)) == before, "no apology: the answer itself will follow"
    assert "deferred to the outbox" in caplog.text
