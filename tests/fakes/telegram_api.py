"""A fake Telegram Bot API server for tests: real HTTP on 127.0.0.1, Telegram's rules and errors.

Point the unmodified python-telegram-bot stack at it::

    with FakeTelegram() as fake:
        fake.add_user(1001, "花子")
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.base_url)
            .base_file_url(fake.base_file_url)
            .build()
        )
        ...
        fake.send_command(1001, "start")
        [reply] = await fake.messages_eventually(1001, 1)

The server answers `/bot<token>/<method>` like api.telegram.org (form, JSON, multipart and
query-string parameters; `{"ok": ...}` bodies; 400/401/403/404/409/429 with Telegram's
descriptions), long-polls getUpdates, POSTs updates to a webhook, and applies optional flood
limits and injected faults. Tests drive "members" through methods here (`send_text`,
`press_button`, `block`...), read what the bot did (`messages`, `requests`, `callback_answers`)
and wait without fixed sleeps (`wait_until`, `await until`). The same control methods are served
as JSON under `/_control/<name>`, and `python -m tests.fakes.telegram_api --port 8081` runs the
fake on its own.

All public methods are thread-safe.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import http.client
import json
import re
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.telegram_errors import (
    CONFLICT_OTHER_POLLER,
    CONFLICT_SET_WEBHOOK,
    CONFLICT_WEBHOOK_ACTIVE,
    NOT_FOUND,
    UNAUTHORIZED,
    ApiError,
    FakeUsageError,
)
from tests.fakes.telegram_faults import Fault, FaultPlan, error_body, method_set
from tests.fakes.telegram_http import (
    BodyError,
    FakeHttpServer,
    HttpRequest,
    HttpResponse,
    decode_params,
)
from tests.fakes.telegram_ratelimit import RateLimits
from tests.fakes.telegram_state import (
    METHOD_NAMES,
    ApiResult,
    CallbackAnswer,
    ChatType,
    FileInfo,
    Params,
    SentMessage,
    TelegramState,
    WebhookJob,
    normalize_params,
    scope_key,
)
from tests.fakes.telegram_updates import load_fixture, update_kind
from tests.fakes.waiting import Watched

__all__ = [
    "DEFAULT_TOKEN",
    "CallbackAnswer",
    "FakeTelegram",
    "FakeUsageError",
    "Fault",
    "FileInfo",
    "RateLimits",
    "RecordedRequest",
    "SentMessage",
    "Stats",
    "WebhookDelivery",
    "main",
]

DEFAULT_TOKEN = "123456:TEST-TOKEN"
_TOKEN_FORMAT = re.compile(r"\d+:[A-Za-z0-9_-]+")
_LONG_POLL_LIMIT = 50  # seconds; Telegram caps getUpdates' timeout about here
# Waits re-check their predicate at least this often, for conditions outside the fake's state.


@dataclass(frozen=True)
class RecordedRequest:
    """One Bot API call as the fake saw it.

    `params` are decoded (JSON fields parsed, numbers and booleans typed) whatever the encoding;
    uploaded files appear as UploadedFile. `status` is the HTTP status answered, 0 when the
    connection was dropped. `at` is time.monotonic() when the call was answered.
    """

    method: str
    params: dict[str, Any]
    status: int
    description: str | None
    at: float


@dataclass(frozen=True)
class Stats:
    """Counts of Bot API calls: in total, per method, per HTTP status, and of 429s."""

    requests: int
    by_method: dict[str, int]
    by_status: dict[int, int]
    rate_limited: int


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to POST an update to the webhook; `error` is None when it was accepted."""

    update_id: int
    attempt: int
    status: int | None
    error: str | None
    at: float

    @property
    def ok(self) -> bool:
        return self.error is None


def _encode(body: dict[str, Any]) -> bytes:
    """JSON as Telegram writes it: ASCII-only, compact, with escaped slashes."""
    return json.dumps(body, separators=(",", ":")).replace("/", "\\/").encode()


def _json_response(status: int, body: Any) -> HttpResponse:
    return HttpResponse(status, json.dumps(body, ensure_ascii=False).encode())


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


class _WebhookSender:
    """POSTs updates over one kept-alive connection per webhook host."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._target: tuple[str, str, int | None] | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None

    def post(self, job: WebhookJob) -> tuple[int | None, str | None, dict[str, Any] | None]:
        """(status, error or None, method call in the reply or None)."""
        parts = urlsplit(job.url)
        target = (parts.scheme, parts.hostname or "", parts.port)
        if target != self._target:
            self.close()
            self._target = target
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = json.dumps(job.update).encode()
        headers = {"Content-Type": "application/json"}
        if job.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = job.secret_token
        for attempt in range(2):
            reused = self._connection is not None
            if self._connection is None:
                factory = (
                    http.client.HTTPSConnection
                    if parts.scheme == "https"
                    else http.client.HTTPConnection
                )
                self._connection = factory(target[1], target[2], timeout=self._timeout)
            try:
                self._connection.request("POST", path, body, headers)
                response = self._connection.getresponse()
                data = response.read()
            except ConnectionRefusedError:
                self.close()
                return None, "Connection refused", None
            except TimeoutError:
                self.close()
                return None, "Read timeout expired", None
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if reused and attempt == 0:
                    continue  # the receiver closed a kept-alive connection: reconnect once
                return None, f"Connection error: {error!r}", None
            if response.will_close:
                self.close()
            if not 200 <= response.status < 300:
                reason = f"{response.status} {response.reason}"
                return response.status, f"Wrong response from the webhook: {reason}", None
            return response.status, None, self._reply_call(response, data)
        return None, "Connection error", None  # pragma: no cover - loop always returns

    @staticmethod
    def _reply_call(response: http.client.HTTPResponse, data: bytes) -> dict[str, Any] | None:
        """A Bot API call made in the webhook's answer ({"method": ..., ...}), if any."""
        if "json" not in (response.getheader("Content-Type") or "") or not data:
            return None
        try:
            reply = json.loads(data)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) and isinstance(reply.get("method"), str) else None


class FakeTelegram(Watched):
    """A fake Telegram Bot API for one bot: an HTTP server plus a control API for tests.

    Construct, then `start()` (or use as a context manager); `base_url` and `base_file_url` are
    what python-telegram-bot's `ApplicationBuilder().base_url(...).base_file_url(...)` take.

    Rate limits are off unless `rate_limits` is given (or set later). Callback queries expire
    after `callback_query_ttl` seconds like Telegram's (None: never). Failed webhook deliveries
    are retried after each of `webhook_retry_delays`, then dropped. `clock` gives the Unix time
    used for message dates.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "campaign_test_bot",
        bot_first_name: str = "キャンペーンBot",
        rate_limits: RateLimits | None = None,
        callback_query_ttl: float | None = 15.0,
        webhook_retry_delays: Sequence[float] = (0.05, 0.1, 0.2, 0.4),
        webhook_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        first_update_id: int = 1,
        log_requests: bool = True,
    ) -> None:
        if not _TOKEN_FORMAT.fullmatch(token):
            raise ValueError(f"{token!r} is not shaped like a bot token (<digits>:<letters>)")
        self.token = token
        self._init_watching()
        self._state = TelegramState(
            token,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            clock=clock,
            rate_limits=rate_limits,
            callback_query_ttl=callback_query_ttl,
            first_update_id=first_update_id,
        )
        self._http = FakeHttpServer(self._handle_http, host, port)
        self._host = host
        self._faults = FaultPlan()
        self._log_requests = log_requests
        self._requests: list[RecordedRequest] = []
        self._by_method: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._poll_generation = 0
        self._waiting_pollers = 0
        self._listeners: list[Callable[[RecordedRequest], None]] = []
        self._stopping = threading.Event()
        self._running = False
        self._retry_delays = tuple(webhook_retry_delays)
        self._webhook_timeout = webhook_timeout
        self._webhook_thread: threading.Thread | None = None
        # Its own wake-up, so that the delivery thread sleeps through traffic while no webhook
        # is set instead of waking on every request.
        self._webhook_wake = threading.Event()
        self._deliveries: list[WebhookDelivery] = []
        self._control: dict[str, Callable[..., Any]] = self._control_methods()
        self.internal_errors: list[str] = []
        """Tracebacks of bugs in the fake itself (answered as 500); tests can assert it is empty."""

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        """Start serving (HTTP and webhook threads); returns self."""
        if self._running:
            raise RuntimeError("FakeTelegram is already running")
        self._stopping.clear()
        self._http.start()
        self._running = True
        self._webhook_thread = threading.Thread(
            target=self._webhook_loop, name="fake-telegram-webhook", daemon=True
        )
        self._webhook_thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: waiting pollers get an empty answer, open connections are closed."""
        if not self._running:
            return
        self._stopping.set()
        self._webhook_wake.set()
        with self._cond:
            self._changed()
        self._http.stop()
        if self._webhook_thread is not None:
            self._webhook_thread.join(timeout=self._webhook_timeout + 1)
        self._running = False

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.root_url if self._running else "stopped"
        return f"<FakeTelegram @{self.bot_username} {where}>"

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def root_url(self) -> str:
        """http://host:port, no trailing slash."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For python-telegram-bot's base_url: the token and method are appended to it."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        """For python-telegram-bot's base_file_url (file downloads)."""
        return f"{self.root_url}/file/bot"

    @property
    def control_url(self) -> str:
        """Where the control API is served: POST JSON to <control_url>/<name>."""
        return f"{self.root_url}/_control"

    def api_url(self, method: str) -> str:
        """The full URL of a Bot API method, for plain HTTP clients."""
        return f"{self.base_url}{self.token}/{method}"

    @property
    def bot_id(self) -> int:
        return self._state.bot_id

    @property
    def bot_username(self) -> str:
        return self._state.bot_username

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot as a Bot API User object (what getMe returns)."""
        with self._cond:
            return self._state.bot_user(full=True)

    # --- members and chats --------------------------------------------------------------------

    def _mutate(self, action: Callable[[], Any]) -> Any:
        with self._cond:
            result = action()
            self._changed()
            return result

    def add_user(
        self,
        user_id: int,
        first_name: str = "テスト",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ja",
        *,
        started: bool = False,
    ) -> None:
        """Make a Telegram user known; their private chat with the bot has id `user_id`.

        Until they write to the bot (or `started=True`), sending to them fails with 403
        "bot can't initiate conversation with a user".
        """
        self._mutate(
            lambda: self._state.add_user(
                user_id, first_name, last_name, username, language_code, started=started
            )
        )

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        chat_type: ChatType | None = None,
        username: str | None = None,
    ) -> None:
        """A group the bot is a member of; ids below -10**12 default to supergroups."""
        self._mutate(lambda: self._state.add_group(chat_id, title, chat_type, username))

    def add_channel(self, chat_id: int, title: str, *, username: str | None = None) -> None:
        """A channel the bot administers (for channel posts)."""
        self._mutate(lambda: self._state.add_group(chat_id, title, "channel", username))

    def user_status(self, user_id: int) -> str:
        """ "new" (never wrote), "active", "blocked" or "deactivated"."""
        with self._cond:
            return self._state.require_user(user_id).status

    # --- member actions: each queues updates and returns the update_id ---------------------

    def send_text(self, user_id: int, text: str, *, chat_id: int | None = None) -> int:
        """The user writes `text` to the bot (in `chat_id` if it is a group).

        A leading /command gets its bot_command entity (URLs, @mentions and #hashtags too, with
        UTF-16 offsets). A user who had blocked the bot unblocks it by writing (a my_chat_member
        update comes first, as in Telegram).
        """
        return int(self._mutate(lambda: self._state.send_text(user_id, text, chat_id)))

    def send_group_message(self, user_id: int, chat_id: int, text: str) -> int:
        """A message in a group that is not addressed to the bot."""
        return self.send_text(user_id, text, chat_id=chat_id)

    def send_command(
        self, user_id: int, command: str, payload: str = "", *, chat_id: int | None = None
    ) -> int:
        """`/command payload`, e.g. send_command(1, "start", "ev_42") for a t.me deep link."""
        text = "/" + command.lstrip("/") + (f" {payload}" if payload else "")
        return self.send_text(user_id, text, chat_id=chat_id)

    def press_button(
        self,
        user_id: int,
        message_id: int,
        *,
        data: str | None = None,
        label: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        """The user presses a button of the bot's message `message_id` (chosen by label or data).

        The callback query carries the message as it is now and the button's callback_data.
        Raises FakeUsageError, listing the buttons, if the message has no such button.
        """
        return int(
            self._mutate(lambda: self._state.press(user_id, chat_id, message_id, data, label))
        )

    def send_callback(
        self, user_id: int, message_id: int, data: str, *, chat_id: int | None = None
    ) -> int:
        """A callback query with arbitrary (forged or stale) `data` for message `message_id`.

        If the bot never sent that message, it arrives as an inaccessible message (date 0).
        """

        def action() -> int:
            user = self._state.require_user(user_id)
            return self._state.callback(
                user, user_id if chat_id is None else chat_id, message_id, data
            )

        return int(self._mutate(action))

    def block(self, user_id: int) -> int:
        """The user blocks the bot: a my_chat_member update (member -> kicked); sends get 403."""
        return int(self._mutate(lambda: self._state.block(user_id)))

    def unblock(self, user_id: int) -> int:
        """The user unblocks the bot: a my_chat_member update (kicked -> member)."""
        return int(self._mutate(lambda: self._state.unblock(user_id)))

    def deactivate(self, user_id: int) -> None:
        """The user deletes their account: no update; sends get 403 "user is deactivated"."""
        self._mutate(lambda: self._state.deactivate(user_id))

    def kick_bot(self, chat_id: int, *, by_user_id: int) -> int:
        """A group admin removes the bot: my_chat_member; sends get 403 "bot was kicked"."""
        return int(self._mutate(lambda: self._state.kick_bot(chat_id, by_user_id)))

    def edit_text(
        self,
        user_id: int,
        text: str,
        *,
        message_id: int | None = None,
        chat_id: int | None = None,
    ) -> int:
        """The user edits one of their messages (their last one by default): edited_message."""
        return int(self._mutate(lambda: self._state.edit_text(user_id, text, message_id, chat_id)))

    def _media(
        self,
        fixture: str,
        user_id: int,
        chat_id: int | None,
        build: Callable[[], dict[str, Any]],
    ) -> int:
        return int(
            self._mutate(lambda: self._state.member_message(fixture, user_id, chat_id, **build()))
        )

    def send_sticker(self, user_id: int, *, emoji: str = "👍", chat_id: int | None = None) -> int:
        """The user sends a sticker."""

        def build() -> dict[str, Any]:
            sticker = self._fixture_field("sticker", "sticker")
            stored = self._state.media_file("sticker", None, None, "image/webp")
            thumbnail = self._state.media_file("photo", None, None, "image/webp")
            sticker.update(file_id=stored.file_id, file_unique_id=stored.file_unique_id)
            sticker["emoji"] = emoji
            sticker["thumbnail"].update(
                file_id=thumbnail.file_id, file_unique_id=thumbnail.file_unique_id
            )
            return {"sticker": sticker}

        return self._media("sticker", user_id, chat_id, build)

    def send_photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        content: bytes | None = None,
        chat_id: int | None = None,
    ) -> int:
        """The user sends a photo (four sizes, like Telegram); getFile serves `content`."""

        def build() -> dict[str, Any]:
            sizes = self._fixture_field("photo", "photo")
            for size in sizes:
                stored = self._state.media_file("photo", content, None, "image/jpeg")
                size.update(file_id=stored.file_id, file_unique_id=stored.file_unique_id)
            return {"photo": sizes, "caption": caption}

        return self._media("photo", user_id, chat_id, build)

    def send_voice(
        self,
        user_id: int,
        *,
        duration: int = 3,
        content: bytes | None = None,
        chat_id: int | None = None,
    ) -> int:
        """The user sends a voice message."""

        def build() -> dict[str, Any]:
            voice = self._fixture_field("voice", "voice")
            stored = self._state.media_file("voice", content, None, "audio/ogg")
            voice.update(file_id=stored.file_id, file_unique_id=stored.file_unique_id)
            voice.update(duration=duration, file_size=len(content or b"") or voice["file_size"])
            return {"voice": voice}

        return self._media("voice", user_id, chat_id, build)

    def send_document(
        self,
        user_id: int,
        *,
        filename: str = "申込書.pdf",
        content: bytes | None = None,
        mime_type: str = "application/pdf",
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        """The user sends a file."""

        def build() -> dict[str, Any]:
            document = self._fixture_field("document", "document")
            stored = self._state.media_file("document", content, filename, mime_type)
            document.update(
                file_name=filename,
                mime_type=mime_type,
                file_id=stored.file_id,
                file_unique_id=stored.file_unique_id,
                file_size=len(stored.content or b""),
            )
            return {"document": document, "caption": caption}

        return self._media("document", user_id, chat_id, build)

    def send_location(
        self, user_id: int, latitude: float, longitude: float, *, chat_id: int | None = None
    ) -> int:
        """The user shares a location."""
        location = {"latitude": latitude, "longitude": longitude}
        return self._media("location", user_id, chat_id, lambda: {"location": location})

    def send_contact(self, user_id: int, phone_number: str, *, chat_id: int | None = None) -> int:
        """The user shares their own contact (as the "share my phone number" button does)."""

        def build() -> dict[str, Any]:
            user = self._state.require_user(user_id)
            contact: dict[str, Any] = {"phone_number": phone_number, "first_name": user.first_name}
            if user.last_name:
                contact["last_name"] = user.last_name
            contact["user_id"] = user_id
            return {"contact": contact}

        return self._media("contact", user_id, chat_id, build)

    def post_in_channel(self, chat_id: int, text: str) -> int:
        """A post in a channel the bot administers (see add_channel): channel_post, no `from`."""
        return int(self._mutate(lambda: self._state.post_in_channel(chat_id, text)))

    def send_without_sender(self, chat_id: int, text: str) -> int:
        """A group message posted on behalf of a channel, without `from`: effective_user is None.

        Telegram documents `from` as possibly empty; this is the shape to test that against.
        """
        return int(self._mutate(lambda: self._state.send_without_sender(chat_id, text)))

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (its update_id is replaced); users, chats, messages and callback
        queries in it become known to the fake."""
        return int(self._mutate(lambda: self._state.push(update)))

    @staticmethod
    def _fixture_field(fixture: str, name: str) -> Any:
        """A fresh copy of one field of a fixture's message (e.g. its "sticker" object)."""
        update = load_fixture(fixture)
        return update[update_kind(update)][name]

    # --- reading ------------------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[SentMessage]:
        """What the bot sent to `chat_id`, in send order, as it is now (deleted ones flagged)."""
        with self._cond:
            return self._state.sent_messages(chat_id)

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        """One message the bot sent."""
        for message in self.messages(chat_id):
            if message.message_id == message_id:
                return message
        raise FakeUsageError(f"the bot sent no message {message_id} to chat {chat_id}")

    def last_message(self, chat_id: int) -> SentMessage:
        """The bot's latest message to `chat_id`."""
        sent = self.messages(chat_id)
        if not sent:
            raise FakeUsageError(f"the bot sent nothing to chat {chat_id}")
        return sent[-1]

    @property
    def all_requests(self) -> list[RecordedRequest]:
        """Every Bot API call so far, in the order they were answered."""
        with self._cond:
            return list(self._requests)

    def requests(self, method: str | None = None) -> list[RecordedRequest]:
        """Calls of `method` (any case), or all calls."""
        with self._cond:
            if method is None:
                return list(self._requests)
            wanted = method.lower()
            return [r for r in self._requests if r.method.lower() == wanted]

    @property
    def callback_answers(self) -> dict[str, CallbackAnswer]:
        """answerCallbackQuery calls by callback query id."""
        with self._cond:
            return dict(self._state.callback_answers)

    def callback_answer(self, update_id: int) -> CallbackAnswer | None:
        """The answer to the callback query queued as `update_id` (by press_button), if any."""
        with self._cond:
            for answer in self._state.callback_answers.values():
                if answer.update_id == update_id:
                    return answer
            return None

    def commands(
        self, scope: dict[str, Any] | str = "default", language_code: str = ""
    ) -> list[dict[str, str]]:
        """Commands set for a scope ("default", "all_private_chats", {"type": "chat", ...})."""
        with self._cond:
            return [
                dict(c) for c in self._state.commands.get((scope_key(scope), language_code), [])
            ]

    def menu_button(self, chat_id: int | None = None) -> dict[str, Any]:
        """The menu button a chat (or, by default, every chat) shows."""
        with self._cond:
            return self._state.menu_button(chat_id)

    def chat_actions(self, chat_id: int) -> list[str]:
        """sendChatAction actions sent to the chat ("typing"...)."""
        with self._cond:
            return list(self._state.chat_actions.get(chat_id, []))

    @property
    def webhook_info(self) -> dict[str, Any]:
        """What getWebhookInfo would answer."""
        with self._cond:
            return self._state.webhook_info()

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every attempt to POST an update to the webhook, in order."""
        with self._cond:
            return list(self._deliveries)

    def updates_pending(self) -> int:
        """Updates queued and not yet confirmed (getUpdates offset) or delivered (webhook)."""
        with self._cond:
            return len(self._state.pending_updates())

    def pending_updates(self) -> list[dict[str, Any]]:
        """The queued updates themselves, oldest first."""
        with self._cond:
            return [json.loads(json.dumps(u)) for u in self._state.pending_updates()]

    @property
    def waiting_pollers(self) -> int:
        """getUpdates calls currently waiting for an update (0 or 1)."""
        with self._cond:
            return self._waiting_pollers

    @property
    def stats(self) -> Stats:
        with self._cond:
            return Stats(
                requests=sum(self._by_method.values()),
                by_method=dict(self._by_method),
                by_status=dict(self._by_status),
                rate_limited=self._by_status.get(429, 0),
            )

    def transcript(self) -> str:
        """Every chat with its messages, pending updates and recent failed calls: for debugging."""
        with self._cond:
            lines = self._state.transcript()
            failed = [r for r in self._requests if r.status != 200][-10:]
        if failed:
            lines.append("recent failed calls:")
            lines += [f"  {r.method} -> {r.status} {r.description or ''}".rstrip() for r in failed]
        return "\n".join(lines)

    # --- rate limits and faults ---------------------------------------------------------------

    @property
    def rate_limits(self) -> RateLimits | None:
        with self._cond:
            return self._state.rate_limits

    def set_rate_limits(self, limits: RateLimits | None) -> None:
        """Turn flood limits on (with fresh, full buckets) or off (None)."""
        self._mutate(lambda: self._state.set_rate_limits(limits))

    def add_fault(self, fault: Fault) -> None:
        """Add a fault; the helpers below cover the usual cases."""
        self._mutate(lambda: self._faults.add(fault))

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        methods: Iterable[str] | str | None = None,
        html: bool = False,
        after: bool = False,
    ) -> None:
        """The next `count` calls (of `methods`) answer `status` with Telegram-like JSON (or
        nginx's HTML page). With `after`, they are processed first and only the answer fails."""
        self.add_fault(
            Fault(
                "error", method_set(methods), remaining=count, status=status, html=html, after=after
            )
        )

    def refuse_next(
        self,
        description: str,
        count: int = 1,
        *,
        status: int = 400,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """The next `count` calls (of `methods`) are refused with Telegram's `description`
        ("Bad Request: message can't be edited"), without being processed."""
        self.add_fault(
            Fault(
                "error",
                method_set(methods),
                remaining=count,
                status=status,
                description=description,
            )
        )

    def rate_limit_next(
        self,
        count: int = 1,
        *,
        retry_after: int = 1,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """The next `count` calls (of `methods`) get Telegram's 429 with `retry_after`, without
        being processed (whatever the rate limits say)."""
        self.add_fault(
            Fault(
                "error",
                method_set(methods),
                remaining=count,
                status=429,
                retry_after=retry_after,
            )
        )

    def fail_during(
        self,
        seconds: float,
        *,
        status: int = 502,
        methods: Iterable[str] | str | None = None,
        html: bool = False,
        after: bool = False,
    ) -> None:
        """Every call (of `methods`) in the next `seconds` answers `status`."""
        until = time.monotonic() + seconds
        self.add_fault(
            Fault("error", method_set(methods), until=until, status=status, html=html, after=after)
        )

    def delay_next(
        self, count: int, seconds: float, *, methods: Iterable[str] | str | None = None
    ) -> None:
        """The next `count` calls are answered `seconds` late."""
        self.add_fault(Fault("delay", method_set(methods), remaining=count, delay=seconds))

    def delay_during(
        self, window: float, seconds: float, *, methods: Iterable[str] | str | None = None
    ) -> None:
        """Calls in the next `window` seconds are answered `seconds` late."""
        until = time.monotonic() + window
        self.add_fault(Fault("delay", method_set(methods), until=until, delay=seconds))

    def drop_next(
        self,
        count: int = 1,
        *,
        methods: Iterable[str] | str | None = None,
        after: bool = False,
    ) -> None:
        """The next `count` calls get their connection closed without an answer."""
        self.add_fault(Fault("drop", method_set(methods), remaining=count, after=after))

    def drop_during(
        self,
        seconds: float,
        *,
        methods: Iterable[str] | str | None = None,
        after: bool = False,
    ) -> None:
        """Calls in the next `seconds` get their connection closed without an answer."""
        until = time.monotonic() + seconds
        self.add_fault(Fault("drop", method_set(methods), until=until, after=after))

    def clear_faults(self) -> None:
        self._mutate(self._faults.clear)

    @property
    def faults(self) -> list[Fault]:
        """The faults still active."""
        with self._cond:
            return self._faults.active

    # --- waiting ------------------------------------------------------------------------------

    def _changed(self) -> None:
        """Wake everyone waiting for the state to change, and the webhook sender; call with
        the lock held."""
        super()._changed()
        if self._state.webhook is not None:
            self._webhook_wake.set()

    def add_listener(self, listener: Callable[[RecordedRequest], None]) -> None:
        """Call `listener` with every Bot API call as it is answered (load generators).

        It runs on the server's threads with the fake's lock held: keep it quick and hand work
        to another thread rather than calling back into the fake.
        """
        with self._cond:
            self._listeners.append(listener)

    def wait_for_messages(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least `count` messages to `chat_id`; return them all."""
        self.wait_until(
            lambda: len(self.messages(chat_id)) >= count,
            timeout,
            description=f"{count} message(s) from the bot in chat {chat_id}",
        )
        return self.messages(chat_id)

    async def messages_eventually(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the brief's API, mirrors wait_for_messages
    ) -> list[SentMessage]:
        """`wait_for_messages` for asyncio tests."""
        await self.until(
            lambda: len(self.messages(chat_id)) >= count,
            timeout,
            description=f"{count} message(s) from the bot in chat {chat_id}",
        )
        return self.messages(chat_id)

    # --- HTTP ---------------------------------------------------------------------------------

    def _handle_http(self, request: HttpRequest) -> HttpResponse | None:
        try:
            return self._route(request)
        except Exception:
            with self._cond:
                self.internal_errors.append(traceback.format_exc())
            raise  # the HTTP layer prints it and answers 500

    def _route(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path
        if path.startswith("/bot"):
            return self._handle_bot_api(request)
        if path.startswith("/file/bot"):
            return self._handle_file(path)
        if path == "/_control" or path.startswith("/_control/"):
            return self._handle_control(request)
        return _json_response(404, {"ok": False, "error_code": 404, "description": NOT_FOUND})

    def _handle_bot_api(self, request: HttpRequest) -> HttpResponse | None:
        token, separator, name = unquote(request.path[len("/bot") :]).partition("/")
        if not separator or not name or "/" in name:
            return _json_response(404, {"ok": False, "error_code": 404, "description": NOT_FOUND})
        lower = name.lower()
        method = METHOD_NAMES.get(lower, name)
        try:
            raw, files = decode_params(request)
        except BodyError as error:
            return self._respond_error(method, {}, ApiError(400, f"Bad Request: {error}"))
        params = normalize_params(raw)
        logged: dict[str, Any] = {**params, **files}
        if token != self.token:
            status = 401 if _TOKEN_FORMAT.fullmatch(token) else 404
            description = UNAUTHORIZED if status == 401 else NOT_FOUND
            return self._respond_error(method, logged, ApiError(status, description))
        if lower != "getupdates" and not self._state.knows(lower):
            return self._respond_error(method, logged, ApiError(404, NOT_FOUND))

        with self._cond:
            decision = self._faults.decide(lower, time.monotonic())
        if decision.delay:
            self._stopping.wait(decision.delay)
        fault = decision.terminal
        if fault is not None and not fault.after:
            with self._cond:
                return self._fault_response(method, logged, fault)
        if lower == "getupdates":
            return self._get_updates(method, params, logged, fault)
        with self._cond:
            try:
                outcome: ApiResult | ApiError = self._state.call(lower, params, files)
            except ApiError as error:
                outcome = error
            if fault is not None:
                return self._fault_response(method, logged, fault)
            return self._respond(method, logged, outcome)

    def _record(
        self, method: str, params: dict[str, Any], status: int, description: str | None
    ) -> None:
        """Log a call; lock held, in the same critical section as its effect on the state."""
        self._by_method[method] += 1
        self._by_status[status] += 1
        request = RecordedRequest(method, params, status, description, time.monotonic())
        if self._log_requests:
            self._requests.append(request)
        for listener in self._listeners:
            listener(request)
        self._changed()

    def _body(self, outcome: ApiResult | ApiError) -> tuple[int, dict[str, Any], str | None]:
        if isinstance(outcome, ApiError):
            return outcome.status, outcome.body(), outcome.description
        body: dict[str, Any] = {"ok": True, "result": outcome.result}
        if outcome.description:
            body["description"] = outcome.description
        return 200, body, None

    def _respond(
        self, method: str, params: dict[str, Any], outcome: ApiResult | ApiError
    ) -> HttpResponse:
        status, body, description = self._body(outcome)
        self._record(method, params, status, description)
        return HttpResponse(status, _encode(body))

    def _respond_error(self, method: str, params: dict[str, Any], error: ApiError) -> HttpResponse:
        with self._cond:
            return self._respond(method, params, error)

    def _fault_response(
        self, method: str, params: dict[str, Any], fault: Fault
    ) -> HttpResponse | None:
        when = " after processing" if fault.after else ""
        if fault.kind == "drop":
            self._record(method, params, 0, f"injected fault: connection dropped{when}")
            return None
        body, content_type = error_body(
            fault.status, fault.html, fault.description, fault.retry_after
        )
        phrase = fault.description or HTTPStatus(fault.status).phrase
        self._record(method, params, fault.status, f"injected fault: {phrase}{when}")
        return HttpResponse(fault.status, body, content_type)

    def _get_updates(
        self, method: str, params: dict[str, Any], logged: dict[str, Any], fault: Fault | None
    ) -> HttpResponse | None:
        """Long polling: answer as soon as there are updates, or after `timeout` seconds."""
        with self._cond:
            try:
                p = Params(params)
                if self._state.webhook is not None:
                    raise ApiError(409, CONFLICT_WEBHOOK_ACTIVE)
                limit = min(max(p.integer("limit") or 100, 1), 100)
                timeout = min(max(p.number("timeout") or 0.0, 0.0), _LONG_POLL_LIMIT)
                allowed = p.obj("allowed_updates")
                if allowed is not None:
                    self._state.set_allowed_updates(allowed)
                offset = p.integer("offset")
                if offset:
                    self._state.confirm(offset)
                self._poll_generation += 1
                generation = self._poll_generation
                self._changed()  # an older poller still waiting now gets its 409
                updates = self._wait_for_updates(generation, limit, time.monotonic() + timeout)
                outcome: ApiResult | ApiError = ApiResult(updates)
            except ApiError as error:
                outcome = error
            if fault is not None:
                return self._fault_response(method, logged, fault)
            status, body, description = self._body(outcome)
            self._record(method, logged, status, description)
        return HttpResponse(status, _encode(body))  # updates are immutable: encode unlocked

    def _wait_for_updates(self, generation: int, limit: int, deadline: float) -> list[Any]:
        waiting = False
        try:
            while True:
                if self._stopping.is_set():
                    return []
                if generation != self._poll_generation:
                    raise ApiError(409, CONFLICT_OTHER_POLLER)
                if self._state.webhook is not None:
                    raise ApiError(409, CONFLICT_SET_WEBHOOK)
                updates = self._state.take_updates(limit)
                remaining = deadline - time.monotonic()
                if updates or remaining <= 0:
                    return updates
                if not waiting:
                    waiting = True
                    self._waiting_pollers += 1
                    self._changed()
                self._cond.wait(remaining)
        finally:
            if waiting:
                self._waiting_pollers -= 1

    def _handle_file(self, path: str) -> HttpResponse:
        # PTB percent-encodes file URLs, the token's colon included.
        token, _, file_path = unquote(path[len("/file/bot") :]).partition("/")
        with self._cond:
            content = self._state.file_content(file_path) if token == self.token else None
        if content is None:
            return _json_response(404, {"ok": False, "error_code": 404, "description": NOT_FOUND})
        return HttpResponse(200, content, "application/octet-stream")

    # --- webhook delivery ---------------------------------------------------------------------

    def _webhook_loop(self) -> None:
        sender = _WebhookSender(self._webhook_timeout)
        failures = 0
        last_update: int | None = None
        try:
            while not self._stopping.is_set():
                self._webhook_wake.clear()
                with self._cond:
                    job = self._state.next_webhook_job()
                if job is None:
                    self._webhook_wake.wait()  # set by a change while a webhook is set, or stop()
                    continue
                if job.update_id != last_update:
                    failures, last_update = 0, job.update_id
                status, error, reply = sender.post(job)
                backoff = 0.0
                with self._cond:
                    self._deliveries.append(
                        WebhookDelivery(
                            job.update_id, failures + 1, status, error, time.monotonic()
                        )
                    )
                    current = self._state.webhook_current(job)
                    if error is None:
                        if current:
                            self._state.webhook_delivered(job)
                        if reply is not None:
                            self._webhook_reply(reply)
                    else:
                        failures += 1
                        give_up = failures > len(self._retry_delays)
                        if current:
                            self._state.webhook_failed(job, error, give_up=give_up)
                        if not give_up:
                            backoff = self._retry_delays[failures - 1]
                    self._changed()
                if backoff:
                    self._stopping.wait(backoff)
        finally:
            sender.close()

    def _webhook_reply(self, reply: dict[str, Any]) -> None:
        """Run the Bot API call a webhook made in its answer (lock held)."""
        call = dict(reply)
        name = str(call.pop("method"))
        lower = name.lower()
        method = METHOD_NAMES.get(lower, name)
        params = normalize_params(call)
        if not self._state.knows(lower):
            self._record(method, params, 404, NOT_FOUND)
            return
        try:
            outcome: ApiResult | ApiError = self._state.call(lower, params, {})
        except ApiError as error:
            outcome = error
        status, _, description = self._body(outcome)
        self._record(method, params, status, description)

    # --- control API over HTTP ----------------------------------------------------------------

    def _control_methods(self) -> dict[str, Callable[..., Any]]:
        def rate_limits(enabled: bool = True, **limits: Any) -> RateLimits | None:
            self.set_rate_limits(RateLimits(**limits) if enabled else None)
            return self.rate_limits

        return {
            "add_user": self.add_user,
            "add_group": self.add_group,
            "add_channel": self.add_channel,
            "user_status": self.user_status,
            "send_text": self.send_text,
            "send_group_message": self.send_group_message,
            "send_command": self.send_command,
            "press_button": self.press_button,
            "send_callback": self.send_callback,
            "block": self.block,
            "unblock": self.unblock,
            "deactivate": self.deactivate,
            "kick_bot": self.kick_bot,
            "edit_text": self.edit_text,
            "send_sticker": self.send_sticker,
            "send_photo": self.send_photo,
            "send_voice": self.send_voice,
            "send_document": self.send_document,
            "send_location": self.send_location,
            "send_contact": self.send_contact,
            "post_in_channel": self.post_in_channel,
            "send_without_sender": self.send_without_sender,
            "push_update": self.push_update,
            "messages": self.messages,
            "requests": self.requests,
            "callback_answers": lambda: self.callback_answers,
            "commands": self.commands,
            "menu_button": self.menu_button,
            "chat_actions": self.chat_actions,
            "webhook_info": lambda: self.webhook_info,
            "webhook_deliveries": lambda: self.webhook_deliveries,
            "updates_pending": self.updates_pending,
            "pending_updates": self.pending_updates,
            "stats": lambda: self.stats,
            "transcript": self.transcript,
            "set_rate_limits": rate_limits,
            "fail_next": self.fail_next,
            "rate_limit_next": self.rate_limit_next,
            "fail_during": self.fail_during,
            "delay_next": self.delay_next,
            "delay_during": self.delay_during,
            "drop_next": self.drop_next,
            "drop_during": self.drop_during,
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
            if isinstance(kwargs.get("content"), str):
                kwargs["content"] = base64.b64decode(kwargs["content"])  # bytes travel as base64
            result = action(**kwargs)
        except (TypeError, ValueError, AssertionError, LookupError) as error:
            return _json_response(400, {"ok": False, "error": f"{type(error).__name__}: {error}"})
        return _json_response(200, {"ok": True, "result": _to_jsonable(result)})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake until interrupted; prints the base URL on the first line of stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.telegram_api",
        description="A fake Telegram Bot API server for local testing.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--bot-username", default="campaign_test_bot")
    parser.add_argument("--rate-limits", action="store_true", help="apply Telegram's flood limits")
    args = parser.parse_args(argv)

    fake = FakeTelegram(
        args.token,
        host=args.host,
        port=args.port,
        bot_username=args.bot_username,
        rate_limits=RateLimits() if args.rate_limits else None,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with fake:
        print(fake.base_url, flush=True)
        print(f"# base_file_url {fake.base_file_url}", flush=True)
        print(f"# token         {fake.token}", flush=True)
        print(f"# getMe         curl {fake.api_url('getMe')}", flush=True)
        print(
            f"# control       curl {fake.control_url}/add_user -d '{{\"user_id\": 1001}}' "
            f"(list: curl {fake.control_url})",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
