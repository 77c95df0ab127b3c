"""Webhook mode: Telegram posts updates to a route of the bot's one web application.

The answer goes back once the update is handled. Telegram sends a chat's updates one after
another, so with several processes behind a load balancer an update is not in hand in one
process while the one before it still waits in another: each member's turns follow the order
Telegram sent them (the member's lock in the database, bot/store/turns.py, makes two that
meet anyway take turns).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.channels.web import TooLarge, read_body, too_large

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

MAX_BODY = 1024 * 1024
"""Bytes of one webhook body we accept. Telegram's updates are a few kilobytes (a message is
at most 4096 characters); a larger body is no update and is refused before it is read."""


class TelegramWebhook:
    """The route Telegram posts to: the secret checked first, then the body read within its
    limit, then the update handled as polling would handle it."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        secret: str,
        *,
        max_body: int = MAX_BODY,
    ) -> None:
        self._application = application
        self._secret = secret
        self._max_body = max_body

    def route(self, path: str) -> Route:
        return Route(path, self.receive, methods=["POST"])

    async def receive(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            log.warning("webhook call without the right secret from %s", request.client)
            return PlainTextResponse("forbidden", status_code=403)
        try:
            data = json.loads(await read_body(request, self._max_body))
        except TooLarge:
            log.warning(
                "webhook body over %d bytes refused from %s", self._max_body, request.client
            )
            return too_large()
        except ValueError:  # not JSON (nor UTF-8): not from Telegram
            log.warning("webhook body that is not JSON from %s", request.client)
            return PlainTextResponse("bad request", status_code=400)
        try:
            update = Update.de_json(data, self._application.bot)
            if not isinstance(update, Update):
                raise TypeError("not an update")
        except Exception as exc:
            # Telegram's own update that PTB cannot read: acknowledged (or Telegram would send
            # it again and again), logged once without its content (members' texts).
            update_id = data.get("update_id") if isinstance(data, dict) else None
            log.warning(
                "skipped update %s that python-telegram-bot cannot read: %s",
                update_id,
                type(exc).__name__,
            )
            return PlainTextResponse("ok")
        if not self._application.running:
            # Starting or stopping: Telegram sends it again later, to this process or another.
            return PlainTextResponse("unavailable", status_code=503)
        application = self._application
        # As polling does (each chat's updates in order, a bound on how many at once); the
        # handlers' errors go to the error handler, never out of here.
        await application.update_processor.process_update(
            update, application.process_update(update)
        )
        return PlainTextResponse("ok")
