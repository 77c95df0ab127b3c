"""The bot keeps working when Telegram has a bad moment: 5xx answers, dropped connections."""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.deliveries import Lane
from bot.store.tables import DeliveryRow
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import RunningBot
from tests.telegram.test_journey import HANAKO, register, reply_to


async def test_polling_recovers_after_server_errors(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    fake.fail_during(1.5, status=502, methods="getUpdates")
    failures_before = sum(1 for r in fake.requests("getUpdates") if r.status == 502)
    before = len(fake.messages(HANAKO))

    # The poll already waiting returns this update; the polls after it meet the outage.
    fake.send_text(HANAKO, "ヘルプ")
    await fake.until(
        lambda: sum(1 for r in fake.requests("getUpdates") if r.status == 502) > failures_before,
        description="the bot met the outage",
    )
    (reply,) = (await fake.messages_eventually(HANAKO, before + 1, 15))[before:]
    assert "使い方" in reply.text
    (after,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "通知設定"), timeout=15)
    assert "いまの設定" in after.text, "polling came back after the outage"


async def test_polling_recovers_after_dropped_connections(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    fake.drop_during(1.5, methods="getUpdates")
    # The poll already waiting returns this update; the polls after it lose their connection.
    await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "ヘルプ"))
    await fake.until(
        lambda: any(r.status == 0 for r in fake.requests("getUpdates")),
        description="a getUpdates call lost its connection",
    )
    (reply,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "通知設定"), timeout=15)
    assert "いまの設定" in reply.text
    assert sum(1 for m in fake.messages(HANAKO) if "使い方" in m.text) == 1, "no update twice"


async def test_a_reply_lost_to_a_server_error_still_arrives_through_the_outbox(
    serving: RunningBot, fake: FakeTelegram
) -> None:
    running = serving
    await register(fake, HANAKO)
    fake.fail_next(1, status=502, methods="sendMessage", html=True)
    (reply,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "ヘルプ"))
    assert "使い方" in reply.text, "sent again, in the outbox's first lane"
    assert "申し訳ありません" not in reply.text

    def deferred() -> DeliveryRow:
        with running.database.session() as session:
            return session.scalars(select(DeliveryRow).where(DeliveryRow.purpose == "reply")).one()

    await fake.until(lambda: deferred().state == "sent", description="recorded as sent")
    assert deferred().lane == Lane.INTERACTIVE
    (again,) = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "ヘルプ"))
    assert "使い方" in again.text
