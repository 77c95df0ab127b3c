"""`POST /line/callback`: LINE's webhook, verified on the raw body, answered at once.

The signature (`x-line-signature`, base64 of HMAC-SHA256 of the raw body under the channel
secret) is checked on the bytes as they arrived, before anything is parsed: a missing or
wrong one is 400 and nothing is processed. The events then go to `MemberQueues` and the
answer is 200 at once; LINE waits for it only a few seconds, and our replies go out through
the API, not in this answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.channels.line.ordering import MemberQueues
from bot.channels.line.translate import LineEvent, events_of, translate
from bot.channels.web import TooLarge, read_body

log = logging.getLogger(__name__)

PATH = "/line/callback"
SIGNATURE_HEADER = "x-line-signature"
MAX_BODY = 1024 * 1024
"""Bytes of one webhook body we accept. LINE's bodies hold a few events of a few kilobytes
(a text is at most 5,000 characters); a larger body is refused before it is read."""


def signature_ok(body: bytes, signature: str, channel_secret: str) -> bool:
    """Whether `signature` is LINE's for `body` (compared in constant time)."""
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.encode("ascii", "replace"))


Arrival = tuple[LineEvent, float]
"""An event and when its webhook arrived (time.monotonic()), to judge its reply token by."""


class Webhook:
    def __init__(
        self,
        channel_secret: str,
        queues: MemberQueues[Arrival],
        *,
        max_body: int = MAX_BODY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = channel_secret
        self._queues = queues
        self._max_body = max_body
        self._monotonic = monotonic

    def route(self) -> Route:
        return Route(PATH, self.receive, methods=["POST"])

    async def receive(self, request: Request) -> Response:
        arrived = self._monotonic()
        signature = request.headers.get(SIGNATURE_HEADER)
        try:
            body = await read_body(request, self._max_body)
        except TooLarge:
            log.warning(
                "LINE webhook body over %d bytes refused from %s", self._max_body, _peer(request)
            )
            return PlainTextResponse(
                "payload too large", status_code=413, headers={"Connection": "close"}
            )
        if not signature or not signature_ok(body, signature, self._secret):
            # Logged without the body: it may hold members' words, and it is not LINE's.
            log.warning(
                "LINE webhook call with %s signature refused from %s",
                "a wrong" if signature else "no",
                _peer(request),
            )
            return PlainTextResponse("bad signature", status_code=400)
        try:
            events = events_of(json.loads(body))
        except ValueError:  # not JSON, or not UTF-8
            events = None
        if events is None:
            log.warning("signed LINE webhook body that is not LINE's JSON from %s", _peer(request))
            return PlainTextResponse("bad request", status_code=400)
        taken = [event for event in map(translate, events) if event is not None]
        items = [(event.member.external_id, (event, arrived)) for event in taken]
        if not self._queues.offer(items):
            # Nothing taken: LINE's redelivery (when turned on) brings the events again.
            log.warning("LINE webhook refused: %d events waiting already", self._queues.waiting)
            return PlainTextResponse("busy", status_code=503)
        return PlainTextResponse("OK")


def _peer(request: Request) -> str:
    return request.client.host if request.client else "?"
