"""Sending to LINE with line-bot-sdk v3's async client: replies, pushes and multicasts, and
the outbox's `Messenger`, which says precisely why a message could not go.

Pushes and multicasts carry `X-Line-Retry-Key`: the outbox row's key on its first call, a
key derived from it on the next ones (a message of more than five objects takes several
calls). LINE keeps a key a day and answers a repeat with 409, so a retry after a crash or a
timeout is dropped by LINE instead of reaching the member twice; a 409 counts as sent.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from linebot.v3.messaging import (  # type: ignore[import-untyped]  # no py.typed
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    Message,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
)

from bot.channels.line import render
from bot.config import LineConfig
from bot.delivery.model import (
    DeliveryError,
    PermanentFailure,
    QuotaExhausted,
    RateLimited,
    TemporaryFailure,
    Unreachable,
)
from bot.domain.capabilities import Capabilities
from bot.domain.messages import Outgoing

log = logging.getLogger(__name__)

MULTICAST_RECIPIENTS = 500

MONTHLY_LIMIT = "You have reached your monthly limit."
INVALID_REPLY_TOKEN = "Invalid reply token"
# LINE sends no Retry-After with a 429. Its rate limits are per second (2,000 pushes, 200
# multicasts), so a short pause for the whole channel is enough. (The monthly quota is
# another 429, told apart by its message: `QuotaExhausted`.)
RATE_LIMIT_WAIT = 2.0
# A 400 about the recipient means this id is no LINE user of ours: nobody to send to, ever.
_BAD_RECIPIENT = ("'to'", "to[")


class ReplyTokenRefused(Exception):
    """LINE refused the reply token (used, expired, or unknown): push instead."""


def api_configuration(config: LineConfig, access_token: str) -> Configuration:
    return Configuration(host=config.api_host.rstrip("/"), access_token=access_token)


class LineMessenger:
    """Sends through its own async API client: replies for the channel, pushes and
    multicasts for the outbox. `open` must be awaited (in the event loop) before sending."""

    capabilities: Capabilities = render.CAPABILITIES

    def __init__(
        self,
        config: LineConfig,
        access_token: str,
        file_link: render.FileLink,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._configuration = api_configuration(config, access_token)
        self._file_link = file_link
        self._timeout = timeout
        self._client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None

    async def open(self) -> None:
        if self._client is None:
            # aiohttp's session belongs to the running loop: made here, not in __init__.
            self._client = AsyncApiClient(self._configuration)
            self._api = AsyncMessagingApi(self._client)
            _no_env_lookups(self._client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._api = None

    @property
    def api(self) -> AsyncMessagingApi:
        if self._api is None:
            raise RuntimeError("LineMessenger.open() was not awaited")
        return self._api

    def render(self, replies: Sequence[Outgoing]) -> list[Message]:
        return render.render(replies, self._file_link)

    # --- the outbox's Messenger --------------------------------------------------------------

    def parts(self, message: Outgoing) -> int:
        """LINE message objects `send` uses for `message` (each push counts once per
        recipient against the monthly quota, however many objects it carries)."""
        return render.count([message])

    async def send(self, external_id: str, message: Outgoing, *, retry_key: str) -> str:
        """Push `message` to one member; returns the id of the last message object sent.

        Raises `Unreachable`, `RateLimited`, `TemporaryFailure` or `PermanentFailure`.
        """
        sent = ""
        for number, batch in enumerate(render.calls(self.render([message]))):
            sent = await self.push(external_id, batch, call_key(retry_key, number))
        return sent

    async def send_many(
        self, external_ids: Sequence[str], message: Outgoing, *, retry_key: str
    ) -> str:
        """Multicast `message` to up to 500 members at once; returns LINE's request id of the
        last call (multicast answers no message ids). The errors are `send`'s."""
        if len(external_ids) > MULTICAST_RECIPIENTS:
            raise ValueError(
                f"a multicast reaches at most {MULTICAST_RECIPIENTS} members, "
                f"not {len(external_ids)}"
            )
        if not external_ids:
            raise ValueError("a multicast needs at least one recipient")
        sent = ""
        for number, batch in enumerate(render.calls(self.render([message]))):
            sent = await self.multicast(external_ids, batch, call_key(retry_key, number))
        return sent

    # --- single calls ------------------------------------------------------------------------

    async def reply(self, reply_token: str, messages: list[Message]) -> None:
        """Answer with the event's reply token (free of quota). Raises `ReplyTokenRefused`
        when LINE no longer takes the token, else a `DeliveryError`."""
        try:
            await self.api.reply_message(
                _Reply(reply_token=reply_token, messages=messages),
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            if exc.status == 400 and error_message(exc) == INVALID_REPLY_TOKEN:
                raise ReplyTokenRefused from exc
            raise failure(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryFailure(f"LINE could not be reached: {type(exc).__name__}") from exc

    async def push(self, to: str, messages: list[Message], retry_key: str) -> str:
        """One push call; returns the id of its last message object."""
        try:
            response = await self.api.push_message(
                _Push(to=to, messages=messages),
                x_line_retry_key=retry_key,
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            if exc.status == 409:
                return _accepted(exc)
            raise failure(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryFailure(f"LINE could not be reached: {type(exc).__name__}") from exc
        sent = response.sent_messages or []
        return str(sent[-1].id) if sent else ""

    async def multicast(self, to: Sequence[str], messages: list[Message], retry_key: str) -> str:
        try:
            response = await self.api.multicast_with_http_info(
                _Multicast(to=list(to), messages=messages),
                x_line_retry_key=retry_key,
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            if exc.status == 409:
                return _accepted(exc)
            raise failure(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryFailure(f"LINE could not be reached: {type(exc).__name__}") from exc
        return str((response.headers or {}).get("x-line-request-id", ""))


# The SDK turns a request into JSON with its models' `to_dict`, which at every level first
# dumps the whole subtree (pydantic's `dict`) and then dumps each child again with its own
# `to_dict`: a Flex bubble, five levels deep, is dumped five or six times over, and that was
# the largest CPU cost of an answer. For the requests we send, every `to_dict` on the way down
# is exactly pydantic's `dict(by_alias=True, exclude_none=True)` of the same models (the SDK's
# generated overrides only call `to_dict` on the children), so these requests dump once and
# give the SDK the same dict. tests/line/test_serialization.py holds them to the SDK's own.


class _DumpedOnce:
    def to_dict(self) -> dict[str, Any]:
        return self.dict(by_alias=True, exclude_none=True)  # type: ignore[attr-defined,no-any-return]


class _Reply(_DumpedOnce, ReplyMessageRequest):  # type: ignore[misc]  # SDK models are untyped
    pass


class _Push(_DumpedOnce, PushMessageRequest):  # type: ignore[misc]
    pass


class _Multicast(_DumpedOnce, MulticastRequest):  # type: ignore[misc]
    pass


def _no_env_lookups(client: AsyncApiClient) -> None:
    """The SDK's aiohttp session trusts the environment: before every call, aiohttp looks for
    a proxy in the environment and reads ~/.netrc, on a thread of the default executor (a
    thread hop and a file read per answer, a large share of an answer's CPU). When the
    environment names no proxy and there is no netrc file, those lookups can only come back
    empty, so they are turned off; otherwise the session is left as the SDK made it."""
    if urllib.request.getproxies() or os.environ.get("NETRC"):
        return
    if (Path.home() / ".netrc").exists() or (Path.home() / "_netrc").exists():
        return
    session = getattr(getattr(client, "rest_client", None), "pool_manager", None)
    if isinstance(session, aiohttp.ClientSession) and hasattr(session, "_trust_env"):
        session._trust_env = False


def call_key(retry_key: str, number: int) -> str:
    """The retry key of the `number`th call of one delivery: the row's own key first, then
    keys derived from it, so every attempt at the row sends the same keys."""
    try:
        base = uuid.UUID(retry_key)
    except ValueError:
        base = uuid.uuid5(uuid.NAMESPACE_URL, f"campaign-bot:{retry_key}")
    return str(base if number == 0 else uuid.uuid5(base, f"line call {number}"))


def error_message(exc: ApiException) -> str:
    """LINE's `message` from an error body (`{"message": ..., "details": [...]}`)."""
    return str(_body(exc).get("message", ""))


def failure(exc: ApiException) -> DeliveryError:
    """What a refusal from LINE means for the message (never with the member's text)."""
    status = exc.status or 0
    message = error_message(exc)
    body = _body(exc)
    details = "; ".join(
        f"{d.get('property', '')}: {d.get('message', '')}"
        for d in body.get("details", [])
        if isinstance(d, dict)
    )
    described = f"{status} {message}" + (f" ({details})" if details else "")
    if status == 429:
        if message == MONTHLY_LIMIT:
            return QuotaExhausted(described)
        return RateLimited(RATE_LIMIT_WAIT, everything=True)
    if status == 404 or (status == 400 and any(b in message + details for b in _BAD_RECIPIENT)):
        return Unreachable(described)
    if status == 400 or status == 413:
        return PermanentFailure(described)
    if status in (401, 403):
        # A revoked or wrong access token: an operator must act; the row waits meanwhile.
        log.error("LINE refused the access token: %s", described)
        return TemporaryFailure(described)
    return TemporaryFailure(described)


def _accepted(exc: ApiException) -> str:
    """A 409 to a retry key: LINE took this call before. Its message id, or request id."""
    sent = _body(exc).get("sentMessages")
    if isinstance(sent, list) and sent and isinstance(sent[-1], dict):
        return str(sent[-1].get("id", ""))
    headers = exc.headers or {}
    return str(headers.get("x-line-accepted-request-id", ""))


def _body(exc: ApiException) -> dict[str, Any]:
    raw = exc.body
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}
