"""Webhook mode: one small web server receives Telegram's updates and answers health checks."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram.handlers import ALLOWED_UPDATES
from bot.config import TelegramConfig

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        config: TelegramConfig,
        secret: str,
    ) -> None:
        self._application = application
        self._config = config
        self._secret = secret
        self.web = Starlette(
            routes=[
                Route(config.webhook.path, self._receive, methods=["POST"]),
                Route("/healthz", self._health, methods=["GET"]),
            ]
        )
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.web,
                host=config.webhook.listen,
                port=config.webhook.port,
                log_level="warning",
                lifespan="off",
            )
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve, then tell Telegram where to send updates (with our secret)."""
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why the server could not start
            await asyncio.sleep(0.01)
        url = self._config.webhook.public_url
        if url is None:
            log.warning(
                "channels.telegram.webhook.public_url is not set: Telegram was not told where "
                "to send updates; set it, or register the webhook yourself"
            )
            return
        await self._application.bot.set_webhook(
            url, secret_token=self._secret, allowed_updates=ALLOWED_UPDATES
        )

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task

    @property
    def port(self) -> int:
        """The port actually bound (useful when the config asks for port 0)."""
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self._config.webhook.port

    async def _receive(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            log.warning("webhook call without the right secret from %s", request.client)
            return PlainTextResponse("forbidden", status_code=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self._application.bot)
        except Exception:
            log.warning("unreadable webhook body", exc_info=True)
            return PlainTextResponse("bad request", status_code=400)
        await self._application.update_queue.put(update)
        return PlainTextResponse("ok")

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok" if self._application.running else "starting")
