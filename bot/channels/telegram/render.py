"""The core's `Outgoing` -> Telegram messages: HTML-escaped text, inline and reply keyboards.

Every reply is first adapted to `CAPABILITIES` (bot/domain/capabilities.py): Telegram shows up
to 100 buttons and 4096 characters, so in practice only very long texts are split.
"""

from __future__ import annotations

import html
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.domain.capabilities import TELEGRAM, Capabilities, adapt, split_text
from bot.domain.messages import Button, Link, Outgoing

log = logging.getLogger(__name__)

CAPABILITIES = TELEGRAM

Rows = tuple[tuple[Button, ...], ...]
Pace = Callable[[int], Awaitable[None]]
Flood = Callable[[float], Awaitable[bool]]


def inline_keyboard(rows: Rows, links: tuple[Link, ...] = ()) -> InlineKeyboardMarkup:
    """The message's choices, then its links as link buttons (one a row: they open a page)."""
    return InlineKeyboardMarkup(
        [
            *(
                [InlineKeyboardButton(b.label, callback_data=b.action.encode()) for b in row]
                for row in rows
            ),
            *([InlineKeyboardButton(link.label, url=link.url)] for link in links),
        ]
    )


def menu_keyboard(rows: Rows) -> ReplyKeyboardMarkup:
    """The main menu as big buttons under the input field; pressing one sends its label."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(b.label) for b in row] for row in rows],
        resize_keyboard=True,
        is_persistent=True,
    )


class ShownMenus:
    """Which main menu each chat already shows, so replies need not send it again.

    Telegram keeps a reply keyboard until another one replaces it; sending it with every
    reply costs bandwidth and time. Memory is bounded, and entries expire so that a keyboard
    lost on the member's side (history cleared) comes back within `ttl` seconds.
    """

    def __init__(
        self,
        *,
        ttl: float = 1800.0,
        capacity: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._shown: OrderedDict[int | str, tuple[tuple[str, ...], float]] = OrderedDict()

    @staticmethod
    def _signature(rows: Rows) -> tuple[str, ...]:
        return tuple(b.label for row in rows for b in row)

    def shows(self, chat_id: int | str, rows: Rows) -> bool:
        entry = self._shown.get(chat_id)
        if entry is None:
            return False
        signature, at = entry
        return signature == self._signature(rows) and self._clock() - at < self._ttl

    def remember(self, chat_id: int | str, rows: Rows) -> None:
        self._shown[chat_id] = (self._signature(rows), self._clock())
        self._shown.move_to_end(chat_id)
        while len(self._shown) > self._capacity:
            self._shown.popitem(last=False)


def chunks(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split text that Telegram would refuse as too long, at line breaks where possible."""
    return split_text(text, limit)


async def deliver(
    bot: Bot,
    chat_id: int | str,
    replies: list[Outgoing],
    menus: ShownMenus,
    *,
    pressed_message_id: int | None = None,
    capabilities: Capabilities = CAPABILITIES,
    pace: Pace | None = None,
    flood: Flood | None = None,
    committed: bool = False,
) -> list[int]:
    """Send the replies, adapted to `capabilities`, in order; a `replace` reply edits the
    message whose button was pressed (or, if it can no longer be edited, comes as a new one).

    `pace(n)` is awaited before `n` messages go (the channel's rate budget); None when the
    caller has paced already. `flood(seconds)` is awaited when Telegram answers 429: it waits
    `seconds` out and returns True to send the part again, or False to give up (then
    `NotDelivered`). `committed`: the replies tell of a change already stored, so a part Telegram
    refuses (400) is skipped and logged, and the others still go; the caller is told of a
    partial delivery, never of a failure. Returns the ids of the messages sent or edited.
    """
    ids: list[int] = []
    editable = pressed_message_id
    parts = [part for message in replies for part in adapt(message, capabilities)]
    refused: list[str] = []
    for index, reply in enumerate(parts):
        done: list[int] = []  # the part's messages already sent, kept when a 429 is waited out
        while True:
            try:
                if (
                    reply.replace
                    and editable is not None
                    and not (reply.menu and not reply.buttons)
                ):
                    if pace is not None:
                        await pace(1)
                    edited = await _edit(bot, chat_id, editable, reply)
                    editable = None
                    if edited is not None:
                        ids.append(edited)
                        break
                if pace is not None:
                    await pace(len(chunks(reply.text)) + len(reply.attachments) - len(done))
                await _send(bot, chat_id, reply, menus, done)
                ids.extend(done)
                break
            except RetryAfter as exc:
                if flood is not None and await flood(_seconds(exc.retry_after)):
                    continue  # the same part again, now that Telegram's wait is over
                raise NotDelivered(parts[index:]) from exc
            except BadRequest as exc:  # before NetworkError: BadRequest is one in PTB
                if not committed:
                    raise
                ids.extend(done)
                refused.append(exc.message)
                break
            except NetworkError as exc:
                raise NotDelivered(parts[index:]) from exc
    if refused:
        log.warning(
            "reply to chat %s delivered in part: %d of %d parts refused by Telegram: %s",
            chat_id,
            len(refused),
            len(parts),
            "; ".join(refused),
        )
    return ids


def _seconds(retry_after: int | timedelta) -> float:
    # PTB gives a timedelta with PTB_TIMEDELTA=1 (set by cli.py), an int otherwise.
    if isinstance(retry_after, timedelta):
        return retry_after.total_seconds()
    return float(retry_after)


class NotDelivered(Exception):
    """Telegram asked us to wait, or could not be reached: `unsent` are the replies (from the
    one that failed on) still to send. The first of them may have arrived in part."""

    def __init__(self, unsent: list[Outgoing]) -> None:
        super().__init__(f"{len(unsent)} replies not delivered")
        self.unsent = unsent


async def _edit(bot: Bot, chat_id: int | str, message_id: int, reply: Outgoing) -> int | None:
    """Edit the message in place; None when it can no longer be edited (too old, deleted, not
    text), so that the caller sends the reply as a new message instead."""
    try:
        await bot.edit_message_text(
            html.escape(chunks(reply.text)[0], quote=False),
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=(
                inline_keyboard(reply.buttons, reply.links)
                if reply.buttons or reply.links
                else None
            ),
        )
    except BadRequest as exc:
        # Pressing the same toggle twice quickly gives an identical message: nothing to do.
        if "not modified" not in exc.message:
            log.info("message %s not edited (%s): sent anew", message_id, exc)
            return None
    return message_id


async def _send(
    bot: Bot, chat_id: int | str, reply: Outgoing, menus: ShownMenus, done: list[int]
) -> None:
    """Send the reply's messages (its text's chunks, then its files) but the first `len(done)`,
    which went already; each id is appended to `done` as soon as it is sent."""
    parts = chunks(reply.text)
    for index, part in enumerate(parts):
        if index < len(done):
            continue
        last = index == len(parts) - 1
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None
        if last and (reply.buttons or reply.links):
            markup = inline_keyboard(reply.buttons, reply.links)
        elif last and reply.menu and not menus.shows(chat_id, reply.menu):
            markup = menu_keyboard(reply.menu)
        sent = await bot.send_message(
            chat_id,
            html.escape(part, quote=False),
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=None,
        )
        done.append(sent.message_id)
        if isinstance(markup, ReplyKeyboardMarkup):
            menus.remember(chat_id, reply.menu)
    for index, attachment in enumerate(reply.attachments, start=len(parts)):
        if index < len(done):
            continue
        document = await bot.send_document(
            chat_id, InputFile(attachment.content, filename=attachment.filename)
        )
        done.append(document.message_id)
