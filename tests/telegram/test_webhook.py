"""Webhook mode: Telegram posts updates to our one web server, which checks the secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from bot.app import App, build, channels_running
from bot.channels.telegram.channel import KIND as TELEGRAM
from bot.channels.telegram.channel import TelegramChannel, webhook_secret
from bot.channels.telegram.webhook import MAX_BODY, SECRET_HEADER
from bot.config import Settings, TelegramWebhookConfig, WebConfig
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import TOKEN, telegram_settings
from tests.telegram.test_journey import HANAKO


@pytest.fixture
async def webhook_bot(
    settings: Settings, fake: FakeTelegram, database_url: str
) -> AsyncIterator[tuple[TelegramChannel, str, App]]:
    """Telegram in webhook mode, its route on the shared web server (bot/channels/web.py)."""
    configured = telegram_settings(
        settings,
        fake,
        database_url,
        mode="webhook",
        webhook=TelegramWebhookConfig(path="/telegram"),
    )
    web = WebConfig(listen="127.0.0.1", port=0)
    app = build(replace(configured, config=configured.config.model_copy(update={"web": web})))
    try:
        async with channels_running(app, [TELEGRAM]) as running:
            assert running.web is not None
            channel = running.channel("telegram")
            assert isinstance(channel, TelegramChannel)
            yield channel, f"http://127.0.0.1:{running.web.port}", app
    finally:
        app.close()


async def test_updates_arrive_by_webhook_with_the_secret(
    webhook_bot: tuple[TelegramChannel, str, App], fake: FakeTelegram
) -> None:
    channel, base, _ = webhook_bot
    # What public_url would do in production: tell Telegram where to post.
    await channel.application.bot.set_webhook(
        f"{base}/telegram", secret_token=webhook_secret(TOKEN)
    )
    fake.add_user(HANAKO, "花子")
    fake.send_text(HANAKO, "/start")
    welcome, _ = await fake.messages_eventually(HANAKO, 2)
    assert "東京社保協" in welcome.text
    await fake.until(lambda: fake.webhook_deliveries)
    [delivery] = fake.webhook_deliveries
    assert delivery.status == 200
    # Answered once the update was handled, so the next one (which Telegram sends only after
    # this answer) cannot overtake it in another process behind the load balancer.
    assert max(r.at for r in fake.requests("sendMessage")) <= delivery.at


async def test_a_post_without_the_secret_is_refused(
    webhook_bot: tuple[TelegramChannel, str, App], fake: FakeTelegram
) -> None:
    _, base, app = webhook_bot
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": HANAKO, "type": "private"},
            "from": {"id": HANAKO, "is_bot": False, "first_name": "x"},
            "text": "/start",
        },
    }
    async with httpx.AsyncClient() as client:
        refused = await client.post(f"{base}/telegram", json=update)
        wrong = await client.post(f"{base}/telegram", json=update, headers={SECRET_HEADER: "guess"})
        garbage = await client.post(
            f"{base}/telegram", content=b"{", headers={SECRET_HEADER: webhook_secret(TOKEN)}
        )
    assert (refused.status_code, wrong.status_code, garbage.status_code) == (403, 403, 400)
    with app.database.unit_of_work() as uow:
        assert uow.members.stats().total == 0, "nothing reached the core"


async def test_health_check(webhook_bot: tuple[TelegramChannel, str, App]) -> None:
    _, base, _ = webhook_bot
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{base}/healthz")
    assert (health.status_code, health.text) == (200, "ok")


def test_the_secret_fits_telegrams_rules() -> None:
    secret = webhook_secret(TOKEN)
    assert 1 <= len(secret) <= 256
    assert secret.isalnum()
    assert webhook_secret(TOKEN) == secret != webhook_secret("other:token")


async def test_a_body_over_the_limit_is_refused_without_being_read(
    webhook_bot: tuple[TelegramChannel, str, App], fake: FakeTelegram
) -> None:
    """Issue 9, hole 10: 413 for a body over 1 MB, declared or not, before it is all sent."""
    channel, base, _ = webhook_bot
    headers = {SECRET_HEADER: webhook_secret(TOKEN)}
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        """A chunked body with no end: only a server that stops reading can answer it."""
        nonlocal sent
        chunk = b" " * 65536
        while sent < 64 * MAX_BODY:
            sent += len(chunk)
            yield chunk

    async with httpx.AsyncClient(timeout=10) as client:
        declared = await client.post(
            f"{base}/telegram", content=b"{" + b" " * MAX_BODY + b"}", headers=headers
        )
        try:
            streamed = (
                await client.post(f"{base}/telegram", content=endless(), headers=headers)
            ).status_code
        except httpx.TransportError:  # the server may close before the client sees its answer
            streamed = 413
    assert (declared.status_code, streamed) == (413, 413)
    assert sent < 8 * MAX_BODY, f"stopped reading early, not after {sent} bytes"
    await channel.application.bot.set_webhook(
        f"{base}/telegram", secret_token=webhook_secret(TOKEN)
    )
    fake.add_user(HANAKO, "花子")
    fake.send_text(HANAKO, "/start")
    welcome, _ = await fake.messages_eventually(HANAKO, 2)
    assert "東京社保協" in welcome.text, "the bot still answers"


async def test_an_update_ptb_cannot_read_is_acknowledged_and_logged_without_text(
    webhook_bot: tuple[TelegramChannel, str, App],
    fake: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 9, hole 5 on the webhook: 200 (or Telegram sends it for ever), one line, no text."""
    _, base, _ = webhook_bot
    update = _text_update(HANAKO, "秘密の相談")
    update["message"]["entities"] = [{"type": "bold"}]  # no offset/length: PTB cannot parse it
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{base}/telegram", json=update, headers={SECRET_HEADER: webhook_secret(TOKEN)}
        )
    assert answer.status_code == 200
    skipped = [r for r in caplog.records if "cannot read" in r.getMessage()]
    assert len(skipped) == 1
    assert all("秘密" not in r.getMessage() for r in caplog.records)


def _text_update(chat_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": chat_id, "type": "private", "first_name": "花子"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "花子"},
            "text": text,
        },
    }
