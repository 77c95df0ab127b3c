"""LINE's rules for message objects, actions and rich menus, checked the way LINE reports them.

Each check adds a `Detail(message, property)` with LINE's property path (`messages[0].text`,
`messages[1].quickReply.items[13]`...), so a refused request lists every problem at once in
LINE's body: `{"message": "The request body has N error(s)", "details": [...]}`.

What matters to the bot is checked (counts, lengths, required fields, action shapes); anything
else in a message (flex layout, styling, emojis) is kept as sent. Lengths are counted in UTF-16
code units, as LINE's servers count them: an emoji outside the BMP counts two.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import Any

from tests.fakes.line_errors import Detail

MESSAGES_PER_REQUEST = 5
MULTICAST_RECIPIENTS = 500
TEXT_LIMIT = 5000
ALT_TEXT_LIMIT = 400
QUICK_REPLY_ITEMS = 13
ACTION_LABEL_LIMIT = 20
POSTBACK_DATA_LIMIT = 300
DISPLAY_TEXT_LIMIT = 300
MESSAGE_ACTION_TEXT_LIMIT = 300
URI_LIMIT = 1000
CONTENT_URL_LIMIT = 2000
RICH_MENU_AREAS = 20
RICH_MENU_NAME_LIMIT = 300
CHAT_BAR_TEXT_LIMIT = 14
RICH_MENU_IMAGE_BYTES = 1024 * 1024
RICH_MENU_MIN_WIDTH, RICH_MENU_MAX_WIDTH = 800, 2500
RICH_MENU_MIN_HEIGHT = 250
RICH_MENU_MIN_ASPECT = 1.45

MESSAGE_TYPES = (
    "text",
    "textV2",
    "sticker",
    "image",
    "video",
    "audio",
    "location",
    "imagemap",
    "template",
    "flex",
)
ACTION_TYPES = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "richmenuswitch",
    "clipboard",
)
# Actions that only a quick reply may carry.
QUICK_REPLY_ONLY_ACTIONS = frozenset({"camera", "cameraRoll", "location"})
TEMPLATE_TYPES = ("buttons", "confirm", "carousel", "image_carousel")
USER_ID = re.compile(r"U[0-9a-f]{32}")
ANY_TARGET_ID = re.compile(r"[UCR][0-9a-f]{32}")
_URI_SCHEMES = ("http://", "https://", "line://", "tel:", "mailto:")


def utf16_length(text: str) -> int:
    """Characters as LINE counts them: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class Checker:
    """Collects the problems of one request body."""

    def __init__(self) -> None:
        self.details: list[Detail] = []

    def fail(self, path: str, message: str) -> None:
        self.details.append(Detail(message, path))

    # --- primitives -------------------------------------------------------------------------

    def string(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        *,
        limit: int | None = None,
        required: bool = True,
        empty_ok: bool = False,
    ) -> str | None:
        """obj[key] as a string of at most `limit` characters; None (with a detail) if wrong."""
        where = f"{path}.{key}" if path else key
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(where, "Must be specified")
            return None
        if not isinstance(value, str):
            self.fail(where, "Must be a string")
            return None
        if not value and not empty_ok and required:
            self.fail(where, "May not be empty")
            return None
        if limit is not None and utf16_length(value) > limit:
            self.fail(where, f"Length must be between 0 and {limit}")
            return None
        return value

    def array(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        low: int,
        high: int,
        *,
        required: bool = True,
    ) -> list[Any] | None:
        where = f"{path}.{key}" if path else key
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(where, "Must be specified")
            return None
        if not isinstance(value, list):
            self.fail(where, "Must be an array")
            return None
        if not low <= len(value) <= high:
            self.fail(where, f"Size must be between {low} and {high}")
            return None
        return value

    def obj(self, obj: dict[str, Any], key: str, path: str, *, required: bool = True) -> Any:
        where = f"{path}.{key}" if path else key
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(where, "Must be specified")
            return None
        if not isinstance(value, dict):
            self.fail(where, "Must be an object")
            return None
        return value

    def one_of(self, value: object, choices: tuple[str, ...], where: str) -> bool:
        if value is None:
            self.fail(where, "Must be specified")
            return False
        if value not in choices:
            self.fail(where, f"Must be one of the following values: [{', '.join(choices)}]")
            return False
        return True

    def integer(self, obj: dict[str, Any], key: str, path: str) -> int | None:
        value = obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(
                f"{path}.{key}", "Must be specified" if value is None else "Must be an integer"
            )
            return None
        return value

    def number(self, obj: dict[str, Any], key: str, path: str) -> float | None:
        value = obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            problem = "Must be specified" if value is None else "Must be a number"
            self.fail(f"{path}.{key}", problem)
            return None
        return float(value)

    def flag(self, obj: dict[str, Any], key: str, path: str, *, required: bool = False) -> None:
        value = obj.get(key)
        where = f"{path}.{key}" if path else key
        if value is None:
            if required:
                self.fail(where, "Must be specified")
        elif not isinstance(value, bool):
            self.fail(where, "Must be a boolean")

    def url(self, obj: dict[str, Any], key: str, path: str, *, https: bool = True) -> None:
        value = self.string(obj, key, path, limit=CONTENT_URL_LIMIT)
        if value is not None and https and not value.startswith("https://"):
            self.fail(f"{path}.{key}", "Must be an HTTPS URL")

    # --- messages ---------------------------------------------------------------------------

    def messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The `messages` of a send request (1-5 message objects), each checked."""
        messages = self.array(body, "messages", "", 1, MESSAGES_PER_REQUEST)
        if messages is None:
            return []
        for index, message in enumerate(messages):
            self.message(message, f"messages[{index}]")
        self.flag(body, "notificationDisabled", "")
        return [m for m in messages if isinstance(m, dict)]

    def message(self, message: Any, path: str) -> None:
        if not isinstance(message, dict):
            self.fail(path, "Must be an object")
            return
        kind = message.get("type")
        if not self.one_of(kind, MESSAGE_TYPES, f"{path}.type"):
            return
        if kind in ("text", "textV2"):
            self.string(message, "text", path, limit=TEXT_LIMIT)
        elif kind == "sticker":
            self.string(message, "packageId", path)
            self.string(message, "stickerId", path)
        elif kind in ("image", "video"):
            self.url(message, "originalContentUrl", path)
            self.url(message, "previewImageUrl", path)
        elif kind == "audio":
            self.url(message, "originalContentUrl", path)
            self.integer(message, "duration", path)
        elif kind == "location":
            self.string(message, "title", path, limit=100)
            self.string(message, "address", path, limit=100)
            self.number(message, "latitude", path)
            self.number(message, "longitude", path)
        elif kind == "imagemap":
            self.string(message, "baseUrl", path, limit=CONTENT_URL_LIMIT)
            self.string(message, "altText", path, limit=ALT_TEXT_LIMIT)
        elif kind == "template":
            self.string(message, "altText", path, limit=ALT_TEXT_LIMIT)
            template = self.obj(message, "template", path)
            if template is not None:
                self.template(template, f"{path}.template")
        elif kind == "flex":
            self.string(message, "altText", path, limit=ALT_TEXT_LIMIT)
            contents = self.obj(message, "contents", path)
            if contents is not None:
                self.flex(contents, f"{path}.contents")
        quick_reply = self.obj(message, "quickReply", path, required=False)
        if quick_reply is not None:
            self.quick_reply(quick_reply, f"{path}.quickReply")

    def quick_reply(self, quick_reply: dict[str, Any], path: str) -> None:
        items = self.array(quick_reply, "items", path, 1, QUICK_REPLY_ITEMS)
        for index, item in enumerate(items or []):
            where = f"{path}.items[{index}]"
            if not isinstance(item, dict):
                self.fail(where, "Must be an object")
                continue
            if item.get("type") != "action":
                self.fail(f"{where}.type", "Must be one of the following values: [action]")
            if "imageUrl" in item:
                self.url(item, "imageUrl", where)
            action = self.obj(item, "action", where)
            if action is not None:
                self.action(action, f"{where}.action", label_required=True, quick_reply=True)

    def template(self, template: dict[str, Any], path: str) -> None:
        kind = template.get("type")
        if not self.one_of(kind, TEMPLATE_TYPES, f"{path}.type"):
            return
        if kind == "buttons":
            short = "title" in template or "thumbnailImageUrl" in template
            self.string(template, "title", path, limit=40, required=False)
            self.string(template, "text", path, limit=60 if short else 160)
            self.actions(template, path, 1, 4)
        elif kind == "confirm":
            self.string(template, "text", path, limit=240)
            self.actions(template, path, 2, 2)
        elif kind == "carousel":
            columns = self.array(template, "columns", path, 1, 10)
            counts = set()
            for index, column in enumerate(columns or []):
                where = f"{path}.columns[{index}]"
                if not isinstance(column, dict):
                    self.fail(where, "Must be an object")
                    continue
                short = "title" in column or "thumbnailImageUrl" in column
                self.string(column, "title", where, limit=40, required=False)
                self.string(column, "text", where, limit=60 if short else 120)
                actions = self.actions(column, where, 1, 3)
                counts.add(len(actions))
            if len(counts) > 1:
                self.fail(f"{path}.columns", "Must have the same number of actions in every column")
        else:  # image_carousel
            columns = self.array(template, "columns", path, 1, 10)
            for index, column in enumerate(columns or []):
                where = f"{path}.columns[{index}]"
                if not isinstance(column, dict):
                    self.fail(where, "Must be an object")
                    continue
                self.url(column, "imageUrl", where)
                action = self.obj(column, "action", where)
                if action is not None:
                    self.action(action, f"{where}.action", label_required=False, label_limit=12)
        default = self.obj(template, "defaultAction", path, required=False)
        if default is not None:
            self.action(default, f"{path}.defaultAction", label_required=False)

    def actions(self, obj: dict[str, Any], path: str, low: int, high: int) -> list[Any]:
        actions = self.array(obj, "actions", path, low, high)
        for index, action in enumerate(actions or []):
            where = f"{path}.actions[{index}]"
            if isinstance(action, dict):
                self.action(action, where, label_required=True)
            else:
                self.fail(where, "Must be an object")
        return actions or []

    def flex(self, contents: dict[str, Any], path: str) -> None:
        """The container's type and every action inside it; the layout is LINE's business."""
        if not self.one_of(contents.get("type"), ("bubble", "carousel"), f"{path}.type"):
            return
        if contents["type"] == "carousel":
            self.array(contents, "contents", path, 1, 12)
        for where, action in _nested_actions(contents, path):
            self.action(action, where, label_required=False, label_limit=None)

    def action(
        self,
        action: dict[str, Any],
        path: str,
        *,
        label_required: bool,
        quick_reply: bool = False,
        label_limit: int | None = ACTION_LABEL_LIMIT,
    ) -> None:
        kind = action.get("type")
        if not self.one_of(kind, ACTION_TYPES, f"{path}.type"):
            return
        if kind in QUICK_REPLY_ONLY_ACTIONS and not quick_reply:
            self.fail(f"{path}.type", f"The {kind} action is only allowed in a quick reply")
        self.string(action, "label", path, limit=label_limit, required=label_required)
        if kind == "postback":
            self.string(action, "data", path, limit=POSTBACK_DATA_LIMIT, empty_ok=True)
            self.string(action, "displayText", path, limit=DISPLAY_TEXT_LIMIT, required=False)
        elif kind == "message":
            self.string(action, "text", path, limit=MESSAGE_ACTION_TEXT_LIMIT)
        elif kind == "uri":
            uri = self.string(action, "uri", path, limit=URI_LIMIT)
            if uri is not None and not uri.startswith(_URI_SCHEMES):
                self.fail(f"{path}.uri", "Invalid uri scheme")
        elif kind == "datetimepicker":
            self.string(action, "data", path, limit=POSTBACK_DATA_LIMIT, empty_ok=True)
            self.one_of(action.get("mode"), ("date", "time", "datetime"), f"{path}.mode")
        elif kind == "richmenuswitch":
            self.string(action, "richMenuAliasId", path, limit=32)
            self.string(action, "data", path, limit=POSTBACK_DATA_LIMIT, empty_ok=True)
        elif kind == "clipboard":
            self.string(action, "clipboardText", path, limit=1000)

    # --- rich menus -------------------------------------------------------------------------

    def rich_menu(self, body: dict[str, Any]) -> None:
        """A rich menu object (create rich menu)."""
        size = self.obj(body, "size", "")
        width = height = None
        if size is not None:
            width = self.integer(size, "width", "size")
            height = self.integer(size, "height", "size")
            if width is not None and height is not None:
                problem = rich_menu_size_problem(width, height)
                if problem:
                    self.fail("size", problem)
        self.flag(body, "selected", "", required=True)
        self.string(body, "name", "", limit=RICH_MENU_NAME_LIMIT)
        self.string(body, "chatBarText", "", limit=CHAT_BAR_TEXT_LIMIT)
        areas = self.array(body, "areas", "", 0, RICH_MENU_AREAS)
        for index, area in enumerate(areas or []):
            where = f"areas[{index}]"
            if not isinstance(area, dict):
                self.fail(where, "Must be an object")
                continue
            bounds = self.obj(area, "bounds", where)
            if bounds is not None:
                numbers = [
                    self.integer(bounds, key, f"{where}.bounds")
                    for key in ("x", "y", "width", "height")
                ]
                x, y, w, h = (n or 0 for n in numbers)
                outside = x < 0 or y < 0 or x + w > (width or 0) or y + h > (height or 0)
                if None not in numbers and width and height and outside:
                    self.fail(f"{where}.bounds", "Must be within the rich menu")
            action = self.obj(area, "action", where)
            if action is not None:
                self.action(action, f"{where}.action", label_required=False)


def rich_menu_size_problem(width: int, height: int) -> str | None:
    """Why a rich menu (or its image) of width x height is refused, or None."""
    if not RICH_MENU_MIN_WIDTH <= width <= RICH_MENU_MAX_WIDTH:
        return f"Width must be between {RICH_MENU_MIN_WIDTH} and {RICH_MENU_MAX_WIDTH}"
    if height < RICH_MENU_MIN_HEIGHT:
        return f"Height must be at least {RICH_MENU_MIN_HEIGHT}"
    if width / height < RICH_MENU_MIN_ASPECT:
        return f"Width / height must be at least {RICH_MENU_MIN_ASPECT}"
    return None


def _nested_actions(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every `action` object inside a flex container, with its property path."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if key == "action" and isinstance(item, dict):
                yield where, item
            else:
                yield from _nested_actions(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nested_actions(item, f"{path}[{index}]")


def image_format(content: bytes) -> str | None:
    """'image/png' or 'image/jpeg' from the file's first bytes, None for anything else."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return None


def image_dimensions(content: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR or a JPEG's SOF header; None if unreadable."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(content) < 24 or content[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", content[16:24])
        return int(width), int(height)
    if content.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(content):
            if content[i] != 0xFF:
                return None
            marker = content[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", content[i + 2 : i + 4])
            # Start-of-frame markers (baseline, progressive...), not DHT, JPG or DAC.
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", content[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return None


# --- reading what was sent ------------------------------------------------------------------


def message_text(message: dict[str, Any]) -> str:
    """What a member sees first: the text, or the alt text of a template or flex message."""
    kind = message.get("type")
    if kind in ("text", "textV2"):
        return str(message.get("text", ""))
    if kind in ("template", "flex", "imagemap"):
        return str(message.get("altText", ""))
    if kind == "location":
        return str(message.get("title", ""))
    return f"[{kind}]"


def message_actions(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every action a member can tap in a message: quick reply items, template and flex
    actions, in reading order."""
    found: list[dict[str, Any]] = []
    for key in ("template", "contents"):
        if key in message:
            found += [action for _, action in _nested_actions(message[key], key)]
            template = message[key]
            if key == "template" and isinstance(template, dict):
                found += _template_actions(template)
    for item in (message.get("quickReply") or {}).get("items") or []:
        if isinstance(item, dict) and isinstance(item.get("action"), dict):
            found.append(item["action"])
    return found


def _template_actions(template: dict[str, Any]) -> list[dict[str, Any]]:
    actions = [a for a in template.get("actions") or [] if isinstance(a, dict)]
    for column in template.get("columns") or []:
        if isinstance(column, dict):
            actions += [a for a in column.get("actions") or [] if isinstance(a, dict)]
    return actions
