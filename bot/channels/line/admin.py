"""LINE administration through line-bot-sdk v3: the month's message quota, and the rich menu.

The organisers' commands (`campaign-bot line quota | setup-richmenu`) and the broadcast
preview read the quota here; the rich menu is created, given its image and made the default
here, replacing the one set up before. Each call opens its own short-lived SDK client: nothing
is left open between commands, and the composition root has nothing to close.

LINE's refusals become `LineRefused`, one line naming what to change, never a secret.

line-bot-sdk (the `line` extra) is imported when a call is made, not with this module: the
composition root can ask `message_quota` whatever is installed.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from bot.config import Settings

if TYPE_CHECKING:
    from linebot.v3.messaging import (  # type: ignore[import-untyped]  # no py.typed
        ApiClient,
        ApiException,
        MessagingApi,
        RichMenuRequest,
    )

log = logging.getLogger(__name__)

CHANNEL = "line"
LINE_API = "https://api.line.me"
LINE_DATA_API = "https://api-data.line.me"
"""Where LINE serves rich menu images; an api_host other than LINE's own (a test server, a
proxy) serves both."""
TOKEN_SETTING = "LINE_CHANNEL_ACCESS_TOKEN"
TIMEOUT = (5.0, 10.0)
"""Seconds to connect and to read an answer: an organiser is waiting."""

T = TypeVar("T")


class LineRefused(Exception):
    """LINE could not be asked, or said no. `reason` names the case for the catalogue
    (no_token, unauthorized, forbidden, rate_limited, bad_request, unreachable, failed);
    `status` and `detail` are LINE's own (its `message`), shown as they are."""

    def __init__(self, reason: str, status: int | None = None, detail: str = "") -> None:
        super().__init__(f"{reason} {status or ''} {detail}".strip())
        self.reason = reason
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class QuotaUse:
    """This month's messages: LINE's limit (None: no limit) and how many were sent."""

    limit: int | None
    used: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


@dataclass(frozen=True)
class MenuInstalled:
    rich_menu_id: str
    replaced: tuple[str, ...]
    """Our earlier menus, deleted once the new one was the default."""
    kept: tuple[str, ...] = ()
    """Earlier menus LINE did not let us delete (the next setup tries again)."""


def data_host(api_host: str) -> str:
    """Where rich menu images go: LINE's data host when talking to LINE itself."""
    host = api_host.rstrip("/")
    return LINE_DATA_API if host == LINE_API else host


def _detail(error: ApiException) -> str:
    """LINE's `message` from an error body, on one line (the body is JSON when LINE wrote it)."""
    body = error.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip():
        return str(error.reason or "")
    try:
        parsed = json.loads(body)
    except ValueError:
        return " ".join(body.split())[:200]
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return " ".join(str(message or body).split())[:200]


def refusal(error: ApiException) -> LineRefused:
    status = int(error.status or 0)
    reason = {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}.get(status)
    if reason is None:
        reason = "bad_request" if 400 <= status < 500 else "failed"
    return LineRefused(reason, status, _detail(error))


class LineAdmin:
    """The Messaging API calls organisers' commands need, with one access token."""

    def __init__(self, api_host: str, access_token: str, *, timeout: tuple[float, float] = TIMEOUT):
        self._host = api_host.rstrip("/")
        self._token = access_token
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> LineAdmin:
        """With the channel access token of the environment; `LineRefused("no_token")`
        without one."""
        token = settings.secrets.line_channel_access_token
        if not token:
            raise LineRefused("no_token")
        return cls(settings.config.channels.line.api_host, token)

    @contextmanager
    def _client(self, host: str) -> Iterator[ApiClient]:
        from linebot.v3.messaging import ApiClient, Configuration

        with ApiClient(Configuration(host=host, access_token=self._token)) as client:
            yield client

    def _call(self, what: str, call: Callable[[], T]) -> T:
        from linebot.v3.messaging import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return call()
        except ApiException as exc:
            # The exception's text holds the response headers; only LINE's message is kept.
            log.debug("LINE refused %s: %s %s", what, exc.status, _detail(exc))
            raise refusal(exc) from None
        except HTTPError as exc:
            log.debug("LINE unreachable for %s: %s", what, type(exc).__name__)
            raise LineRefused("unreachable", None, type(exc).__name__) from None

    # --- quota ------------------------------------------------------------------------------

    def quota(self) -> QuotaUse:
        """This month's limit and use (LINE counts pushes and multicasts per recipient)."""
        from linebot.v3.messaging import MessagingApi

        with self._client(self._host) as client:
            api = MessagingApi(client)
            limit = self._call(
                "the quota", lambda: api.get_message_quota(_request_timeout=self._timeout)
            )
            used = self._call(
                "the consumption",
                lambda: api.get_message_quota_consumption(_request_timeout=self._timeout),
            )
        limited = str(limit.type.value) == "limited" and limit.value is not None
        return QuotaUse(int(limit.value) if limited else None, int(used.total_usage))

    # --- rich menu --------------------------------------------------------------------------

    def install_rich_menu(self, request: RichMenuRequest, image: bytes) -> MenuInstalled:
        """Create the menu, give it `image` (PNG), make it everyone's default, then delete our
        earlier menus (those of the same name): members are never left without one. If a
        step fails, the new menu is deleted again and the old one stays."""
        from linebot.v3.messaging import MessagingApi, MessagingApiBlob

        name = str(request.name)
        with self._client(self._host) as client, self._client(data_host(self._host)) as data:
            api, blob = MessagingApi(client), MessagingApiBlob(data)
            listed = self._call(
                "the rich menus", lambda: api.get_rich_menu_list(_request_timeout=self._timeout)
            )
            earlier = [menu.rich_menu_id for menu in listed.richmenus if menu.name == name]
            created = self._call(
                "a new rich menu",
                lambda: api.create_rich_menu(request, _request_timeout=self._timeout),
            )
            menu_id = str(created.rich_menu_id)
            try:
                self._call(
                    "the rich menu image",
                    lambda: blob.set_rich_menu_image(
                        menu_id,
                        image,
                        # The SDK names no type for the image bytes; LINE needs it.
                        _headers={"Content-Type": "image/png"},
                        _request_timeout=self._timeout,
                    ),
                )
                self._call(
                    "the default rich menu",
                    lambda: api.set_default_rich_menu(menu_id, _request_timeout=self._timeout),
                )
            except LineRefused:
                self._delete_quietly(api, menu_id)
                raise
            # The new menu is everyone's now: an old one that cannot be deleted is only clutter,
            # deleted by the next setup, and no reason to call the whole setup failed.
            deleted = tuple(old for old in earlier if self._delete_quietly(api, old))
        return MenuInstalled(menu_id, deleted, tuple(old for old in earlier if old not in deleted))

    def _delete_quietly(self, api: MessagingApi, menu_id: str) -> bool:
        from linebot.v3.messaging import ApiException
        from urllib3.exceptions import HTTPError

        try:
            api.delete_rich_menu(menu_id, _request_timeout=self._timeout)
        except (ApiException, HTTPError) as exc:
            log.warning("rich menu %s could not be deleted (%s)", menu_id, type(exc).__name__)
            return False
        return True


class LineQuota:
    """The broadcast preview's view of LINE's quota (`bot.domain.ports.MessageQuota`).

    Read afresh at every preview: what the campaign sent since matters. When LINE does not
    answer, the quota is unknown (None) and the preview says only what the broadcast uses.
    """

    channel = CHANNEL

    def __init__(self, admin: LineAdmin) -> None:
        self._admin = admin

    def remaining(self) -> int | None:
        try:
            return self._admin.quota().remaining
        except LineRefused as exc:
            log.warning("LINE's quota could not be read (%s)", exc.reason)
            return None


def message_quota(settings: Settings) -> LineQuota | None:
    """LINE's quota when the LINE channel is on, with its token and its SDK; None otherwise
    (nothing counts messages then). The composition root's one line::

        Conversation(..., quota=message_quota(settings))
    """
    if not settings.config.channels.line.enabled or importlib.util.find_spec("linebot") is None:
        return None
    try:
        return LineQuota(LineAdmin.from_settings(settings))
    except LineRefused:
        return None
