"""The fake's world: users, chats, messages, files, updates, and the Bot API methods acting on them.

Everything here is plain single-threaded logic: `FakeTelegram` (telegram_api.py) serialises all
access with one lock and adds HTTP, long polling, webhooks and waiting on top. Bot API methods
raise `ApiError` with Telegram's status and description; member actions (a user writing, pressing
a button, blocking the bot...) queue real-shaped updates and return their update_id.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import itertools
import json
import mimetypes
import re
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from tests.fakes import telegram_errors as errors
from tests.fakes.telegram_errors import ApiError, FakeUsageError, bad_request, forbidden
from tests.fakes.telegram_http import UploadedFile
from tests.fakes.telegram_markup import (
    button_target,
    inline_buttons,
    parse_reply_markup,
    reply_keyboard_labels,
)
from tests.fakes.telegram_ratelimit import RateLimiter, RateLimits
from tests.fakes.telegram_text import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    EntityParseError,
    FormattedText,
    UnsupportedParseMode,
    detect_entities,
    format_text,
)
from tests.fakes.telegram_updates import (
    MESSAGE_KINDS,
    callback_query_update,
    group_chat_json,
    inaccessible_message,
    message_update,
    my_chat_member_update,
    private_chat_json,
    update_kind,
    user_json,
)

UserStatus = Literal["new", "active", "blocked", "deactivated"]
ChatType = Literal["group", "supergroup", "channel"]

# Telegram's methods by lower-case name; the Bot API matches method names case-insensitively.
METHOD_NAMES = {
    name.lower(): name
    for name in (
        "getMe",
        "logOut",
        "close",
        "getUpdates",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
        "sendMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
        "deleteMessages",
        "answerCallbackQuery",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "setChatMenuButton",
        "getChatMenuButton",
        "sendDocument",
        "sendPhoto",
        "sendLocation",
        "sendVenue",
        "sendChatAction",
        "getChat",
        "getChatMember",
        "getChatMemberCount",
        "leaveChat",
        "getFile",
        "pinChatMessage",
        "unpinChatMessage",
        "unpinAllChatMessages",
        "setMyName",
        "getMyName",
        "setMyDescription",
        "getMyDescription",
        "setMyShortDescription",
        "getMyShortDescription",
    )
}
# Updates Telegram leaves out unless allowed_updates names them.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
ANSWER_TEXT_LIMIT = 200
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")

_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "reply_parameters",
        "link_preview_options",
        "menu_button",
        "message_ids",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "message_thread_id",
        "max_connections",
        "cache_time",
        "live_period",
        "heading",
        "proximity_alert_radius",
    }
)
_FLOAT_FIELDS = frozenset({"latitude", "longitude", "horizontal_accuracy"})
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
        "allow_paid_broadcast",
    }
)
# file_id prefixes and download folders Telegram uses for each kind of file.
_FILE_ID_PREFIX = {
    "photo": "AgACAgUAAxkDAA",
    "document": "BQACAgUAAxkDAA",
    "voice": "AwACAgUAAxkBAA",
    "sticker": "CAACAgIAAxkBAA",
}
_FILE_FOLDER = {"photo": "photos", "document": "documents", "voice": "voice", "sticker": "stickers"}
# What a member "sends" when a test gives no content: enough bytes to look like the format.
_PLACEHOLDER_CONTENT = {
    "photo": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x05\x00\x00\x00\x03\xc0\x08\x02"
        b"\x00\x00\x00\x00\x00\x00\x00"
    ),
    "voice": b"OggS\x00\x02" + b"\x00" * 20,
    "sticker": b"RIFF\x00\x00\x00\x00WEBPVP8X",
    "document": b"%PDF-1.4\n%fake\n",
}


def normalize_params(values: dict[str, Any]) -> dict[str, Any]:
    """Give form-encoded parameters the types a JSON body would have.

    Form values are all strings: object fields arrive as JSON text, numbers and booleans as
    words. Decoding them once means logged requests look the same whatever the encoding.
    """
    normalised: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, str):
            if name in _JSON_FIELDS:
                # Undecodable JSON stays text: the method reports it in Telegram's words.
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            elif name in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
                value = int(value)
            elif name in _FLOAT_FIELDS:
                with contextlib.suppress(ValueError):
                    value = float(value)
            elif name in _BOOL_FIELDS and value.lower() in ("true", "false", "1", "0"):
                value = value.lower() in ("true", "1")
        normalised[name] = value
    return normalised


class Params:
    """Typed access to one request's parameters, failing with Telegram's descriptions."""

    def __init__(
        self, values: dict[str, Any], files: dict[str, UploadedFile] | None = None
    ) -> None:
        self.values = values
        self.files = files or {}

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise bad_request(f'field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        raise bad_request(f"invalid {name} specified")

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value


@dataclass(frozen=True)
class ApiResult:
    """A successful call: `result`, plus the `description` Telegram adds to a few answers."""

    result: Any
    description: str | None = None


@dataclass(frozen=True)
class FileInfo:
    """A file the bot sent (sendDocument, sendPhoto): what the recipient would get."""

    file_id: str
    file_unique_id: str
    filename: str | None
    mime_type: str | None
    content: bytes | None  # None when sent by URL: the fake does not fetch URLs
    size: int
    caption: str | None = None
    url: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent, as it stands now (edits applied); a snapshot, safe to keep.

    `text` is what the user sees: the text, or the caption of a photo or document, with entities
    parsed, tags stripped and HTML entities unescaped. `raw_text` is what the bot sent.
    """

    message_id: int
    chat_id: int
    method: str
    text: str
    raw_text: str
    parse_mode: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    inline_buttons: list[list[tuple[str, str | None]]]
    reply_keyboard: list[list[str]] | None
    document: FileInfo | None
    photo: FileInfo | None
    location: dict[str, Any] | None
    venue: dict[str, Any] | None
    reply_to_message_id: int | None
    date: int
    edit_date: int | None
    deleted: bool
    edits: list[SentMessage]  # earlier versions, oldest first

    @property
    def button_labels(self) -> list[str]:
        """Every inline button label, row by row."""
        return [label for row in self.inline_buttons for label, _ in row]


@dataclass(frozen=True)
class CallbackAnswer:
    """How the bot answered a callback query (answerCallbackQuery)."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    update_id: int
    user_id: int
    chat_id: int | None
    message_id: int | None
    data: str | None


@dataclass
class UserRecord:
    """A Telegram user the fake knows; their private chat has the same id."""

    user_id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    status: UserStatus

    def json(self) -> dict[str, Any]:
        return user_json(
            self.user_id, self.first_name, self.last_name, self.username, self.language_code
        )

    def chat_json(self) -> dict[str, Any]:
        return private_chat_json(self.json())


@dataclass
class GroupRecord:
    """A group, supergroup or channel the bot is (or was) in."""

    chat_id: int
    title: str
    chat_type: ChatType
    username: str | None = None
    bot_status: str = "member"
    members: set[int] = field(default_factory=set)

    def chat_json(self) -> dict[str, Any]:
        return group_chat_json(self.chat_id, self.title, self.chat_type, self.username)

    @property
    def bot_present(self) -> bool:
        return self.bot_status in ("member", "administrator")


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    content: bytes | None
    filename: str | None
    mime_type: str | None
    path: str
    url: str | None = None


@dataclass
class _Message:
    """A message in a chat: the bot's (with everything tests read) or a user's (raw JSON)."""

    chat_id: int
    message_id: int
    date: int
    from_bot: bool
    method: str
    text: str = ""
    raw_text: str = ""
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    media: dict[str, Any] = field(default_factory=dict)  # "photo": [...], "document": {...}
    document: FileInfo | None = None
    photo: FileInfo | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[SentMessage] = field(default_factory=list)
    incoming_json: dict[str, Any] | None = None
    sender_id: int | None = None

    @property
    def inline_markup(self) -> dict[str, Any] | None:
        """The markup attached to the message; reply keyboards belong to the chat, not to it."""
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            return self.reply_markup
        return None

    @property
    def has_text(self) -> bool:
        return self.method == "sendMessage"


@dataclass
class _Query:
    update_id: int
    user_id: int
    chat_id: int | None
    message_id: int | None
    data: str | None
    created: float
    answered: bool = False


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    generation: int


@dataclass
class _Queued:
    update_id: int
    kind: str
    update: dict[str, Any]


@dataclass(frozen=True)
class WebhookJob:
    """The next update to POST to the webhook, with what is needed to do it."""

    url: str
    secret_token: str | None
    generation: int
    update_id: int
    update: dict[str, Any]


def image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, JPEG, GIF or WebP image, None if it is none of them."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return int(width), int(height)
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        width, height = struct.unpack("<HH", content[6:10])
        return int(width), int(height)
    if content.startswith(b"\xff\xd8"):
        return _jpeg_size(content)
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        chunk = content[12:16]
        if chunk == b"VP8X" and len(content) >= 30:
            width = 1 + int.from_bytes(content[24:27], "little")
            height = 1 + int.from_bytes(content[27:30], "little")
            return width, height
        if chunk == b"VP8L" and len(content) >= 25:
            bits = int.from_bytes(content[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 " and len(content) >= 30:
            width, height = struct.unpack("<HH", content[26:30])
            return int(width) & 0x3FFF, int(height) & 0x3FFF
    return None


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(content):
        if content[i] != 0xFF:
            i += 1
            continue
        marker = content[i + 1]
        if marker in (0xD8, 0x01, 0xFF) or 0xD0 <= marker <= 0xD7:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", content[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", content[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


def _photo_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """The sizes Telegram keeps of a photo: thumbnails up to 1280 px, then the original."""
    longest = max(width, height, 1)
    sizes: list[tuple[int, int]] = []
    for side in (90, 320, 800, 1280):
        if longest > side:
            scale = side / longest
            sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    if longest > 2560:
        scale = 2560 / longest
        sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    else:
        sizes.append((width, height))
    return sizes


def scope_key(scope: dict[str, Any] | str | None) -> str:
    """Where setMyCommands stores a list: "default", "all_private_chats", "chat:<id>"..."""
    if scope is None:
        return "default"
    if isinstance(scope, str):
        return scope
    kind = scope.get("type")
    if kind in ("chat", "chat_administrators"):
        return f"{kind}:{scope.get('chat_id')}"
    if kind == "chat_member":
        return f"chat_member:{scope.get('chat_id')}:{scope.get('user_id')}"
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return str(kind)
    raise bad_request("can't parse BotCommandScope: unsupported scope type")


class TelegramState:
    """Users, chats, messages and updates of one fake bot, and the Bot API acting on them.

    Not thread-safe: the owner serialises access.
    """

    def __init__(
        self,
        token: str,
        *,
        bot_username: str,
        bot_first_name: str,
        clock: Callable[[], float],
        monotonic: Callable[[], float] = time.monotonic,
        rate_limits: RateLimits | None = None,
        callback_query_ttl: float | None = 15.0,
        first_update_id: int = 1,
    ) -> None:
        prefix = token.split(":", 1)[0]
        self.token = token
        self.bot_id = int(prefix) if prefix.isdigit() else 123456
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.callback_query_ttl = callback_query_ttl
        self._clock = clock
        self._monotonic = monotonic
        self._limiter = RateLimiter(rate_limits, monotonic) if rate_limits else None

        self.users: dict[int, UserRecord] = {}
        self.groups: dict[int, GroupRecord] = {}
        self._messages: dict[int, dict[int, _Message]] = {}
        self._last_message_id: dict[int, int] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._queries: dict[str, _Query] = {}
        self._query_counter = itertools.count(1)
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.chat_actions: dict[int, list[str]] = {}
        self.pinned: dict[int, list[int]] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}

        self._updates: deque[_Queued] = deque()
        self._next_update_id = first_update_id
        self._allowed_updates: frozenset[str] | None = None
        self.webhook: _Webhook | None = None
        self._webhook_generation = 0
        self.webhook_last_error: tuple[int, str] | None = None

        self._methods: dict[str, Callable[[Params], Any]] = {
            "getme": lambda p: self.bot_user(full=True),
            "logout": lambda p: True,
            "close": lambda p: True,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": lambda p: self.webhook_info(),
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "deletemessages": self._delete_messages,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "sendlocation": self._send_location,
            "sendvenue": self._send_venue,
            "sendchataction": self._send_chat_action,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatmembercount": self._get_chat_member_count,
            "leavechat": self._leave_chat,
            "getfile": self._get_file,
            "pinchatmessage": self._pin_chat_message,
            "unpinchatmessage": self._unpin_chat_message,
            "unpinallchatmessages": self._unpin_all_chat_messages,
            "setmyname": lambda p: self._set_bot_text(p, "name"),
            "getmyname": lambda p: self._get_bot_text(p, "name"),
            "setmydescription": lambda p: self._set_bot_text(p, "description"),
            "getmydescription": lambda p: self._get_bot_text(p, "description"),
            "setmyshortdescription": lambda p: self._set_bot_text(p, "short_description"),
            "getmyshortdescription": lambda p: self._get_bot_text(p, "short_description"),
        }

    # --- registry -----------------------------------------------------------------------------

    def now(self) -> int:
        return int(self._clock())

    def bot_user(self, *, full: bool = False) -> dict[str, Any]:
        """The bot as a User object; `full` adds the getMe-only fields."""
        user = user_json(self.bot_id, self.bot_first_name, username=self.bot_username, is_bot=True)
        if full:
            user.update(
                can_join_groups=True,
                can_read_all_group_messages=True,  # the fake delivers every group message
                supports_inline_queries=False,
                can_connect_to_business=False,
                has_main_web_app=False,
            )
        return user

    def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        *,
        started: bool,
    ) -> None:
        if user_id <= 0:
            raise FakeUsageError(f"user ids are positive, got {user_id}")
        if user_id == self.bot_id:
            raise FakeUsageError(f"{user_id} is the bot's own id")
        status: UserStatus = "active" if started else "new"
        self.users[user_id] = UserRecord(
            user_id, first_name, last_name, username, language_code, status
        )

    def add_group(
        self, chat_id: int, title: str, chat_type: ChatType | None, username: str | None
    ) -> None:
        if chat_id >= 0:
            raise FakeUsageError(f"group and channel ids are negative, got {chat_id}")
        if chat_type is None:
            chat_type = "supergroup" if chat_id <= -1000000000000 else "group"
        self.groups[chat_id] = GroupRecord(chat_id, title, chat_type, username)

    def require_user(self, user_id: int) -> UserRecord:
        user = self.users.get(user_id)
        if user is None:
            raise FakeUsageError(f"unknown user {user_id}: call add_user({user_id}, ...) first")
        return user

    def require_group(self, chat_id: int) -> GroupRecord:
        group = self.groups.get(chat_id)
        if group is None:
            raise FakeUsageError(f"unknown group {chat_id}: call add_group({chat_id}, ...) first")
        return group

    def chat_json(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self.users:
            return self.users[chat_id].chat_json()
        return self.groups[chat_id].chat_json()

    def set_rate_limits(self, limits: RateLimits | None) -> None:
        self._limiter = RateLimiter(limits, self._monotonic) if limits else None

    @property
    def rate_limits(self) -> RateLimits | None:
        return self._limiter.limits if self._limiter else None

    # --- updates ------------------------------------------------------------------------------

    def enqueue(self, update: dict[str, Any]) -> int:
        """Queue a copy of `update` under a new update_id and learn from it; return the id."""
        kind = update_kind(update)
        payload = update.get(kind)
        if not isinstance(payload, dict):
            raise FakeUsageError(f"update field {kind!r} must be an object")
        update_id = self._next_update_id
        self._next_update_id += 1
        content: dict[str, Any] = copy.deepcopy(payload)
        self._observe(kind, update_id, content)
        queued = {"update_id": update_id, kind: content}
        self._updates.append(_Queued(update_id, kind, queued))
        return update_id

    def _observe(self, kind: str, update_id: int, payload: dict[str, Any]) -> None:
        """Keep users, chats, messages and queries consistent with an incoming update."""
        if kind in MESSAGE_KINDS and isinstance(payload.get("chat"), dict):
            chat = payload["chat"]
            sender = payload.get("from") if isinstance(payload.get("from"), dict) else None
            chat_id = self._learn_chat(chat, sender)
            message_id = payload.get("message_id")
            if isinstance(message_id, int):
                if kind in ("message", "channel_post", "business_message"):
                    self._store_incoming(chat_id, message_id, payload, sender)
                else:
                    stored = self._messages.get(chat_id, {}).get(message_id)
                    if stored is not None and not stored.from_bot:
                        stored.incoming_json = copy.deepcopy(payload)
                        stored.text = str(payload.get("text") or payload.get("caption") or "")
        elif kind == "callback_query":
            self._observe_callback_query(update_id, payload)
        elif kind == "my_chat_member":
            self._observe_membership(payload)

    def _learn_chat(self, chat: dict[str, Any], sender: dict[str, Any] | None) -> int:
        chat_id = int(chat["id"])
        if chat.get("type") == "private":
            user = self.users.get(chat_id)
            if user is None:
                source = sender or chat
                self.users[chat_id] = UserRecord(
                    chat_id,
                    str(source.get("first_name", "")),
                    source.get("last_name"),
                    source.get("username"),
                    source.get("language_code"),
                    "active",
                )
            elif user.status == "new" and sender is not None:
                user.status = "active"
        elif chat_id not in self.groups and chat.get("type") in ("group", "supergroup", "channel"):
            self.groups[chat_id] = GroupRecord(
                chat_id, str(chat.get("title", "")), chat["type"], chat.get("username")
            )
        return chat_id

    def _store_incoming(
        self, chat_id: int, message_id: int, payload: dict[str, Any], sender: dict[str, Any] | None
    ) -> None:
        messages = self._messages.setdefault(chat_id, {})
        self._last_message_id[chat_id] = max(self._last_message_id.get(chat_id, 0), message_id)
        if message_id in messages:
            return
        messages[message_id] = _Message(
            chat_id=chat_id,
            message_id=message_id,
            date=int(payload.get("date", self.now())),
            from_bot=False,
            method="incoming",
            text=str(payload.get("text") or payload.get("caption") or ""),
            incoming_json=copy.deepcopy(payload),
            sender_id=sender.get("id") if sender else None,
        )

    def _observe_callback_query(self, update_id: int, payload: dict[str, Any]) -> None:
        sender = payload.get("from") or {}
        message = payload.get("message") or {}
        chat = message.get("chat") or {}
        self._queries[str(payload.get("id"))] = _Query(
            update_id=update_id,
            user_id=int(sender.get("id", 0)),
            chat_id=chat.get("id"),
            message_id=message.get("message_id"),
            data=payload.get("data"),
            created=self._monotonic(),
        )

    def _observe_membership(self, payload: dict[str, Any]) -> None:
        chat = payload.get("chat") or {}
        new_status = (payload.get("new_chat_member") or {}).get("status")
        chat_id = self._learn_chat(chat, payload.get("from"))
        if chat.get("type") == "private" and chat_id in self.users:
            user = self.users[chat_id]
            if new_status == "kicked":
                user.status = "blocked"
            elif new_status == "member":
                user.status = "active"
        elif chat_id in self.groups and isinstance(new_status, str):
            self.groups[chat_id].bot_status = new_status

    def _allowed(self, kind: str) -> bool:
        if self._allowed_updates is None:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    def set_allowed_updates(self, allowed: Any) -> None:
        """Remember allowed_updates like Telegram does: until the next call that sets it."""
        if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
            raise bad_request("can't parse allowed updates JSON object")
        self._allowed_updates = frozenset(allowed) if allowed else None

    def _drop_unwanted(self) -> None:
        """Forget updates allowed_updates excludes: Telegram would never deliver them."""
        if any(not self._allowed(queued.kind) for queued in self._updates):
            self._updates = deque(q for q in self._updates if self._allowed(q.kind))

    def confirm(self, offset: int) -> None:
        """getUpdates' offset: forget updates below it; a negative offset keeps the last -offset."""
        if offset > 0:
            while self._updates and self._updates[0].update_id < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()

    def take_updates(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` pending updates, oldest first, still pending until confirmed."""
        self._drop_unwanted()
        return [queued.update for queued in itertools.islice(self._updates, limit)]

    def pending_updates(self) -> list[dict[str, Any]]:
        return [queued.update for queued in self._updates]

    def drop_pending_updates(self) -> None:
        self._updates.clear()

    # --- webhook ------------------------------------------------------------------------------

    def webhook_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook is not None:
            if self.webhook.ip_address:
                info["ip_address"] = self.webhook.ip_address
            if self.webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self.webhook_last_error
            info["max_connections"] = self.webhook.max_connections
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def next_webhook_job(self) -> WebhookJob | None:
        if self.webhook is None:
            return None
        self._drop_unwanted()
        if not self._updates:
            return None
        first = self._updates[0]
        return WebhookJob(
            self.webhook.url,
            self.webhook.secret_token,
            self.webhook.generation,
            first.update_id,
            first.update,
        )

    def webhook_delivered(self, job: WebhookJob) -> None:
        if self._updates and self._updates[0].update_id == job.update_id:
            self._updates.popleft()

    def webhook_failed(self, job: WebhookJob, message: str, *, give_up: bool) -> None:
        self.webhook_last_error = (self.now(), message)
        if give_up:
            self.webhook_delivered(job)

    def webhook_current(self, job: WebhookJob) -> bool:
        return self.webhook is not None and self.webhook.generation == job.generation

    def _set_webhook(self, p: Params) -> ApiResult:
        url = (p.text("url") or "").strip()
        if not url:
            return self._delete_webhook(p)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: invalid webhook URL specified")
        secret = p.text("secret_token") or None
        if secret is not None:
            if len(secret) > 256:
                raise bad_request("secret token is too long")
            if not WEBHOOK_SECRET.fullmatch(secret):
                raise bad_request("secret token contains unallowed characters")
        max_connections = p.integer("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("max_connections must be between 1 and 100")
        allowed = p.obj("allowed_updates")
        if allowed is not None:
            self.set_allowed_updates(allowed)
        if p.flag("drop_pending_updates"):
            self.drop_pending_updates()
        unchanged = self.webhook is not None and (self.webhook.url, self.webhook.secret_token) == (
            url,
            secret,
        )
        self._webhook_generation += 1
        self.webhook = _Webhook(
            url, secret, max_connections, p.text("ip_address"), self._webhook_generation
        )
        self.webhook_last_error = None
        return ApiResult(True, "Webhook is already set" if unchanged else "Webhook was set")

    def _delete_webhook(self, p: Params) -> ApiResult:
        if p.flag("drop_pending_updates"):
            self.drop_pending_updates()
        was_set = self.webhook is not None
        self.webhook = None
        self.webhook_last_error = None
        return ApiResult(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    # --- calls --------------------------------------------------------------------------------

    def knows(self, method: str) -> bool:
        return method in self._methods

    def call(
        self, method: str, values: dict[str, Any], files: dict[str, UploadedFile]
    ) -> ApiResult:
        """Run Bot API method `method` (lower case); raises ApiError like Telegram."""
        result = self._methods[method](Params(values, files))
        return result if isinstance(result, ApiResult) else ApiResult(result)

    # --- helpers for methods ------------------------------------------------------------------

    def _require_chat_id(self, p: Params) -> None:
        if p.raw("chat_id") in (None, ""):
            raise ApiError(400, errors.CHAT_ID_EMPTY)

    def _resolve_chat(self, p: Params) -> int:
        self._require_chat_id(p)
        value = p.raw("chat_id")
        if isinstance(value, str) and value.startswith("@"):
            name = value[1:].lower()
            for group in self.groups.values():
                if group.username and group.username.lower() == name:
                    return group.chat_id
            raise ApiError(400, errors.CHAT_NOT_FOUND)
        try:
            chat_id = int(value)
        except (TypeError, ValueError):
            raise ApiError(400, errors.CHAT_NOT_FOUND) from None
        if chat_id in self.users or chat_id in self.groups:
            return chat_id
        raise ApiError(400, errors.CHAT_NOT_FOUND)

    def _check_can_send(self, chat_id: int) -> None:
        user = self.users.get(chat_id)
        if user is not None:
            if user.status == "new":
                raise forbidden(errors.CANT_INITIATE)
            if user.status == "blocked":
                raise forbidden(errors.BLOCKED)
            if user.status == "deactivated":
                raise forbidden(errors.DEACTIVATED)
            return
        group = self.groups[chat_id]
        if not group.bot_present:
            raise forbidden(
                {
                    "group": errors.KICKED_FROM_GROUP,
                    "supergroup": errors.KICKED_FROM_SUPERGROUP,
                    "channel": errors.KICKED_FROM_CHANNEL,
                }[group.chat_type]
            )

    def _take_rate_token(self, chat_id: int) -> None:
        if self._limiter is None:
            return
        kind: Literal["private", "group"] = "private" if chat_id in self.users else "group"
        retry_after = self._limiter.acquire(chat_id, kind)
        if retry_after:
            raise errors.rate_limited(retry_after)

    def _format(self, text: str, parse_mode: str | None, entities: Any) -> FormattedText:
        if entities is not None and not isinstance(entities, list):
            raise bad_request("can't parse entities JSON object")
        try:
            return format_text(text, parse_mode, entities)
        except EntityParseError as error:
            raise ApiError(400, errors.CANT_PARSE_ENTITIES + str(error)) from None
        except UnsupportedParseMode:
            raise ApiError(400, errors.UNSUPPORTED_PARSE_MODE) from None

    def _caption(self, p: Params) -> tuple[FormattedText, str]:
        raw = p.text("caption") or ""
        formatted = self._format(raw, p.text("parse_mode"), p.obj("caption_entities"))
        if len(formatted.text) > CAPTION_LIMIT:
            raise ApiError(400, errors.CAPTION_TOO_LONG)
        return formatted, raw

    def _reply_target(self, p: Params, chat_id: int) -> int | None:
        parameters = p.obj("reply_parameters")
        allow_missing = p.flag("allow_sending_without_reply")
        if isinstance(parameters, dict):
            target = parameters.get("message_id")
            allow_missing = allow_missing or bool(parameters.get("allow_sending_without_reply"))
        else:
            target = p.integer("reply_to_message_id")
        if not isinstance(target, int):
            return None
        message = self._messages.get(chat_id, {}).get(target)
        if message is None or message.deleted:
            if allow_missing:
                return None
            raise ApiError(400, errors.REPLY_NOT_FOUND)
        return target

    def _next_message_id(self, chat_id: int) -> int:
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        return message_id

    def _store_bot_message(self, chat_id: int, method: str, **fields: Any) -> _Message:
        message = _Message(
            chat_id=chat_id,
            message_id=self._next_message_id(chat_id),
            date=self.now(),
            from_bot=True,
            method=method,
            **fields,
        )
        self._messages.setdefault(chat_id, {})[message.message_id] = message
        return message

    def _message_json(self, message: _Message, *, nested: bool = False) -> dict[str, Any]:
        """The Message object Telegram returns for `message` as it is now."""
        if not message.from_bot:
            incoming = copy.deepcopy(message.incoming_json or {})
            incoming.pop("reply_to_message", None)
            return incoming
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self.bot_user(),
            "chat": self.chat_json(message.chat_id),
            "date": message.date,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.reply_to_message_id is not None and not nested:
            target = self._messages.get(message.chat_id, {}).get(message.reply_to_message_id)
            if target is not None:
                data["reply_to_message"] = self._message_json(target, nested=True)
        data.update(copy.deepcopy(message.media))
        if message.has_text:
            data["text"] = message.text
            if message.entities:
                data["entities"] = copy.deepcopy(message.entities)
        elif message.text:
            data["caption"] = message.text
            if message.entities:
                data["caption_entities"] = copy.deepcopy(message.entities)
        if message.inline_markup is not None:
            data["reply_markup"] = copy.deepcopy(message.inline_markup)
        return data

    def snapshot(self, message: _Message) -> SentMessage:
        return SentMessage(
            message_id=message.message_id,
            chat_id=message.chat_id,
            method=message.method,
            text=message.text,
            raw_text=message.raw_text,
            parse_mode=message.parse_mode,
            entities=copy.deepcopy(message.entities),
            reply_markup=copy.deepcopy(message.reply_markup),
            inline_buttons=inline_buttons(message.reply_markup),
            reply_keyboard=reply_keyboard_labels(message.reply_markup),
            document=message.document,
            photo=message.photo,
            location=copy.deepcopy(message.media.get("location")),
            venue=copy.deepcopy(message.media.get("venue")),
            reply_to_message_id=message.reply_to_message_id,
            date=message.date,
            edit_date=message.edit_date,
            deleted=message.deleted,
            edits=list(message.history),
        )

    def sent_messages(self, chat_id: int) -> list[SentMessage]:
        return [
            self.snapshot(message)
            for message in self._messages.get(chat_id, {}).values()
            if message.from_bot
        ]

    def chats_with_messages(self) -> list[int]:
        return list(self._messages)

    def incoming_texts(self, chat_id: int) -> list[tuple[int, bool, str]]:
        """(message_id, from_bot, text) of every message in the chat, for transcripts."""
        return [
            (message.message_id, message.from_bot, message.text or f"<{message.method}>")
            for message in self._messages.get(chat_id, {}).values()
        ]

    def transcript(self) -> list[str]:
        """Every chat with its messages, then the pending updates: for timeout messages."""
        lines: list[str] = []
        for chat_id in sorted(set(self.users) | set(self.groups) | set(self._messages)):
            if chat_id in self.users:
                user = self.users[chat_id]
                lines.append(f"chat {chat_id} (private, {user.first_name}, user {user.status}):")
            elif chat_id in self.groups:
                group = self.groups[chat_id]
                lines.append(
                    f"chat {chat_id} ({group.chat_type} {group.title!r}, bot {group.bot_status}):"
                )
            messages = list(self._messages.get(chat_id, {}).values())
            if not messages:
                lines.append("  (no messages)")
            for message in messages:
                who = "bot " if message.from_bot else "user"
                shown = repr(message.text) if message.text else f"<{message.method}>"
                labels = [label for row in inline_buttons(message.reply_markup) for label, _ in row]
                notes = [f"buttons {labels}"] if labels else []
                if message.history:
                    notes.append(f"edited {len(message.history)}x")
                if message.deleted:
                    notes.append("deleted")
                suffix = f"  [{'; '.join(notes)}]" if notes else ""
                lines.append(f"  #{message.message_id} {who}: {shown}{suffix}")
        kinds = ", ".join(f"{q.update_id}:{q.kind}" for q in self._updates)
        lines.append(f"pending updates: {len(self._updates)}" + (f" ({kinds})" if kinds else ""))
        return lines

    # --- sending ------------------------------------------------------------------------------

    def _send_message(self, p: Params) -> dict[str, Any]:
        self._require_chat_id(p)
        markup = parse_reply_markup(p.raw("reply_markup"))
        raw_text = p.text("text") or ""
        if not raw_text:
            raise ApiError(400, errors.TEXT_EMPTY)
        parse_mode = p.text("parse_mode") or None
        formatted = self._format(raw_text, parse_mode, p.obj("entities"))
        chat_id = self._resolve_chat(p)
        self._check_can_send(chat_id)
        if not formatted.text:
            raise ApiError(400, errors.TEXT_EMPTY)
        if len(formatted.text) > TEXT_LIMIT:
            raise ApiError(400, errors.TEXT_TOO_LONG)
        reply_to = self._reply_target(p, chat_id)
        self._take_rate_token(chat_id)
        message = self._store_bot_message(
            chat_id,
            "sendMessage",
            text=formatted.text,
            raw_text=raw_text,
            parse_mode=parse_mode,
            entities=formatted.entities,
            reply_markup=markup,
            reply_to_message_id=reply_to,
        )
        return self._message_json(message)

    def _send_document(self, p: Params) -> dict[str, Any]:
        return self._send_file(p, "document")

    def _send_photo(self, p: Params) -> dict[str, Any]:
        return self._send_file(p, "photo")

    def _send_file(self, p: Params, kind: Literal["document", "photo"]) -> dict[str, Any]:
        self._require_chat_id(p)
        markup = parse_reply_markup(p.raw("reply_markup"))
        caption, raw_caption = self._caption(p)
        source = self._input_file(p, kind)
        chat_id = self._resolve_chat(p)
        self._check_can_send(chat_id)
        reply_to = self._reply_target(p, chat_id)
        if kind == "photo":
            media, info = self._photo(source, caption.text or None)
        else:
            media, info = self._document(source, caption.text or None, p)
        self._take_rate_token(chat_id)
        message = self._store_bot_message(
            chat_id,
            "sendPhoto" if kind == "photo" else "sendDocument",
            text=caption.text,
            raw_text=raw_caption,
            parse_mode=p.text("parse_mode") or None,
            entities=caption.entities,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            media=media,
            **{kind: info},
        )
        return self._message_json(message)

    def _input_file(self, p: Params, name: str) -> UploadedFile | _StoredFile | str:
        """An upload, a known file (by file_id) or a URL for parameter `name`."""
        upload = p.files.get(name)
        value = p.raw(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = p.files.get(value[len("attach://") :])
        if upload is not None:
            return upload
        if isinstance(value, str) and value:
            if value in self._files:
                return self._files[value]
            if value.startswith(("http://", "https://")):
                return value
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {name} in the request")

    def _new_file(
        self,
        kind: str,
        content: bytes | None,
        filename: str | None,
        mime_type: str | None,
        url: str | None = None,
    ) -> _StoredFile:
        number = next(self._file_counter)
        prefix = _FILE_ID_PREFIX.get(kind, "BAACAgUAAxkBAA")
        token = base64.urlsafe_b64encode(f"{self.bot_id}:{kind}:{number}".encode()).decode()
        if kind == "photo":
            extension = ".jpg"  # Telegram re-encodes photos as JPEG
        elif filename and "." in filename:
            extension = "." + filename.rsplit(".", 1)[1]
        else:
            extension = mimetypes.guess_extension(mime_type or "") or ""
        folder = _FILE_FOLDER.get(kind, "files")
        stored = _StoredFile(
            file_id=prefix + token.rstrip("="),
            file_unique_id="AgAD" + base64.urlsafe_b64encode(number.to_bytes(6, "big")).decode(),
            kind=kind,
            content=content,
            filename=filename,
            mime_type=mime_type,
            path=f"{folder}/file_{number}{extension}",
            url=url,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.path] = stored
        return stored

    def _photo(
        self, source: UploadedFile | _StoredFile | str, caption: str | None
    ) -> tuple[dict[str, Any], FileInfo]:
        if isinstance(source, UploadedFile):
            size = image_size(source.content)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            content: bytes | None = source.content
            filename, url = source.filename, None
        elif isinstance(source, _StoredFile):
            content, filename, url = source.content, source.filename, source.url
            size = image_size(content or b"") or (1280, 960)
        else:
            content, filename, url, size = None, None, source, (1280, 960)
        sizes = []
        stored = None
        for width, height in _photo_sizes(*size):
            stored = self._new_file("photo", content, filename, "image/jpeg", url)
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(content or b"") * width * height // max(size[0] * size[1], 1),
                    "width": width,
                    "height": height,
                }
            )
        assert stored is not None  # _photo_sizes always yields the original size
        info = FileInfo(
            file_id=stored.file_id,
            file_unique_id=stored.file_unique_id,
            filename=filename,
            mime_type="image/jpeg",
            content=content,
            size=len(content or b""),
            caption=caption,
            url=url,
            width=size[0],
            height=size[1],
        )
        return {"photo": sizes}, info

    def _document(
        self, source: UploadedFile | _StoredFile | str, caption: str | None, p: Params
    ) -> tuple[dict[str, Any], FileInfo]:
        if isinstance(source, UploadedFile):
            filename = source.filename or "document"
            mime = source.content_type or mimetypes.guess_type(filename)[0]
            stored = self._new_file(
                "document", source.content, filename, mime or "application/octet-stream"
            )
        elif isinstance(source, _StoredFile):
            stored = source
        else:
            filename = source.rsplit("/", 1)[-1] or "document"
            stored = self._new_file(
                "document", None, filename, mimetypes.guess_type(filename)[0], url=source
            )
        document: dict[str, Any] = {}
        if stored.filename:
            document["file_name"] = stored.filename
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        document.update(
            file_id=stored.file_id,
            file_unique_id=stored.file_unique_id,
            file_size=len(stored.content or b""),
        )
        info = FileInfo(
            file_id=stored.file_id,
            file_unique_id=stored.file_unique_id,
            filename=stored.filename,
            mime_type=stored.mime_type,
            content=stored.content,
            size=len(stored.content or b""),
            caption=caption,
            url=stored.url,
        )
        return {"document": document}, info

    def _coordinates(self, p: Params) -> dict[str, Any]:
        latitude, longitude = p.number("latitude"), p.number("longitude")
        if latitude is None:
            raise bad_request("latitude is empty")
        if longitude is None:
            raise bad_request("longitude is empty")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong latitude or longitude specified")
        return {"latitude": latitude, "longitude": longitude}

    def _send_location(self, p: Params) -> dict[str, Any]:
        self._require_chat_id(p)
        markup = parse_reply_markup(p.raw("reply_markup"))
        location = self._coordinates(p)
        chat_id = self._resolve_chat(p)
        self._check_can_send(chat_id)
        reply_to = self._reply_target(p, chat_id)
        self._take_rate_token(chat_id)
        message = self._store_bot_message(
            chat_id,
            "sendLocation",
            reply_markup=markup,
            reply_to_message_id=reply_to,
            media={"location": location},
        )
        return self._message_json(message)

    def _send_venue(self, p: Params) -> dict[str, Any]:
        self._require_chat_id(p)
        markup = parse_reply_markup(p.raw("reply_markup"))
        location = self._coordinates(p)
        title, address = p.text("title"), p.text("address")
        if not title:
            raise bad_request("title is empty")
        if not address:
            raise bad_request("address is empty")
        chat_id = self._resolve_chat(p)
        self._check_can_send(chat_id)
        reply_to = self._reply_target(p, chat_id)
        self._take_rate_token(chat_id)
        venue: dict[str, Any] = {"location": location, "title": title, "address": address}
        for name in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if p.text(name):
                venue[name] = p.text(name)
        message = self._store_bot_message(
            chat_id,
            "sendVenue",
            reply_markup=markup,
            reply_to_message_id=reply_to,
            media={"venue": venue, "location": location},
        )
        return self._message_json(message)

    def _send_chat_action(self, p: Params) -> bool:
        action = p.text("action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat_id = self._resolve_chat(p)
        self._check_can_send(chat_id)
        self.chat_actions.setdefault(chat_id, []).append(action)
        return True

    # --- editing and deleting -----------------------------------------------------------------

    def _editable(self, p: Params) -> _Message:
        if p.raw("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # the fake has no inline mode
        self._require_chat_id(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        chat_id = self._resolve_chat(p)
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None or message.deleted:
            raise ApiError(400, errors.MESSAGE_TO_EDIT_NOT_FOUND)
        if not message.from_bot:
            raise ApiError(400, errors.MESSAGE_CANT_BE_EDITED)
        return message

    def _edit_markup(self, p: Params) -> dict[str, Any] | None:
        markup = parse_reply_markup(p.raw("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("REPLY_MARKUP_INVALID")
        return markup

    def _apply_edit(
        self,
        message: _Message,
        formatted: FormattedText | None,
        raw_text: str | None,
        parse_mode: str | None,
        markup: dict[str, Any] | None,
    ) -> dict[str, Any]:
        new_text = message.text if formatted is None else formatted.text
        new_entities = message.entities if formatted is None else formatted.entities
        if (new_text, new_entities, markup) == (
            message.text,
            message.entities,
            message.inline_markup,
        ):
            raise ApiError(400, errors.NOT_MODIFIED)
        message.history.append(self.snapshot(replace(message, history=[])))
        if formatted is not None and raw_text is not None:
            message.text, message.entities = formatted.text, formatted.entities
            message.raw_text, message.parse_mode = raw_text, parse_mode
            if message.photo is not None:
                message.photo = replace(message.photo, caption=formatted.text or None)
            if message.document is not None:
                message.document = replace(message.document, caption=formatted.text or None)
        if markup is not None or message.inline_markup is not None:
            message.reply_markup = markup
        message.edit_date = self.now()
        return self._message_json(message)

    def _edit_message_text(self, p: Params) -> dict[str, Any]:
        message = self._editable(p)
        markup = self._edit_markup(p)
        raw_text = p.text("text") or ""
        if not raw_text:
            raise ApiError(400, errors.TEXT_EMPTY)
        parse_mode = p.text("parse_mode") or None
        formatted = self._format(raw_text, parse_mode, p.obj("entities"))
        self._check_can_send(message.chat_id)
        if not message.has_text:
            raise bad_request("there is no text in the message to edit")
        if not formatted.text:
            raise ApiError(400, errors.TEXT_EMPTY)
        if len(formatted.text) > TEXT_LIMIT:
            raise ApiError(400, errors.TEXT_TOO_LONG)
        return self._apply_edit(message, formatted, raw_text, parse_mode, markup)

    def _edit_message_caption(self, p: Params) -> dict[str, Any]:
        message = self._editable(p)
        markup = self._edit_markup(p)
        caption, raw_caption = self._caption(p)
        self._check_can_send(message.chat_id)
        if message.photo is None and message.document is None:
            raise bad_request("there is no caption in the message to edit")
        parse_mode = p.text("parse_mode") or None
        return self._apply_edit(message, caption, raw_caption, parse_mode, markup)

    def _edit_message_reply_markup(self, p: Params) -> dict[str, Any]:
        message = self._editable(p)
        markup = self._edit_markup(p)
        self._check_can_send(message.chat_id)
        return self._apply_edit(message, None, None, message.parse_mode, markup)

    def _delete_message(self, p: Params) -> bool:
        chat_id = self._resolve_chat(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None or message.deleted:
            raise ApiError(400, errors.MESSAGE_TO_DELETE_NOT_FOUND)
        message.deleted = True
        return True

    def _delete_messages(self, p: Params) -> bool:
        chat_id = self._resolve_chat(p)
        ids = p.obj("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a non-empty array of at most 100 identifiers")
        for message_id in ids:
            message = self._messages.get(chat_id, {}).get(message_id)
            if message is not None:
                message.deleted = True
        return True

    # --- callback queries ---------------------------------------------------------------------

    def _answer_callback_query(self, p: Params) -> bool:
        query_id = p.text("callback_query_id") or ""
        query = self._queries.get(query_id)
        ttl = self.callback_query_ttl
        expired = query is not None and ttl is not None and self._monotonic() - query.created > ttl
        if query is None or query.answered or expired:
            raise ApiError(400, errors.QUERY_TOO_OLD)
        text = p.text("text")
        if text is not None and len(text) > ANSWER_TEXT_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        self.callback_answers[query_id] = CallbackAnswer(
            query_id=query_id,
            text=text,
            show_alert=p.flag("show_alert"),
            url=p.text("url"),
            cache_time=p.integer("cache_time"),
            update_id=query.update_id,
            user_id=query.user_id,
            chat_id=query.chat_id,
            message_id=query.message_id,
            data=query.data,
        )
        return True

    def new_query_id(self) -> str:
        return str(4_611_686_018_427_387_904 + self.bot_id * 1000 + next(self._query_counter))

    def chat_instance(self, chat_id: int) -> str:
        return str((chat_id * 2_654_435_761 + self.bot_id) % 9_223_372_036_854_775_807 * -1)

    # --- commands, menu button, bot texts -----------------------------------------------------

    def _command_scope(self, p: Params) -> tuple[str, str]:
        scope = p.obj("scope")
        if scope is not None and not isinstance(scope, dict):
            raise bad_request("can't parse BotCommandScope JSON object")
        return scope_key(scope), p.text("language_code") or ""

    def _set_my_commands(self, p: Params) -> bool:
        commands = p.obj("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        stored: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not COMMAND_NAME.fullmatch(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("command description must be 1-256 characters long")
            stored.append({"command": name, "description": description})
        self.commands[self._command_scope(p)] = stored
        return True

    def _get_my_commands(self, p: Params) -> list[dict[str, str]]:
        return copy.deepcopy(self.commands.get(self._command_scope(p), []))

    def _delete_my_commands(self, p: Params) -> bool:
        self.commands.pop(self._command_scope(p), None)
        return True

    def _menu_chat(self, p: Params) -> int | None:
        if p.raw("chat_id") in (None, ""):
            return None
        chat_id = self._resolve_chat(p)
        if chat_id not in self.users:
            raise bad_request("chat menu button can be set only in private chats")
        return chat_id

    def _set_chat_menu_button(self, p: Params) -> bool:
        chat_id = self._menu_chat(p)
        button = p.obj("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise bad_request("can't parse MenuButton JSON object")
        self.menu_buttons[chat_id] = copy.deepcopy(button)
        return True

    def _get_chat_menu_button(self, p: Params) -> dict[str, Any]:
        return self.menu_button(self._menu_chat(p))

    def menu_button(self, chat_id: int | None) -> dict[str, Any]:
        """The menu button a chat shows (the bot's default unless set for the chat)."""
        button = self.menu_buttons.get(chat_id)
        if chat_id is not None and (button is None or button.get("type") == "default"):
            button = self.menu_buttons.get(None)
        if button is None or button.get("type") == "default":
            return {"type": "commands"}
        return copy.deepcopy(button)

    def _set_bot_text(self, p: Params, kind: str) -> bool:
        limits = {"name": 64, "description": 512, "short_description": 120}
        value = p.text(kind) or ""
        if len(value) > limits[kind]:
            raise bad_request(f"{kind.replace('_', ' ')} is too long")
        key = (kind, p.text("language_code") or "")
        if value:
            self.bot_texts[key] = value
        else:
            self.bot_texts.pop(key, None)
        return True

    def _get_bot_text(self, p: Params, kind: str) -> dict[str, str]:
        language = p.text("language_code") or ""
        value = self.bot_texts.get((kind, language), self.bot_texts.get((kind, ""), ""))
        if kind == "name" and not value:
            value = self.bot_first_name
        return {kind: value}

    # --- chats and files ----------------------------------------------------------------------

    def _get_chat(self, p: Params) -> dict[str, Any]:
        chat_id = self._resolve_chat(p)
        chat = self.chat_json(chat_id)
        chat.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return chat

    def _member_status(self, chat_id: int, user_id: int) -> str:
        if user_id == self.bot_id:
            if chat_id in self.users:
                return "kicked" if self.users[chat_id].status == "blocked" else "member"
            return self.groups[chat_id].bot_status
        if chat_id in self.users:
            if user_id != chat_id:
                raise bad_request("user not found")
            return "member"
        if user_id not in self.users:
            raise bad_request("user not found")
        return "member" if user_id in self.groups[chat_id].members else "left"

    def _get_chat_member(self, p: Params) -> dict[str, Any]:
        chat_id = self._resolve_chat(p)
        user_id = p.integer("user_id")
        if user_id is None:
            raise bad_request("user_id is empty")
        status = self._member_status(chat_id, user_id)
        user = self.bot_user() if user_id == self.bot_id else self.users[user_id].json()
        member: dict[str, Any] = {"user": user, "status": status}
        if status == "kicked":
            member["until_date"] = 0
        return member

    def _get_chat_member_count(self, p: Params) -> int:
        chat_id = self._resolve_chat(p)
        if chat_id in self.users:
            return 2
        return len(self.groups[chat_id].members) + 1

    def _leave_chat(self, p: Params) -> bool:
        chat_id = self._resolve_chat(p)
        if chat_id in self.users:
            raise bad_request("chat member status can't be changed in private chats")
        group = self.groups[chat_id]
        if not group.bot_present:
            raise forbidden(errors.KICKED_FROM_GROUP)
        self.enqueue(
            my_chat_member_update(
                "my_chat_member_removed_from_group",
                chat=group.chat_json(),
                actor=self.bot_user(),
                bot=self.bot_user(),
                date=self.now(),
                new_status="left",
            )
        )
        return True

    def _get_file(self, p: Params) -> dict[str, Any]:
        stored = self._files.get(p.text("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content or b""),
            "file_path": stored.path,
        }

    def file_content(self, path: str) -> bytes | None:
        stored = self._files_by_path.get(path)
        return None if stored is None else stored.content

    def _pinnable(self, p: Params) -> tuple[int, int | None]:
        chat_id = self._resolve_chat(p)
        self._check_can_send(chat_id)
        message_id = p.integer("message_id")
        if message_id is not None:
            message = self._messages.get(chat_id, {}).get(message_id)
            if message is None or message.deleted:
                raise bad_request("message to pin not found")
        return chat_id, message_id

    def _pin_chat_message(self, p: Params) -> bool:
        chat_id, message_id = self._pinnable(p)
        if message_id is None:
            raise bad_request("message identifier is not specified")
        pinned = self.pinned.setdefault(chat_id, [])
        if message_id not in pinned:
            pinned.append(message_id)
        return True

    def _unpin_chat_message(self, p: Params) -> bool:
        chat_id, message_id = self._pinnable(p)
        pinned = self.pinned.get(chat_id, [])
        if pinned:
            pinned.remove(message_id if message_id in pinned else pinned[-1])
        return True

    def _unpin_all_chat_messages(self, p: Params) -> bool:
        chat_id = self._resolve_chat(p)
        self.pinned.pop(chat_id, None)
        return True

    # --- member actions -----------------------------------------------------------------------

    def _sender_chat(self, user: UserRecord, chat_id: int | None) -> tuple[int, dict[str, Any]]:
        """The chat a member writes in; writing to a bot you blocked unblocks it first."""
        if user.status == "deactivated":
            raise FakeUsageError(f"user {user.user_id} is deactivated and can no longer write")
        if chat_id is None or chat_id == user.user_id:
            if user.status == "blocked":
                self.unblock(user.user_id)
            user.status = "active"
            return user.user_id, user.chat_json()
        group = self.require_group(chat_id)
        if not group.bot_present:
            raise FakeUsageError(
                f"the bot is no longer in {group.chat_type} {chat_id} and would not see this"
            )
        group.members.add(user.user_id)
        return chat_id, group.chat_json()

    def member_message(self, fixture: str, user_id: int, chat_id: int | None, **fields: Any) -> int:
        """Queue a message from a member, built from `fixture`, with `fields` substituted."""
        user = self.require_user(user_id)
        target, chat = self._sender_chat(user, chat_id)
        update = message_update(
            fixture,
            message_id=self._next_message_id(target),
            date=self.now(),
            chat=chat,
            sender=user.json(),
            **fields,
        )
        return self.enqueue(update)

    def send_text(self, user_id: int, text: str, chat_id: int | None) -> int:
        if not text:
            raise FakeUsageError("Telegram users cannot send empty messages")
        group = chat_id is not None and chat_id != user_id
        return self.member_message(
            "group_message" if group else "message_text",
            user_id,
            chat_id,
            text=text,
            entities=detect_entities(text) or None,
        )

    def media_file(
        self, kind: str, content: bytes | None, filename: str | None, mime: str | None
    ) -> _StoredFile:
        """Register a file a member sends, so getFile and downloads work for it."""
        data = _PLACEHOLDER_CONTENT.get(kind, b"") if content is None else content
        return self._new_file(kind, data, filename, mime)

    def press(
        self,
        user_id: int,
        chat_id: int | None,
        message_id: int,
        data: str | None,
        label: str | None,
    ) -> int:
        if data is None and label is None:
            raise FakeUsageError("press_button needs label= or data= to choose a button")
        user = self.require_user(user_id)
        target = user_id if chat_id is None else chat_id
        message = self._messages.get(target, {}).get(message_id)
        if message is None or not message.from_bot:
            known = [m.message_id for m in self._messages.get(target, {}).values() if m.from_bot]
            raise FakeUsageError(
                f"the bot sent no message {message_id} in chat {target}; its messages: {known}"
            )
        if message.deleted:
            raise FakeUsageError(f"message {message_id} in chat {target} was deleted")
        rows = (message.inline_markup or {}).get("inline_keyboard", [])
        buttons = [button for row in rows for button in row]
        matches = [
            button
            for button in buttons
            if (label is None or button.get("text") == label)
            and (data is None or button.get("callback_data") == data)
        ]
        if not matches:
            offered = [(b.get("text"), button_target(b)) for b in buttons] or "no inline keyboard"
            wanted = ", ".join(
                f"{name}={value!r}"
                for name, value in (("label", label), ("data", data))
                if value is not None
            )
            raise FakeUsageError(
                f"message {message_id} in chat {target} has no button with {wanted}; "
                f"its buttons: {offered}"
            )
        button = matches[0]
        if "callback_data" not in button:
            raise FakeUsageError(
                f"button {button.get('text')!r} opens {button_target(button)!r}: pressing it "
                "sends the bot no callback query"
            )
        return self.callback(user, target, message_id, str(button["callback_data"]))

    def callback(self, user: UserRecord, chat_id: int, message_id: int, data: str) -> int:
        """Queue a callback query from `user` for message `message_id` with any `data`."""
        if user.status == "deactivated":
            raise FakeUsageError(f"user {user.user_id} is deactivated and can no longer press")
        message = self._messages.get(chat_id, {}).get(message_id)
        if chat_id not in self.users and chat_id not in self.groups:
            raise FakeUsageError(f"unknown chat {chat_id}")
        if message is None or message.deleted or not message.from_bot:
            shown = inaccessible_message(self.chat_json(chat_id), message_id)
        else:
            shown = self._message_json(message)
        update = callback_query_update(
            query_id=self.new_query_id(),
            sender=user.json(),
            message=shown,
            chat_instance=self.chat_instance(chat_id),
            data=data,
        )
        return self.enqueue(update)

    def block(self, user_id: int) -> int:
        user = self.require_user(user_id)
        if user.status in ("blocked", "deactivated"):
            raise FakeUsageError(f"user {user_id} is already {user.status}")
        update = my_chat_member_update(
            "my_chat_member_kicked",
            chat=user.chat_json(),
            actor=user.json(),
            bot=self.bot_user(),
            date=self.now(),
        )
        return self.enqueue(update)

    def unblock(self, user_id: int) -> int:
        user = self.require_user(user_id)
        if user.status != "blocked":
            raise FakeUsageError(f"user {user_id} has not blocked the bot (status {user.status})")
        update = my_chat_member_update(
            "my_chat_member_member",
            chat=user.chat_json(),
            actor=user.json(),
            bot=self.bot_user(),
            date=self.now(),
        )
        return self.enqueue(update)

    def deactivate(self, user_id: int) -> None:
        self.require_user(user_id).status = "deactivated"

    def kick_bot(self, chat_id: int, by_user_id: int) -> int:
        group = self.require_group(chat_id)
        if not group.bot_present:
            raise FakeUsageError(f"the bot is not in {group.chat_type} {chat_id}")
        actor = self.require_user(by_user_id)
        update = my_chat_member_update(
            "my_chat_member_removed_from_group",
            chat=group.chat_json(),
            actor=actor.json(),
            bot=self.bot_user(),
            date=self.now(),
            new_status="left" if group.chat_type == "group" else "kicked",
        )
        return self.enqueue(update)

    def edit_text(
        self, user_id: int, text: str, message_id: int | None, chat_id: int | None
    ) -> int:
        user = self.require_user(user_id)
        target = user_id if chat_id is None else chat_id
        own = [
            m
            for m in self._messages.get(target, {}).values()
            if not m.from_bot and m.sender_id == user_id and m.incoming_json is not None
        ]
        if message_id is not None:
            own = [m for m in own if m.message_id == message_id]
        if not own:
            raise FakeUsageError(f"user {user_id} has no message {message_id or ''} in {target}")
        original = own[-1]
        assert original.incoming_json is not None
        payload = copy.deepcopy(original.incoming_json)
        payload.pop("reply_to_message", None)
        update = message_update(
            "edited_message",
            message_id=original.message_id,
            date=int(payload.get("date", self.now())),
            chat=payload["chat"],
            sender=user.json(),
            text=text,
            entities=detect_entities(text) or None,
            edit_date=self.now(),
        )
        return self.enqueue(update)

    def post_in_channel(self, chat_id: int, text: str) -> int:
        channel = self.require_group(chat_id)
        if channel.chat_type != "channel":
            raise FakeUsageError(f"{chat_id} is a {channel.chat_type}, not a channel")
        update = message_update(
            "channel_post",
            message_id=self._next_message_id(chat_id),
            date=self.now(),
            chat=channel.chat_json(),
            sender=None,
            sender_chat=channel.chat_json(),
            text=text,
        )
        return self.enqueue(update)

    def send_without_sender(self, chat_id: int, text: str) -> int:
        group = self.require_group(chat_id)
        update = message_update(
            "no_sender",
            message_id=self._next_message_id(chat_id),
            date=self.now(),
            chat=group.chat_json(),
            sender=None,
            text=text,
        )
        return self.enqueue(update)

    def push(self, update: dict[str, Any]) -> int:
        if not isinstance(update, dict):
            raise FakeUsageError("push_update takes an update dict")
        update_kind(update)
        return self.enqueue(copy.deepcopy(update))
