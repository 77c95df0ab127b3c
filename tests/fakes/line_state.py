"""The fake LINE world: users, reply tokens, deliveries, retry keys, quota, rich menus.

Plain single-threaded logic: `FakeLine` (line_api.py) serialises all access with one lock and
adds HTTP on top. Endpoints raise `LineApiError` with LINE's status and body. Time is the
injected `clock` (Unix seconds), so tests expire reply tokens or start a new month by moving it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from tests.fakes import line_errors as errors
from tests.fakes.line_errors import Detail, FakeUsageError, LineApiError, validation_error
from tests.fakes.line_messages import (
    ANY_TARGET_ID,
    MULTICAST_RECIPIENTS,
    RICH_MENU_IMAGE_BYTES,
    USER_ID,
    Checker,
    image_dimensions,
    image_format,
    message_actions,
    message_text,
    rich_menu_size_problem,
)
from tests.fakes.telegram_ratelimit import TokenBucket

UserStatus = Literal["friend", "blocked"]
Endpoint = Literal["reply_message", "push_message", "multicast"]
JST = timezone(timedelta(hours=9), "Asia/Tokyo")
# Endpoints that take X-Line-Retry-Key (LINE: push, multicast, narrowcast, broadcast; the fake
# serves the first two). Anywhere else the header is a 400.
RETRY_KEY_ENDPOINTS = frozenset({"push_message", "multicast"})
_RETRY_KEY = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


@dataclass(frozen=True)
class RateLimit:
    """`per_second` requests on average, `burst` at once."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")


def line_rate_limits() -> dict[str, RateLimit]:
    """LINE's published per-channel limits: push 2,000/s, multicast 200/s, other endpoints
    2,000/s ("*" stands for every endpoint not named)."""
    return {
        "push_message": RateLimit(2000, 2000),
        "multicast": RateLimit(200, 200),
        "*": RateLimit(2000, 2000),
    }


@dataclass(frozen=True)
class Delivered:
    """One message object as a user got it (or, in `dropped`, would have)."""

    user_id: str
    endpoint: Endpoint
    message: dict[str, Any]
    message_id: str
    request_id: str
    retry_key: str | None
    at: float
    dropped_because: str | None = None

    @property
    def type(self) -> str:
        return str(self.message.get("type"))

    @property
    def text(self) -> str:
        """The text, or a template's or flex message's alt text."""
        return message_text(self.message)

    @property
    def actions(self) -> list[dict[str, Any]]:
        """Every tappable action: template or flex actions, then quick reply items."""
        return message_actions(self.message)

    @property
    def quick_reply_labels(self) -> list[str]:
        items = (self.message.get("quickReply") or {}).get("items") or []
        return [str(item["action"].get("label", "")) for item in items]

    @property
    def postback_data(self) -> list[str]:
        """The data of every postback action in the message, in order."""
        return [str(a.get("data")) for a in self.actions if a.get("type") == "postback"]


@dataclass
class UserRecord:
    user_id: str
    display_name: str
    language: str
    status: UserStatus


@dataclass
class _ReplyToken:
    user_id: str
    expires: float
    used: bool = False


@dataclass(frozen=True)
class AcceptedKey:
    """A retry key LINE accepted: the request that carried it and what it answered."""

    key: str
    endpoint: str
    request_id: str
    at: float
    sent_messages: list[dict[str, str]] | None


@dataclass
class RichMenu:
    """A rich menu as created, with its image once uploaded."""

    rich_menu_id: str
    body: dict[str, Any]
    image: bytes | None = None
    image_type: str | None = None

    def json(self) -> dict[str, Any]:
        return {"richMenuId": self.rich_menu_id, **self.body}


@dataclass(frozen=True)
class Outcome:
    """A successful call: status 200, a JSON body or raw bytes."""

    body: dict[str, Any] | bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class Call:
    """One API call, as an endpoint sees it."""

    endpoint: str
    params: dict[str, str]
    body: bytes
    content_type: str
    retry_key: str | None
    request_id: str

    def json(self) -> dict[str, Any]:
        """The JSON object body, or LINE's 400."""
        try:
            data = json.loads(self.body or b"null")
        except ValueError:
            raise LineApiError(400, errors.INVALID_JSON) from None
        if not isinstance(data, dict):
            raise validation_error([Detail("Must be an object", "")])
        return data


@dataclass
class _Quota:
    limit: int | None
    month: tuple[int, int]
    used: int = 0


@dataclass
class LineState:
    """Everything the fake API knows; `clock` gives Unix seconds."""

    clock: Callable[[], float]
    reply_token_ttl: float = 60.0
    retry_key_ttl: float = 24 * 3600.0
    monthly_limit: int | None = None
    rate_limits: dict[str, RateLimit] | None = None
    users: dict[str, UserRecord] = field(default_factory=dict)
    delivered: list[Delivered] = field(default_factory=list)
    dropped: list[Delivered] = field(default_factory=list)
    retry_keys: dict[str, AcceptedKey] = field(default_factory=dict)
    rich_menus: dict[str, RichMenu] = field(default_factory=dict)
    default_rich_menu: str | None = None
    _tokens: dict[str, _ReplyToken] = field(default_factory=dict)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _quota: _Quota | None = None
    _sent_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(500_000_000_000_000_001)
    )
    _user_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- users and tokens -----------------------------------------------------------------

    def add_user(
        self, user_id: str | None, display_name: str, language: str, status: UserStatus
    ) -> str:
        if user_id is None:
            user_id = f"U{next(self._user_numbers):032x}"
            while user_id in self.users:
                user_id = f"U{next(self._user_numbers):032x}"
        if not USER_ID.fullmatch(user_id):
            raise FakeUsageError(f"{user_id!r} is not a LINE user ID (U + 32 hex digits)")
        if user_id in self.users:
            raise FakeUsageError(f"user {user_id} already exists")
        self.users[user_id] = UserRecord(user_id, display_name, language, status)
        return user_id

    def require_user(self, user_id: str) -> UserRecord:
        user = self.users.get(user_id)
        if user is None:
            raise FakeUsageError(f"no user {user_id}; add_user() first")
        return user

    def issue_reply_token(self, user_id: str) -> str:
        self.require_user(user_id)
        token = uuid.uuid4().hex
        self._tokens[token] = _ReplyToken(user_id, self.clock() + self.reply_token_ttl)
        return token

    def reply_token_state(self, token: str) -> str:
        """One of "valid", "used", "expired" and "unknown"."""
        record = self._tokens.get(token)
        if record is None:
            return "unknown"
        if record.used:
            return "used"
        return "expired" if self.clock() >= record.expires else "valid"

    # --- quota and rate limits --------------------------------------------------------------

    def _month(self) -> tuple[int, int]:
        moment = datetime.fromtimestamp(self.clock(), UTC).astimezone(JST)
        return moment.year, moment.month

    def quota(self) -> _Quota:
        """This month's quota; a new month (in Japan time) starts from zero."""
        month = self._month()
        if self._quota is None or self._quota.month != month:
            self._quota = _Quota(self.monthly_limit, month)
        self._quota.limit = self.monthly_limit
        return self._quota

    def check_rate(self, endpoint: str) -> None:
        """Take a token for `endpoint`, or refuse with LINE's 429."""
        if not self.rate_limits:
            return
        name = endpoint if endpoint in self.rate_limits else "*"
        limit = self.rate_limits.get(name)
        if limit is None:
            return
        now = self.clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = TokenBucket(limit.per_second, float(limit.burst), float(limit.burst), now)
            self._buckets[name] = bucket
        if bucket.wait_time(now) > 0:
            raise LineApiError(429, errors.RATE_LIMITED)
        bucket.take()

    def set_rate_limits(self, limits: dict[str, RateLimit] | None) -> None:
        self.rate_limits = dict(limits) if limits else None
        self._buckets.clear()

    # --- retry keys -------------------------------------------------------------------------

    def check_retry_key(self, endpoint: str, key: str | None) -> None:
        if key is None:
            return
        if endpoint not in RETRY_KEY_ENDPOINTS:
            raise LineApiError(400, errors.RETRY_KEY_NOT_SUPPORTED)
        if not _RETRY_KEY.fullmatch(key):
            raise LineApiError(400, errors.RETRY_KEY_INVALID)
        accepted = self.retry_keys.get(key)
        if accepted is None:
            return
        if self.clock() - accepted.at >= self.retry_key_ttl:
            del self.retry_keys[key]  # a key is good for 24 hours, then it is new again
            return
        extra: dict[str, Any] = {}
        if accepted.sent_messages is not None:
            extra["sentMessages"] = accepted.sent_messages
        raise LineApiError(
            409,
            errors.RETRY_KEY_ACCEPTED,
            headers={"x-line-accepted-request-id": accepted.request_id},
            extra=extra,
        )

    # --- endpoints --------------------------------------------------------------------------

    def call(self, call: Call) -> Outcome:
        """Run one endpoint; a call with a retry key that succeeds makes the key accepted."""
        handler: Callable[[Call], Outcome] = getattr(self, f"_{call.endpoint}")
        outcome = handler(call)
        if call.retry_key is not None:
            sent = outcome.body.get("sentMessages") if isinstance(outcome.body, dict) else None
            self.retry_keys[call.retry_key] = AcceptedKey(
                call.retry_key, call.endpoint, call.request_id, self.clock(), sent
            )
        return outcome

    def _send(
        self,
        endpoint: Endpoint,
        recipients: list[str],
        messages: list[dict[str, Any]],
        request_id: str,
        retry_key: str | None,
    ) -> list[dict[str, str]]:
        """Deliver `messages` to each recipient (friends) or drop them (everyone else)."""
        now = self.clock()
        sent: list[dict[str, str]] = []
        ids = [str(next(self._sent_ids)) for _ in messages]
        for message, message_id in zip(messages, ids, strict=True):
            entry = {"id": message_id}
            if message.get("type") in ("text", "textV2", "sticker", "image", "video", "flex"):
                entry["quoteToken"] = _quote_token()
            sent.append(entry)
        for user_id in recipients:
            user = self.users.get(user_id)
            reason = None
            if user is None:
                reason = "not a friend"
            elif user.status == "blocked":
                reason = "blocked"
            for message, message_id in zip(messages, ids, strict=True):
                record = Delivered(
                    user_id, endpoint, message, message_id, request_id, retry_key, now, reason
                )
                (self.delivered if reason is None else self.dropped).append(record)
        return sent

    def _countable(self, recipients: list[str]) -> int:
        """Recipients a push counts against the quota: one per friend reached, however many
        message objects (blocked users and strangers are assumed free, as they get nothing)."""
        return sum(
            1
            for u in dict.fromkeys(recipients)
            if u in self.users and self.users[u].status == "friend"
        )

    def _charge(self, count: int) -> None:
        quota = self.quota()
        if quota.limit is not None and quota.used + count > quota.limit:
            raise LineApiError(429, errors.MONTHLY_LIMIT)
        quota.used += count

    def _reply_message(self, call: Call) -> Outcome:
        data = call.json()
        check = Checker()
        token = check.string(data, "replyToken", "")
        messages = check.messages(data)
        if check.details:
            raise validation_error(check.details)
        assert token is not None
        record = self._tokens.get(token)
        if record is None or record.used or self.clock() >= record.expires:
            raise LineApiError(400, errors.INVALID_REPLY_TOKEN)
        record.used = True
        sent = self._send("reply_message", [record.user_id], messages, call.request_id, None)
        return Outcome({"sentMessages": sent})

    def _push_message(self, call: Call) -> Outcome:
        data = call.json()
        check = Checker()
        to = check.string(data, "to", "")
        messages = check.messages(data)
        if check.details:
            raise validation_error(check.details)
        assert to is not None
        if not ANY_TARGET_ID.fullmatch(to):
            raise LineApiError(400, errors.INVALID_TO)
        self._charge(self._countable([to]))
        sent = self._send("push_message", [to], messages, call.request_id, call.retry_key)
        return Outcome({"sentMessages": sent})

    def _multicast(self, call: Call) -> Outcome:
        data = call.json()
        check = Checker()
        to = check.array(data, "to", "", 1, MULTICAST_RECIPIENTS)
        messages = check.messages(data)
        if to is not None:
            for index, user_id in enumerate(to):
                if not isinstance(user_id, str):
                    check.fail(f"to[{index}]", "Must be a string")
        if check.details:
            raise validation_error(check.details)
        assert to is not None
        if not all(USER_ID.fullmatch(user_id) for user_id in to):
            raise LineApiError(400, errors.INVALID_TO)
        self._charge(self._countable(to))
        recipients = list(dict.fromkeys(to))
        self._send("multicast", recipients, messages, call.request_id, call.retry_key)
        return Outcome({})

    def _get_message_quota(self, call: Call) -> Outcome:
        quota = self.quota()
        if quota.limit is None:
            return Outcome({"type": "none"})
        return Outcome({"type": "limited", "value": quota.limit})

    def _get_message_quota_consumption(self, call: Call) -> Outcome:
        return Outcome({"totalUsage": self.quota().used})

    def _create_rich_menu(self, call: Call) -> Outcome:
        data = call.json()
        check = Checker()
        check.rich_menu(data)
        if check.details:
            raise validation_error(check.details)
        rich_menu_id = f"richmenu-{uuid.uuid4().hex}"
        self.rich_menus[rich_menu_id] = RichMenu(rich_menu_id, data)
        return Outcome({"richMenuId": rich_menu_id})

    def _require_rich_menu(self, params: dict[str, str]) -> RichMenu:
        menu = self.rich_menus.get(params["rich_menu_id"])
        if menu is None:
            raise LineApiError(404, errors.NOT_FOUND)
        return menu

    def _get_rich_menu(self, call: Call) -> Outcome:
        return Outcome(self._require_rich_menu(call.params).json())

    def _get_rich_menu_list(self, call: Call) -> Outcome:
        return Outcome({"richmenus": [menu.json() for menu in self.rich_menus.values()]})

    def _delete_rich_menu(self, call: Call) -> Outcome:
        menu = self._require_rich_menu(call.params)
        del self.rich_menus[menu.rich_menu_id]
        if self.default_rich_menu == menu.rich_menu_id:
            self.default_rich_menu = None
        return Outcome({})

    def _set_rich_menu_image(self, call: Call) -> Outcome:
        menu = self._require_rich_menu(call.params)
        body = call.body
        declared = call.content_type.split(";", 1)[0].strip().lower()
        sniffed = image_format(body)
        if declared not in ("image/png", "image/jpeg") or sniffed != declared:
            raise LineApiError(400, errors.UNSUPPORTED_IMAGE)
        if len(body) > RICH_MENU_IMAGE_BYTES:
            raise LineApiError(400, errors.IMAGE_TOO_LARGE)
        size = image_dimensions(body)
        if size is None or rich_menu_size_problem(*size):
            raise LineApiError(400, errors.IMAGE_SIZE_INVALID)
        if menu.image is not None:
            raise LineApiError(400, errors.IMAGE_ALREADY_UPLOADED)
        menu_size = menu.body["size"]
        if size != (menu_size["width"], menu_size["height"]):
            raise LineApiError(400, errors.IMAGE_SIZE_MISMATCH)
        menu.image, menu.image_type = body, declared
        return Outcome({})

    def _get_rich_menu_image(self, call: Call) -> Outcome:
        menu = self._require_rich_menu(call.params)
        if menu.image is None or menu.image_type is None:
            raise LineApiError(404, errors.NOT_FOUND)
        return Outcome(menu.image, menu.image_type)

    def _set_default_rich_menu(self, call: Call) -> Outcome:
        menu = self._require_rich_menu(call.params)
        if menu.image is None:
            raise LineApiError(400, errors.NO_RICH_MENU_IMAGE)
        self.default_rich_menu = menu.rich_menu_id
        return Outcome({})

    def _get_default_rich_menu_id(self, call: Call) -> Outcome:
        if self.default_rich_menu is None:
            raise LineApiError(404, errors.NOT_FOUND)
        return Outcome({"richMenuId": self.default_rich_menu})

    def _cancel_default_rich_menu(self, call: Call) -> Outcome:
        self.default_rich_menu = None
        return Outcome({})


def _quote_token() -> str:
    return os.urandom(24).hex()
