"""A fake LINE Messaging API for tests: real HTTP on 127.0.0.1, LINE's rules and error bodies.

Point the unmodified line-bot-sdk v3 at it::

    with FakeLine() as fake:
        user = fake.add_user(display_name="花子")
        configuration = Configuration(host=fake.base_url, access_token=fake.access_token)
        with ApiClient(configuration) as client:
            MessagingApi(client).push_message(
                PushMessageRequest(to=user, messages=[TextMessage(text="こんにちは")])
            )
        [message] = fake.messages(user)

The server answers what the bot uses: reply (single-use reply tokens that expire), push and
multicast (1-5 messages; 500 recipients), the monthly quota and its consumption, and rich menus
(create, upload the image, set the default), each with Bearer auth, `X-Line-Retry-Key`,
per-endpoint rate limits and LINE's `{"message": ..., "details": [...]}` bodies; every answer
carries `x-line-request-id`. Tests play the members: `text_event(user, "...")` and the other
builders return real-shaped webhook events whose reply tokens the fake accepts, and
`webhook_sender(url)` POSTs them signed to the bot. They read what each member got
(`messages`, `texts`), the calls seen (`requests`), the retry keys and the quota, and inject
faults (`fail_next`, `drop_next`). The same control methods are served as JSON under
`/_control/<name>`; `python -m tests.fakes.line_api --port 8082` runs the fake on its own.

All public methods are thread-safe.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import json
import re
import signal
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote

from tests.fakes import line_errors as errors
from tests.fakes.line_errors import FakeUsageError, LineApiError
from tests.fakes.line_http import FakeHttpServer, HttpRequest, HttpResponse
from tests.fakes.line_state import (
    AcceptedKey,
    Call,
    Delivered,
    LineState,
    Outcome,
    RateLimit,
    RichMenu,
    UserStatus,
    line_rate_limits,
)
from tests.fakes.line_webhook import EventFactory, LineWebhookSender
from tests.fakes.telegram_faults import Fault, FaultPlan, method_set
from tests.fakes.waiting import Watched

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_BOT_USER_ID",
    "DEFAULT_CHANNEL_SECRET",
    "AcceptedKey",
    "Delivered",
    "FakeLine",
    "FakeUsageError",
    "LineWebhookSender",
    "RateLimit",
    "RecordedRequest",
    "RichMenu",
    "line_rate_limits",
    "main",
]

DEFAULT_ACCESS_TOKEN = "FakeLineChannelAccessToken+0123456789/abcdefghij="
DEFAULT_CHANNEL_SECRET = "0123456789abcdef0123456789abcdef"
DEFAULT_BOT_USER_ID = "U" + "b0" * 16

# (HTTP method, path pattern, endpoint): endpoints are named after line-bot-sdk v3's methods.
# Rich menu images live on api-data.line.me; Configuration(host=...) sends them here too.
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), endpoint)
    for method, pattern, endpoint in (
        ("POST", r"/v2/bot/message/reply", "reply_message"),
        ("POST", r"/v2/bot/message/push", "push_message"),
        ("POST", r"/v2/bot/message/multicast", "multicast"),
        ("GET", r"/v2/bot/message/quota", "get_message_quota"),
        ("GET", r"/v2/bot/message/quota/consumption", "get_message_quota_consumption"),
        ("POST", r"/v2/bot/richmenu", "create_rich_menu"),
        ("GET", r"/v2/bot/richmenu/list", "get_rich_menu_list"),
        ("GET", r"/v2/bot/richmenu/(?P<rich_menu_id>[^/]+)", "get_rich_menu"),
        ("DELETE", r"/v2/bot/richmenu/(?P<rich_menu_id>[^/]+)", "delete_rich_menu"),
        ("POST", r"/v2/bot/richmenu/(?P<rich_menu_id>[^/]+)/content", "set_rich_menu_image"),
        ("GET", r"/v2/bot/richmenu/(?P<rich_menu_id>[^/]+)/content", "get_rich_menu_image"),
        ("POST", r"/v2/bot/user/all/richmenu/(?P<rich_menu_id>[^/]+)", "set_default_rich_menu"),
        ("GET", r"/v2/bot/user/all/richmenu", "get_default_rich_menu_id"),
        ("DELETE", r"/v2/bot/user/all/richmenu", "cancel_default_rich_menu"),
    )
]
ENDPOINTS = tuple(dict.fromkeys(endpoint for _, _, endpoint in _ROUTES))


@dataclass(frozen=True)
class RecordedRequest:
    """One API call as the fake saw it.

    `body` is the parsed JSON body (None for images and bodies that are not JSON);
    `status` is the HTTP status answered, 0 when the connection was dropped; `message` is
    LINE's error message, or the injected fault; `at` is time.monotonic() when answered.
    """

    endpoint: str
    method: str
    path: str
    retry_key: str | None
    body: Any
    body_size: int
    status: int
    message: str | None
    response: Any
    request_id: str
    at: float


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        status, json.dumps(body, ensure_ascii=False).encode(), headers=dict(headers or {})
    )


def _to_jsonable(value: Any) -> Any:
    """Dataclasses, bytes (as base64) and tuples made JSON-friendly for the control API."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(key): _to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_to_jsonable(item) for item in value]
    return value


class FakeLine(Watched):
    """A fake LINE Messaging API for one channel: an HTTP server plus a control API for tests.

    `access_token` is the channel access token calls must carry (`Authorization: Bearer ...`),
    `channel_secret` signs webhook bodies, `bot_user_id` is the webhook's `destination`.
    `monthly_limit` is the number of pushed messages (per recipient) a month allows, None for
    no limit; `rate_limits` maps endpoint names ("push_message"; "*" for the others) to
    limits, None for none (`line_rate_limits()` gives LINE's own). Reply tokens expire after
    `reply_token_ttl` seconds and retry keys after `retry_key_ttl`, on `clock` (Unix seconds),
    which also dates events and decides the month of the quota (in Japan time).
    """

    def __init__(
        self,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        channel_secret: str = DEFAULT_CHANNEL_SECRET,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        monthly_limit: int | None = None,
        rate_limits: dict[str, RateLimit] | None = None,
        reply_token_ttl: float = 60.0,
        retry_key_ttl: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
        log_requests: bool = True,
    ) -> None:
        self.access_token = access_token
        self.channel_secret = channel_secret
        self.bot_user_id = bot_user_id
        self._init_watching()
        self._state = LineState(
            clock=clock,
            reply_token_ttl=reply_token_ttl,
            retry_key_ttl=retry_key_ttl,
            monthly_limit=monthly_limit,
        )
        self._state.set_rate_limits(rate_limits)
        self._events = EventFactory(clock)
        self._http = FakeHttpServer(self._handle_http, host, port)
        self._host = host
        self._faults = FaultPlan()
        self._log_requests = log_requests
        self._requests: list[RecordedRequest] = []
        self._by_endpoint: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._stopping = threading.Event()
        self._running = False
        self._control: dict[str, Callable[..., Any]] = self._control_methods()
        self.internal_errors: list[str] = []
        """Tracebacks of bugs in the fake itself (answered as 500); tests can assert it is empty."""

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeLine:
        """Start serving; returns self."""
        if self._running:
            raise RuntimeError("FakeLine is already running")
        self._stopping.clear()
        self._http.start()
        self._running = True
        return self

    def stop(self) -> None:
        """Stop serving; open connections are closed."""
        if not self._running:
            return
        self._stopping.set()
        with self._cond:
            self._changed()
        self._http.stop()
        self._running = False

    def __enter__(self) -> FakeLine:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._running else "stopped"
        return f"<FakeLine {self.bot_user_id} {where}>"

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def base_url(self) -> str:
        """http://host:port, no trailing slash: what `Configuration(host=...)` takes."""
        return f"http://{self._host}:{self.port}"

    @property
    def control_url(self) -> str:
        """Where the control API is served: POST JSON to <control_url>/<name>."""
        return f"{self.base_url}/_control"

    # --- members ------------------------------------------------------------------------------

    def _mutate(self, action: Callable[[], Any]) -> Any:
        with self._cond:
            result = action()
            self._changed()
            return result

    def add_user(
        self,
        user_id: str | None = None,
        *,
        display_name: str = "花子",
        language: str = "ja",
        status: UserStatus = "friend",
    ) -> str:
        """A LINE user who has added the account as a friend (or blocked it: `status`).

        Without `user_id` one is made up (U + 32 hex digits); returns it. No event is sent:
        use `follow_event` for a member arriving while the bot is running.
        """
        return str(
            self._mutate(lambda: self._state.add_user(user_id, display_name, language, status))
        )

    def user_status(self, user_id: str) -> UserStatus:
        with self._cond:
            return self._state.require_user(user_id).status

    def block(self, user_id: str) -> None:
        """The user blocks the account, silently: pushes to them answer 200 and are dropped.

        (LINE also sends an unfollow event; `unfollow_event` builds that.)
        """
        self._mutate(lambda: setattr(self._state.require_user(user_id), "status", "blocked"))

    def unblock(self, user_id: str) -> None:
        """The user unblocks the account, silently (see `follow_event` for the event)."""
        self._mutate(lambda: setattr(self._state.require_user(user_id), "status", "friend"))

    def issue_reply_token(self, user_id: str) -> str:
        """A fresh reply token for a user, valid once for `reply_token_ttl` seconds."""
        return str(self._mutate(lambda: self._state.issue_reply_token(user_id)))

    def reply_token_state(self, token: str) -> str:
        """One of "valid", "used", "expired" and "unknown"."""
        with self._cond:
            return self._state.reply_token_state(token)

    # --- webhook events: each updates the fake, registers its reply token, returns the event ---

    def _friend(self, user_id: str) -> None:
        user = self._state.require_user(user_id)
        if user.status != "friend":
            raise FakeUsageError(f"user {user_id} has blocked the account and cannot write to it")

    def follow_event(
        self, user_id: str | None = None, *, display_name: str = "花子"
    ) -> dict[str, Any]:
        """A user adds the account (a new user if `user_id` is None or unknown) or unblocks it
        (`follow.isUnblocked` true). The event carries a reply token."""

        def action() -> dict[str, Any]:
            known = self._state.users.get(user_id) if user_id is not None else None
            if known is None:
                new_id = self._state.add_user(user_id, display_name, "ja", "friend")
                token = self._state.issue_reply_token(new_id)
                return self._events.follow(new_id, token)
            if known.status == "friend":
                raise FakeUsageError(f"user {known.user_id} is already a friend")
            known.status = "friend"
            token = self._state.issue_reply_token(known.user_id)
            return self._events.follow(known.user_id, token, unblocked=True)

        return dict(self._mutate(action))

    def unfollow_event(self, user_id: str) -> dict[str, Any]:
        """The user blocks the account: the unfollow event (no reply token); pushes to them
        are dropped from now on."""

        def action() -> dict[str, Any]:
            self._friend(user_id)
            self._state.users[user_id].status = "blocked"
            return self._events.unfollow(user_id)

        return dict(self._mutate(action))

    def _message_event(
        self, user_id: str, build: Callable[[str], dict[str, Any]]
    ) -> dict[str, Any]:
        def action() -> dict[str, Any]:
            self._friend(user_id)
            return build(self._state.issue_reply_token(user_id))

        return dict(self._mutate(action))

    def text_event(self, user_id: str, text: str) -> dict[str, Any]:
        """The user writes `text` to the account."""
        return self._message_event(user_id, lambda t: self._events.text(user_id, t, text))

    def sticker_event(
        self, user_id: str, *, package_id: str = "446", sticker_id: str = "1988"
    ) -> dict[str, Any]:
        """The user sends a sticker."""
        return self._message_event(
            user_id,
            lambda t: self._events.sticker(
                user_id, t, package_id=package_id, sticker_id=sticker_id
            ),
        )

    def image_event(self, user_id: str) -> dict[str, Any]:
        """The user sends a photo."""
        return self._message_event(user_id, lambda t: self._events.image(user_id, t))

    def location_event(
        self,
        user_id: str,
        latitude: float,
        longitude: float,
        *,
        title: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """The user shares a location."""
        return self._message_event(
            user_id,
            lambda t: self._events.location(
                user_id, t, latitude, longitude, title=title, address=address
            ),
        )

    def postback_event(
        self, user_id: str, data: str, *, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The user taps a postback action carrying `data` (a quick reply, a button, a rich
        menu area); `params` is a datetime picker's choice."""
        return self._message_event(
            user_id, lambda t: self._events.postback(user_id, t, data, params=params)
        )

    def webhook_sender(self, url: str, *, timeout: float = 10.0) -> LineWebhookSender:
        """Something that POSTs events to the bot at `url`, signed with this channel's secret."""
        return LineWebhookSender(url, self.channel_secret, self.bot_user_id, timeout=timeout)

    # --- reading ------------------------------------------------------------------------------

    def messages(self, user_id: str, endpoint: str | None = None) -> list[Delivered]:
        """What the user received (by `endpoint`: "reply_message", "push_message",
        "multicast"), one entry per message object, in the order they were sent."""
        with self._cond:
            return [
                m
                for m in self._state.delivered
                if m.user_id == user_id and (endpoint is None or m.endpoint == endpoint)
            ]

    def texts(self, user_id: str) -> list[str]:
        """The texts (or alt texts) the user received, in order."""
        return [m.text for m in self.messages(user_id)]

    def last_message(self, user_id: str) -> Delivered:
        received = self.messages(user_id)
        if not received:
            raise FakeUsageError(f"user {user_id} received nothing")
        return received[-1]

    def dropped(self, user_id: str | None = None) -> list[Delivered]:
        """Messages accepted (200) but not delivered: to blocked users and strangers."""
        with self._cond:
            return [m for m in self._state.dropped if user_id is None or m.user_id == user_id]

    def requests(self, endpoint: str | None = None) -> list[RecordedRequest]:
        """Calls of `endpoint` ("push_message", ...), or all calls, in the order answered."""
        with self._cond:
            return [r for r in self._requests if endpoint is None or r.endpoint == endpoint]

    @property
    def retry_keys(self) -> dict[str, AcceptedKey]:
        """Retry keys accepted so far (and not yet expired), by key."""
        with self._cond:
            return dict(self._state.retry_keys)

    @property
    def quota_used(self) -> int:
        """Messages counted against this month's quota (what quota/consumption answers)."""
        with self._cond:
            return self._state.quota().used

    @property
    def monthly_limit(self) -> int | None:
        with self._cond:
            return self._state.monthly_limit

    def set_monthly_limit(self, limit: int | None, *, used: int | None = None) -> None:
        """Change the plan's monthly limit (None: none); `used` sets this month's count."""

        def action() -> None:
            self._state.monthly_limit = limit
            quota = self._state.quota()
            if used is not None:
                quota.used = used

        self._mutate(action)

    @property
    def rich_menus(self) -> dict[str, RichMenu]:
        """Rich menus created and not deleted, by id."""
        with self._cond:
            return dict(self._state.rich_menus)

    @property
    def default_rich_menu_id(self) -> str | None:
        with self._cond:
            return self._state.default_rich_menu

    @property
    def stats(self) -> dict[str, dict[Any, int]]:
        """Counts of calls by endpoint and by HTTP status."""
        with self._cond:
            return {"by_endpoint": dict(self._by_endpoint), "by_status": dict(self._by_status)}

    def transcript(self) -> str:
        """Every user with what they received, then recent failed calls: for debugging."""
        with self._cond:
            lines: list[str] = []
            for user in self._state.users.values():
                lines.append(f"user {user.user_id} {user.display_name} ({user.status})")
                for m in self._state.delivered:
                    if m.user_id == user.user_id:
                        lines.append(f"  {m.endpoint:13} {m.type:8} {m.text!r}")
            dropped = len(self._state.dropped)
            if dropped:
                lines.append(f"{dropped} message(s) dropped (blocked users, strangers)")
            failed = [r for r in self._requests if r.status != 200][-10:]
        if failed:
            lines.append("recent failed calls:")
            lines += [f"  {r.endpoint} -> {r.status} {r.message or ''}".rstrip() for r in failed]
        return "\n".join(lines)

    # --- rate limits and faults ---------------------------------------------------------------

    def set_rate_limits(self, limits: dict[str, RateLimit] | None) -> None:
        """Per-endpoint limits (fresh, full buckets), or None for none."""
        self._mutate(lambda: self._state.set_rate_limits(limits))

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        endpoints: Iterable[str] | str | None = None,
        after: bool = False,
    ) -> None:
        """The next `count` calls (of `endpoints`) answer `status` (5xx). With `after`, they are
        processed first (a push is delivered, its retry key accepted) and only the answer
        fails: the case a retry key is for."""
        self._add_fault(
            Fault("error", method_set(endpoints), remaining=count, status=status, after=after)
        )

    def drop_next(
        self,
        count: int = 1,
        *,
        endpoints: Iterable[str] | str | None = None,
        after: bool = False,
    ) -> None:
        """The next `count` calls get their connection closed without an answer (`after`: once
        processed)."""
        self._add_fault(Fault("drop", method_set(endpoints), remaining=count, after=after))

    def delay_next(
        self, count: int, seconds: float, *, endpoints: Iterable[str] | str | None = None
    ) -> None:
        """The next `count` calls are answered `seconds` late (for client timeouts)."""
        self._add_fault(Fault("delay", method_set(endpoints), remaining=count, delay=seconds))

    def _add_fault(self, fault: Fault) -> None:
        unknown = (fault.methods or frozenset()) - set(ENDPOINTS)
        if unknown:
            raise FakeUsageError(f"no endpoint {sorted(unknown)}; known: {', '.join(ENDPOINTS)}")
        self._mutate(lambda: self._faults.add(fault))

    def clear_faults(self) -> None:
        self._mutate(self._faults.clear)

    @property
    def faults(self) -> list[Fault]:
        """The faults still active."""
        with self._cond:
            return self._faults.active

    # --- waiting ------------------------------------------------------------------------------

    def wait_for_messages(
        self, user_id: str, count: int = 1, timeout: float = 5.0
    ) -> list[Delivered]:
        """Wait until the user has received at least `count` messages; return them all."""
        self.wait_until(
            lambda: len(self.messages(user_id)) >= count,
            timeout,
            description=f"{count} message(s) to {user_id}",
        )
        return self.messages(user_id)

    async def messages_eventually(
        self,
        user_id: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_for_messages
    ) -> list[Delivered]:
        """`wait_for_messages` for asyncio tests."""
        await self.until(
            lambda: len(self.messages(user_id)) >= count,
            timeout,
            description=f"{count} message(s) to {user_id}",
        )
        return self.messages(user_id)

    # --- HTTP ---------------------------------------------------------------------------------

    def _handle_http(self, request: HttpRequest) -> HttpResponse | None:
        try:
            if request.path == "/_control" or request.path.startswith("/_control/"):
                return self._handle_control(request)
            return self._handle_api(request)
        except Exception:
            with self._cond:
                self.internal_errors.append(traceback.format_exc())
            raise  # the HTTP layer prints it and answers 500

    @staticmethod
    def _route(method: str, path: str) -> tuple[str, dict[str, str]] | LineApiError:
        path_matched = False
        for route_method, pattern, endpoint in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            path_matched = True
            if route_method == method:
                return endpoint, {k: unquote(v) for k, v in match.groupdict().items()}
        if path_matched:
            return LineApiError(405, errors.METHOD_NOT_ALLOWED)
        return LineApiError(404, errors.NOT_FOUND)

    def _authorised(self, request: HttpRequest) -> LineApiError | None:
        header = request.headers.get("Authorization")
        if not header or not header.startswith("Bearer "):
            return LineApiError(401, errors.AUTH_HEADER_REQUIRED)
        if header[len("Bearer ") :] != self.access_token:
            return LineApiError(401, errors.AUTH_FAILED)
        return None

    def _handle_api(self, request: HttpRequest) -> HttpResponse | None:
        request_id = str(uuid.uuid4())
        retry_key = request.headers.get("X-Line-Retry-Key")
        route = self._route(request.method, request.path)
        if isinstance(route, LineApiError):
            with self._cond:
                return self._respond("unknown", request, retry_key, request_id, route)
        endpoint, params = route
        refusal = self._authorised(request)
        if refusal is not None:
            with self._cond:
                return self._respond(endpoint, request, retry_key, request_id, refusal)

        with self._cond:
            decision = self._faults.decide(endpoint, time.monotonic())
        if decision.delay:
            self._stopping.wait(decision.delay)
        fault = decision.terminal
        with self._cond:
            if fault is not None and not fault.after:
                return self._fault_response(endpoint, request, retry_key, request_id, fault)
            call = Call(
                endpoint,
                params,
                request.body,
                request.headers.get("Content-Type") or "",
                retry_key,
                request_id,
            )
            try:
                self._state.check_rate(endpoint)
                self._state.check_retry_key(endpoint, retry_key)
                outcome: Outcome | LineApiError = self._state.call(call)
            except LineApiError as error:
                outcome = error
            if fault is not None:
                return self._fault_response(endpoint, request, retry_key, request_id, fault)
            return self._respond(endpoint, request, retry_key, request_id, outcome)

    def _record(
        self,
        endpoint: str,
        request: HttpRequest,
        retry_key: str | None,
        request_id: str,
        status: int,
        message: str | None,
        response: Any,
    ) -> None:
        """Log a call; lock held, in the same critical section as its effect on the state."""
        body: Any = None
        if "json" in (request.headers.get("Content-Type") or "") and request.body:
            with contextlib.suppress(ValueError):
                body = json.loads(request.body)
        self._by_endpoint[endpoint] += 1
        self._by_status[status] += 1
        if self._log_requests:
            self._requests.append(
                RecordedRequest(
                    endpoint,
                    request.method,
                    request.path,
                    retry_key,
                    body,
                    len(request.body),
                    status,
                    message,
                    response,
                    request_id,
                    time.monotonic(),
                )
            )
        self._changed()

    def _respond(
        self,
        endpoint: str,
        request: HttpRequest,
        retry_key: str | None,
        request_id: str,
        outcome: Outcome | LineApiError,
    ) -> HttpResponse:
        headers = {"x-line-request-id": request_id}
        if isinstance(outcome, LineApiError):
            body = outcome.body()
            headers.update(outcome.headers)
            self._record(
                endpoint, request, retry_key, request_id, outcome.status, outcome.message, body
            )
            return _json_response(outcome.status, body, headers)
        if isinstance(outcome.body, bytes):
            self._record(endpoint, request, retry_key, request_id, 200, None, None)
            return HttpResponse(200, outcome.body, outcome.content_type, headers)
        self._record(endpoint, request, retry_key, request_id, 200, None, outcome.body)
        return _json_response(200, outcome.body, headers)

    def _fault_response(
        self,
        endpoint: str,
        request: HttpRequest,
        retry_key: str | None,
        request_id: str,
        fault: Fault,
    ) -> HttpResponse | None:
        when = " after processing" if fault.after else ""
        if fault.kind == "drop":
            message = f"injected fault: connection dropped{when}"
            self._record(endpoint, request, retry_key, request_id, 0, message, None)
            return None
        phrase = HTTPStatus(fault.status).phrase
        body = {"message": errors.INTERNAL_ERROR if fault.status == 500 else phrase}
        message = f"injected fault: {fault.status} {phrase}{when}"
        self._record(endpoint, request, retry_key, request_id, fault.status, message, body)
        return _json_response(fault.status, body, {"x-line-request-id": request_id})

    # --- control API over HTTP ----------------------------------------------------------------

    def _control_methods(self) -> dict[str, Callable[..., Any]]:
        def rate_limits(limits: dict[str, dict[str, Any]] | None = None) -> None:
            """{"push_message": {"per_second": 1, "burst": 2}, ...}, or nothing for none."""
            parsed = {name: RateLimit(**spec) for name, spec in (limits or {}).items()}
            self.set_rate_limits(parsed or None)

        return {
            "add_user": self.add_user,
            "user_status": self.user_status,
            "block": self.block,
            "unblock": self.unblock,
            "issue_reply_token": self.issue_reply_token,
            "reply_token_state": self.reply_token_state,
            "follow_event": self.follow_event,
            "unfollow_event": self.unfollow_event,
            "text_event": self.text_event,
            "sticker_event": self.sticker_event,
            "image_event": self.image_event,
            "location_event": self.location_event,
            "postback_event": self.postback_event,
            "messages": self.messages,
            "texts": self.texts,
            "dropped": self.dropped,
            "requests": self.requests,
            "retry_keys": lambda: self.retry_keys,
            "quota_used": lambda: self.quota_used,
            "set_monthly_limit": self.set_monthly_limit,
            "rich_menus": lambda: self.rich_menus,
            "default_rich_menu_id": lambda: self.default_rich_menu_id,
            "stats": lambda: self.stats,
            "transcript": self.transcript,
            "set_rate_limits": rate_limits,
            "fail_next": self.fail_next,
            "drop_next": self.drop_next,
            "delay_next": self.delay_next,
            "clear_faults": self.clear_faults,
            "faults": lambda: self.faults,
        }

    def _handle_control(self, request: HttpRequest) -> HttpResponse:
        name = request.path[len("/_control") :].strip("/")
        if not name:
            return _json_response(200, {"ok": True, "result": sorted(self._control)})
        action = self._control.get(name)
        if action is None:
            known = ", ".join(sorted(self._control))
            return _json_response(
                404, {"ok": False, "error": f"no control {name!r}; known: {known}"}
            )
        try:
            kwargs: dict[str, Any] = {}
            # Query-string values are JSON when they parse as JSON ("1001", "true"), else text.
            for key, value in parse_qsl(request.query, keep_blank_values=True):
                try:
                    kwargs[key] = json.loads(value)
                except ValueError:
                    kwargs[key] = value
            if request.body:
                body = json.loads(request.body)
                if not isinstance(body, dict):
                    raise ValueError("the control API takes a JSON object of keyword arguments")
                kwargs.update(body)
            result = action(**kwargs)
        except (TypeError, ValueError, AssertionError, LookupError) as error:
            return _json_response(400, {"ok": False, "error": f"{type(error).__name__}: {error}"})
        return _json_response(200, {"ok": True, "result": _to_jsonable(result)})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake until interrupted; prints its base URL on the first line of stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.line_api",
        description="A fake LINE Messaging API server for local testing.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082, help="0 picks a free port")
    parser.add_argument("--access-token", default=DEFAULT_ACCESS_TOKEN)
    parser.add_argument("--channel-secret", default=DEFAULT_CHANNEL_SECRET)
    parser.add_argument("--monthly-limit", type=int, default=None)
    parser.add_argument("--rate-limits", action="store_true", help="apply LINE's rate limits")
    args = parser.parse_args(argv)

    fake = FakeLine(
        args.access_token,
        args.channel_secret,
        host=args.host,
        port=args.port,
        monthly_limit=args.monthly_limit,
        rate_limits=line_rate_limits() if args.rate_limits else None,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with fake:
        print(fake.base_url, flush=True)
        print(f"# access token   {fake.access_token}", flush=True)
        print(f"# channel secret {fake.channel_secret}", flush=True)
        print(
            f"# control        curl {fake.control_url}/add_user -d '{{}}' "
            f"(list: curl {fake.control_url})",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
