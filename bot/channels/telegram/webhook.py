"""Webhook mode: one small web server receives Telegram's updates and answers health checks."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
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

MAX_BODY = 1024 * 1024
"""Bytes of one webhook body we accept. Telegram's updates are a few kilobytes (a message is
at most 4096 characters); a larger body is no update and is refused before it is read."""


class _TooLarge(Exception):
    pass


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port`, as uvicorn would bind it; raises `OSError` (address in
    use, permission denied, no such address). Bound here, not by uvicorn, because uvicorn
    answers a failed bind by logging it and calling `sys.exit`, past every handler."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read as it arrives; `_TooLarge` as soon as it passes `limit` bytes, so a huge
    or endless body never sits in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


class WebhookServer:
    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        config: TelegramConfig,
        secret: str,
        *,
        max_body: int = MAX_BODY,
    ) -> None:
        self._application = application
        self._max_body = max_body
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
        self._socket: socket.socket | None = None

    async def start(self) -> None:
        """Serve, then tell Telegram where to send updates (with our secret). Raises `OSError`
        when the address cannot be listened on."""
        self._socket = listening_socket(self._config.webhook.listen, self._config.webhook.port)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
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
        try:
            if self._task is not None:
                await self._task
        finally:
            if self._socket is not None:
                self._socket.close()  # uvicorn closes it too, once it has started

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
            data = json.loads(await read_body(request, self._max_body))
        except _TooLarge:
            log.warning(
                "webhook body over %d bytes refused from %s", self._max_body, request.client
            )
            # Closing the connection stops the rest of the body; kept open, it would be read.
            return PlainTextResponse(
                "payload too large", status_code=413, headers={"Connection": "close"}
            )
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
        await self._application.update_queue.put(update)
        return PlainTextResponse("ok")

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok" if self._application.running else "starting")
