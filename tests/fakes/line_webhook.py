"""LINE webhook events as LINE sends them, signed, POSTed to the bot.

`FakeLine` (line_api.py) builds the events (`fake.text_event(user, "こんにちは")`), because a
reply token in an event must be known to the fake API. This module holds the shapes, the
signature and the sender:

    sender = fake.webhook_sender("http://127.0.0.1:8080/line/webhook")
    result = sender.post([fake.text_event(USER, "こんにちは")])
    again = sender.redeliver(result.events)          # same webhookEventId, isRedelivery true

The body is `{"destination": <bot user id>, "events": [...]}`, serialised once; the header
`x-line-signature` is base64(HMAC-SHA256(channel secret, those exact bytes)).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def signature(body: bytes, channel_secret: str) -> str:
    """The `x-line-signature` of a raw body."""
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_event_id(at: float | None = None) -> str:
    """A ULID (26 Crockford base32 characters, time first), as LINE's webhookEventId is."""
    millis = int((time.time() if at is None else at) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def envelope(destination: str, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The webhook request body."""
    return {"destination": destination, "events": list(events)}


def encode(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as LINE sends it (Japanese unescaped)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def redelivered(event: dict[str, Any]) -> dict[str, Any]:
    """The same event sent again by LINE's redelivery: same webhookEventId, same reply token
    (by then used or expired), `deliveryContext.isRedelivery` true."""
    again = copy.deepcopy(event)
    again["deliveryContext"] = {"isRedelivery": True}
    return again


class EventFactory:
    """Builds real-shaped events; ids and timestamps come from `clock` (Unix seconds)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._message_ids = itertools.count(600_000_000_000_000_001)

    def _base(self, kind: str, user_id: str, reply_token: str | None, mode: str) -> dict[str, Any]:
        now = self._clock()
        event: dict[str, Any] = {"type": kind}
        if reply_token is not None:
            event["replyToken"] = reply_token
        event.update(
            {
                "source": {"type": "user", "userId": user_id},
                "timestamp": int(now * 1000),
                "mode": mode,
                "webhookEventId": webhook_event_id(now),
                "deliveryContext": {"isRedelivery": False},
            }
        )
        return event

    def _message_id(self) -> str:
        return str(next(self._message_ids))

    def _quote_token(self) -> str:
        return base64.urlsafe_b64encode(os.urandom(33)).decode()

    def follow(
        self, user_id: str, reply_token: str, *, unblocked: bool = False, mode: str = "active"
    ) -> dict[str, Any]:
        """The user adds the account as a friend (or unblocks it: `unblocked`)."""
        event = self._base("follow", user_id, reply_token, mode)
        event["follow"] = {"isUnblocked": unblocked}
        return event

    def unfollow(self, user_id: str, *, mode: str = "active") -> dict[str, Any]:
        """The user blocks the account; there is no reply token."""
        return self._base("unfollow", user_id, None, mode)

    def text(
        self, user_id: str, reply_token: str, text: str, *, mode: str = "active"
    ) -> dict[str, Any]:
        event = self._base("message", user_id, reply_token, mode)
        event["message"] = {
            "type": "text",
            "id": self._message_id(),
            "quoteToken": self._quote_token(),
            "text": text,
        }
        return event

    def sticker(
        self,
        user_id: str,
        reply_token: str,
        *,
        package_id: str = "446",
        sticker_id: str = "1988",
        keywords: Sequence[str] = ("Happy", "Sparkle"),
        mode: str = "active",
    ) -> dict[str, Any]:
        event = self._base("message", user_id, reply_token, mode)
        event["message"] = {
            "type": "sticker",
            "id": self._message_id(),
            "quoteToken": self._quote_token(),
            "stickerId": sticker_id,
            "packageId": package_id,
            "stickerResourceType": "STATIC",
            "keywords": list(keywords),
        }
        return event

    def image(self, user_id: str, reply_token: str, *, mode: str = "active") -> dict[str, Any]:
        """A photo sent from the LINE app (its content would be on LINE's data API)."""
        event = self._base("message", user_id, reply_token, mode)
        event["message"] = {
            "type": "image",
            "id": self._message_id(),
            "quoteToken": self._quote_token(),
            "contentProvider": {"type": "line"},
        }
        return event

    def location(
        self,
        user_id: str,
        reply_token: str,
        latitude: float,
        longitude: float,
        *,
        title: str | None = None,
        address: str | None = None,
        mode: str = "active",
    ) -> dict[str, Any]:
        event = self._base("message", user_id, reply_token, mode)
        message: dict[str, Any] = {"type": "location", "id": self._message_id()}
        if title is not None:
            message["title"] = title
        if address is not None:
            message["address"] = address
        message.update(latitude=latitude, longitude=longitude)
        event["message"] = message
        return event

    def postback(
        self,
        user_id: str,
        reply_token: str,
        data: str,
        *,
        params: dict[str, str] | None = None,
        mode: str = "active",
    ) -> dict[str, Any]:
        """The user taps a postback action (a quick reply, a template button, a rich menu area);
        `params` carries a datetime picker's choice ({"date": "2025-11-07"})."""
        event = self._base("postback", user_id, reply_token, mode)
        event["postback"] = {"data": data}
        if params is not None:
            event["postback"]["params"] = dict(params)
        return event


@dataclass(frozen=True)
class WebhookResult:
    """One POST of events to the bot: what was sent and what the bot answered."""

    events: list[dict[str, Any]]
    body: bytes
    signature: str
    status: int
    response: bytes

    @property
    def ok(self) -> bool:
        return self.status == 200


class LineWebhookSender:
    """POSTs signed webhook bodies to one URL, synchronously (`post`) or not (`apost`).

    Use `apost` when the bot's server runs in the test's own event loop: a blocking POST would
    wait for a server that cannot run.
    """

    def __init__(
        self, url: str, channel_secret: str, destination: str, *, timeout: float = 10.0
    ) -> None:
        self.url = url
        self.channel_secret = channel_secret
        self.destination = destination
        self.timeout = timeout
        self.results: list[WebhookResult] = []

    def prepare(
        self,
        events: Sequence[dict[str, Any]],
        *,
        redelivery: bool = False,
        bad_signature: bool = False,
    ) -> tuple[list[dict[str, Any]], bytes, dict[str, str]]:
        """The events as sent, the body and the headers of one webhook request."""
        sent = [redelivered(e) if redelivery else copy.deepcopy(e) for e in events]
        body = encode(envelope(self.destination, sent))
        secret = self.channel_secret + ("-wrong" if bad_signature else "")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "LineBotWebhook/2.0",
            "x-line-signature": signature(body, secret),
        }
        return sent, body, headers

    def post(
        self,
        events: Sequence[dict[str, Any]],
        *,
        redelivery: bool = False,
        bad_signature: bool = False,
    ) -> WebhookResult:
        """POST the events in one body (LINE may batch several) and return the answer."""
        sent, body, headers = self.prepare(
            events, redelivery=redelivery, bad_signature=bad_signature
        )
        response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
        return self._record(sent, body, headers, response)

    async def apost(
        self,
        events: Sequence[dict[str, Any]],
        *,
        redelivery: bool = False,
        bad_signature: bool = False,
    ) -> WebhookResult:
        """`post` for asyncio tests."""
        sent, body, headers = self.prepare(
            events, redelivery=redelivery, bad_signature=bad_signature
        )
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(self.url, content=body, headers=headers)
        return self._record(sent, body, headers, response)

    def redeliver(self, events: Sequence[dict[str, Any]]) -> WebhookResult:
        """Send the same events again as LINE's redelivery does."""
        return self.post(events, redelivery=True)

    async def aredeliver(self, events: Sequence[dict[str, Any]]) -> WebhookResult:
        return await self.apost(events, redelivery=True)

    def _record(
        self,
        sent: list[dict[str, Any]],
        body: bytes,
        headers: dict[str, str],
        response: httpx.Response,
    ) -> WebhookResult:
        result = WebhookResult(
            sent, body, headers["x-line-signature"], response.status_code, response.content
        )
        self.results.append(result)
        return result
