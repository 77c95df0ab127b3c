"""A bare line-bot-sdk v3 echo bot, the baseline of bench/line_webhook.py.

The SDK's canonical way on Starlette served by uvicorn (the server and settings our web app
uses): `WebhookParser(secret).parse(body, signature)`, then for each text message
`AsyncMessagingApi.reply_message(ReplyMessageRequest(reply_token, [TextMessage(echo)]))`,
awaited before the 200, as LINE's own echo samples do. No database, no ordering, no queue.

With `--replies FILE` (a JSON list of replies, each a list of LINE message objects) it
answers every text with the next of those replies instead, built with the SDK's models
(`Message.from_dict`): what sending replies as large as another bot's costs by itself.

    python -m bench.support.line_echo --api-host URL [--replies FILE]  # prints its port

The secret and the access token come from LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from linebot.v3.exceptions import InvalidSignatureError  # type: ignore[import-untyped]
from linebot.v3.messaging import (  # type: ignore[import-untyped]
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    Message,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhook import WebhookParser  # type: ignore[import-untyped]
from linebot.v3.webhooks import MessageEvent, TextMessageContent  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def make_app(
    api_host: str,
    channel_secret: str,
    access_token: str,
    replies: list[list[dict[str, Any]]] | None = None,
) -> Starlette:
    turns = itertools.cycle(replies) if replies else None
    parser = WebhookParser(channel_secret)
    configuration = Configuration(host=api_host, access_token=access_token)
    api: list[AsyncMessagingApi] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = AsyncApiClient(configuration)
        api.append(AsyncMessagingApi(client))
        try:
            yield
        finally:
            await client.close()

    async def callback(request: Request) -> Response:
        signature = request.headers.get("x-line-signature", "")
        body = (await request.body()).decode()
        try:
            events = parser.parse(body, signature)
        except InvalidSignatureError:
            return PlainTextResponse("bad signature", status_code=400)
        for event in events:
            if isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
                if turns is None:
                    messages = [TextMessage(text=event.message.text)]
                else:
                    messages = [Message.from_dict(message) for message in next(turns)]
                await api[0].reply_message(
                    ReplyMessageRequest(reply_token=event.reply_token, messages=messages)
                )
        return PlainTextResponse("OK")

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/line/callback", callback, methods=["POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-host", required=True, help="the (fake) LINE API's base URL")
    parser.add_argument("--replies", type=Path, help="answer with these replies in turn")
    args = parser.parse_args()
    replies = json.loads(args.replies.read_text(encoding="utf-8")) if args.replies else None
    app = make_app(
        args.api_host,
        os.environ["LINE_CHANNEL_SECRET"],
        os.environ["LINE_CHANNEL_ACCESS_TOKEN"],
        replies,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"listening on 127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
