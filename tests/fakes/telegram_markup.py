"""Reply markup as the Bot API validates it: inline and reply keyboards, removal, force reply.

Descriptions match Telegram's. Two rules are stricter than the real server, on purpose: a button
must carry exactly one action field (Telegram silently picks one), and the 8-buttons-per-row
limit from the docs is enforced with REPLY_MARKUP_TOO_LONG, the error Telegram gives for
keyboards that are too big overall.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.telegram_errors import (
    BUTTON_DATA_INVALID,
    BUTTON_URL_INVALID,
    REPLY_MARKUP_TOO_LONG,
    ApiError,
    bad_request,
)
from tests.fakes.telegram_text import checked_link

MAX_BUTTONS = 100
MAX_BUTTONS_PER_ROW = 8
MAX_CALLBACK_DATA_BYTES = 64

CANT_PARSE_MARKUP = "can't parse reply keyboard markup JSON object"
INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_BUTTON_PREFIX = "can't parse inline keyboard button: "


def parse_reply_markup(value: Any) -> dict[str, Any] | None:
    """Validate a reply_markup parameter (JSON text or object); return it normalised.

    None or "" means no markup. Raises ApiError(400) the way Telegram would.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_request(CANT_PARSE_MARKUP) from None
    if not isinstance(value, dict):
        raise bad_request(CANT_PARSE_MARKUP)
    if "inline_keyboard" in value:
        return {"inline_keyboard": _inline_keyboard(value["inline_keyboard"])}
    if "keyboard" in value:
        return _reply_keyboard(value)
    if "remove_keyboard" in value:
        if value["remove_keyboard"] is not True:
            raise bad_request('field "remove_keyboard" of the ReplyKeyboardRemove must be true')
        return _with_flags({"remove_keyboard": True}, value, ("selective",))
    if "force_reply" in value:
        if value["force_reply"] is not True:
            raise bad_request('field "force_reply" of the ForceReply must be true')
        markup = _with_flags({"force_reply": True}, value, ("selective",))
        return _placeholder(markup, value)
    raise bad_request(CANT_PARSE_MARKUP)


def _inline_keyboard(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    total = sum(len(row) for row in rows)
    if total > MAX_BUTTONS or any(len(row) > MAX_BUTTONS_PER_ROW for row in rows):
        raise ApiError(400, REPLY_MARKUP_TOO_LONG)
    return [[_inline_button(button) for button in row] for row in rows if row]


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise bad_request(_BUTTON_PREFIX + "InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise bad_request(_BUTTON_PREFIX + 'Field "text" must be of type String')
    if not text.strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [name for name in INLINE_ACTIONS if name in button]
    if not actions:
        raise bad_request(_BUTTON_PREFIX + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(
            _BUTTON_PREFIX
            + "exactly one of the optional fields must be used, got "
            + ", ".join(actions)
        )
    action = actions[0]
    if action == "callback_data":
        data = button["callback_data"]
        if not isinstance(data, str):
            raise bad_request(_BUTTON_PREFIX + 'Field "callback_data" must be of type String')
        if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
            raise ApiError(400, BUTTON_DATA_INVALID)
    elif action == "url":
        url = button["url"]
        if not isinstance(url, str) or not checked_link(url):
            raise ApiError(400, BUTTON_URL_INVALID)
    return dict(button)


def _reply_keyboard(value: dict[str, Any]) -> dict[str, Any]:
    rows = value["keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
    normalised: list[list[dict[str, Any]]] = []
    for row in rows:
        buttons: list[dict[str, Any]] = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    "can't parse keyboard button: KeyboardButton must be a String or an Object"
                )
            buttons.append(dict(button))
        if buttons:
            normalised.append(buttons)
    if not normalised:
        raise bad_request("keyboard must be non-empty")
    markup = _with_flags(
        {"keyboard": normalised},
        value,
        ("is_persistent", "resize_keyboard", "one_time_keyboard", "selective"),
    )
    return _placeholder(markup, value)


def _with_flags(
    markup: dict[str, Any], value: dict[str, Any], names: tuple[str, ...]
) -> dict[str, Any]:
    for name in names:
        if name in value:
            if not isinstance(value[name], bool):
                raise bad_request(f'field "{name}" must be of type Boolean')
            markup[name] = value[name]
    return markup


def _placeholder(markup: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    placeholder = value.get("input_field_placeholder")
    if placeholder is not None:
        if not isinstance(placeholder, str) or len(placeholder) > 64:
            raise bad_request("input field placeholder is too long")
        markup["input_field_placeholder"] = placeholder
    return markup


def inline_buttons(markup: dict[str, Any] | None) -> list[list[tuple[str, str | None]]]:
    """Rows of (label, callback_data or URL) of an inline keyboard; [] for anything else."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [
        [(button["text"], button_target(button)) for button in row]
        for row in markup["inline_keyboard"]
    ]


def button_target(button: dict[str, Any]) -> str | None:
    """What pressing the button does: its callback_data, else the URL it opens, else None."""
    if "callback_data" in button:
        return str(button["callback_data"])
    if "url" in button:
        return str(button["url"])
    for name in ("login_url", "web_app"):
        nested = button.get(name)
        if isinstance(nested, dict) and "url" in nested:
            return str(nested["url"])
    return None


def reply_keyboard_labels(markup: dict[str, Any] | None) -> list[list[str]] | None:
    """Rows of labels of a reply keyboard, None if the markup is not one."""
    if not markup or "keyboard" not in markup:
        return None
    return [[button["text"] for button in row] for row in markup["keyboard"]]
