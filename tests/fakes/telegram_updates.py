"""Real-shaped Telegram updates, built from the JSON examples in tests/fixtures/telegram/.

Each fixture is an update as the Bot API delivers it. The builders load one and substitute the
parts a test controls (ids, date, chat, sender, text...), keeping everything else exactly as
Telegram shapes it. They are plain functions, usable without the fake server (for example to
feed `telegram.Update.de_json` directly).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "telegram"

# Update fields that carry a Message.
MESSAGE_KINDS = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_message",
        "edited_business_message",
    }
)


@functools.cache
def _fixture_text(name: str) -> str:
    path = FIXTURES_DIR / f"{name}.json"
    if not path.is_file():
        known = ", ".join(fixture_names())
        raise FileNotFoundError(f"no Telegram fixture {name!r} in {FIXTURES_DIR}; known: {known}")
    return path.read_text(encoding="utf-8")


def fixture_names() -> list[str]:
    """Names of the available fixtures (file names without .json)."""
    return sorted(path.stem for path in FIXTURES_DIR.glob("*.json"))


def load_fixture(name: str) -> dict[str, Any]:
    """A fresh copy of fixture `name` (without .json), safe to modify."""
    data: dict[str, Any] = json.loads(_fixture_text(name))
    return data


def update_kind(update: dict[str, Any]) -> str:
    """The update's type: its one field besides update_id ("message", "callback_query"...)."""
    for key in update:
        if key != "update_id":
            return key
    raise ValueError(f"update without content: {update!r}")


def user_json(
    user_id: int,
    first_name: str,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
    *,
    is_bot: bool = False,
) -> dict[str, Any]:
    """A Bot API User object, optional fields omitted when None, in Telegram's key order."""
    user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name is not None:
        user["last_name"] = last_name
    if username is not None:
        user["username"] = username
    if language_code is not None:
        user["language_code"] = language_code
    return user


def private_chat_json(user: dict[str, Any]) -> dict[str, Any]:
    """The private Chat object of a conversation with `user`."""
    chat: dict[str, Any] = {"id": user["id"], "first_name": user["first_name"]}
    for key in ("last_name", "username"):
        if key in user:
            chat[key] = user[key]
    chat["type"] = "private"
    return chat


def group_chat_json(
    chat_id: int, title: str, chat_type: str, username: str | None = None
) -> dict[str, Any]:
    """A group, supergroup or channel Chat object."""
    chat: dict[str, Any] = {"id": chat_id, "title": title}
    if username is not None:
        chat["username"] = username
    chat["type"] = chat_type
    return chat


def message_update(
    fixture: str,
    *,
    message_id: int,
    date: int,
    chat: dict[str, Any],
    sender: dict[str, Any] | None,
    **fields: Any,
) -> dict[str, Any]:
    """An update carrying a message, from `fixture`; update_id is 0 until queued.

    `sender` None removes `from`. Each keyword replaces that message field; a None value
    removes it (e.g. `caption=None`).
    """
    update = load_fixture(fixture)
    kind = update_kind(update)
    if kind not in MESSAGE_KINDS:
        raise ValueError(f"fixture {fixture!r} is a {kind} update, not a message")
    message = update[kind]
    message["message_id"] = message_id
    message["date"] = date
    message["chat"] = copy.deepcopy(chat)
    if sender is None:
        message.pop("from", None)
    else:
        message["from"] = copy.deepcopy(sender)
    for key, value in fields.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    update["update_id"] = 0
    return update


def my_chat_member_update(
    fixture: str,
    *,
    chat: dict[str, Any],
    actor: dict[str, Any],
    bot: dict[str, Any],
    date: int,
    new_status: str | None = None,
) -> dict[str, Any]:
    """A my_chat_member update (the bot's own membership changed) from `fixture`."""
    update = load_fixture(fixture)
    change = update["my_chat_member"]
    change["chat"] = copy.deepcopy(chat)
    change["from"] = copy.deepcopy(actor)
    change["date"] = date
    change["old_chat_member"]["user"] = copy.deepcopy(bot)
    change["new_chat_member"]["user"] = copy.deepcopy(bot)
    if new_status is not None:
        change["new_chat_member"]["status"] = new_status
        if new_status != "kicked":
            change["new_chat_member"].pop("until_date", None)
    update["update_id"] = 0
    return update


def callback_query_update(
    *,
    query_id: str,
    sender: dict[str, Any],
    message: dict[str, Any],
    chat_instance: str,
    data: str,
) -> dict[str, Any]:
    """A callback_query update for a button under `message` (the bot's message as it is now)."""
    update = load_fixture("callback_query")
    query = update["callback_query"]
    query["id"] = query_id
    query["from"] = copy.deepcopy(sender)
    query["message"] = copy.deepcopy(message)
    query["chat_instance"] = chat_instance
    query["data"] = data
    update["update_id"] = 0
    return update


def inaccessible_message(chat: dict[str, Any], message_id: int) -> dict[str, Any]:
    """What Telegram puts in a callback query whose message the bot can no longer access."""
    return {"chat": copy.deepcopy(chat), "message_id": message_id, "date": 0}
