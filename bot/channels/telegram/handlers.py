"""Telegram callbacks: translate the update, ask the core once, render what it returns."""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Any

from telegram import ChatMember, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.inbound import Inbound
from bot.channels.telegram import render, translate
from bot.delivery.pacing import REPLY, Pacer
from bot.domain.messages import Incoming

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
PTBApplication = Application[Any, Any, Any, Any, Any, Any]

# A 429 Telegram sends despite our pacing is waited out within the member's turn when it is
# this short (seconds), up to this much in all; longer, the outbox's first lane takes over.
WAIT_IN_TURN = 5.0
WAIT_IN_TURN_TOTAL = 10.0

# Only what the handlers below use; Telegram does not send the rest.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]


class TelegramHandlers:
    def __init__(self, inbound: Inbound, pacer: Pacer | None = None) -> None:
        """`pacer`: the channel's rate budget, shared with the outbox (replies go first)."""
        self._inbound = inbound
        self._pacer = pacer
        self._menus = render.ShownMenus()

    async def on_message(self, update: Update, context: Context) -> None:
        """A private message: text, a command (known or not) or a picture."""
        incoming = translate.from_message(update)
        if incoming is None or update.effective_chat is None:
            return
        replies = await self._inbound.handle(incoming)
        chat_id = update.effective_chat.id
        try:
            await render.deliver(
                context.bot,
                chat_id,
                replies,
                self._menus,
                pace=self._pace(chat_id),
                flood=self._flood(chat_id),
                committed=True,
            )
        except render.NotDelivered as exc:
            await self._defer(incoming, exc)

    async def on_button(self, update: Update, context: Context) -> None:
        """An inline button: answer the query at once (stops the spinner), then reply."""
        query = update.callback_query
        incoming = translate.from_button(update)
        if query is None:
            return
        try:
            await query.answer()
        except BadRequest:
            log.info("callback query %s expired before we answered it", query.id)
        if incoming is None or update.effective_chat is None:
            return
        replies = await self._inbound.handle(incoming)
        pressed = query.message.message_id if query.message else None
        chat_id = update.effective_chat.id
        try:
            await render.deliver(
                context.bot,
                chat_id,
                replies,
                self._menus,
                pressed_message_id=pressed,
                pace=self._pace(chat_id),
                flood=self._flood(chat_id),
                committed=True,
            )
        except render.NotDelivered as exc:
            await self._defer(incoming, exc)

    async def on_membership(self, update: Update, context: Context) -> None:
        """The member blocked the bot (kicked) or unblocked it (member again)."""
        change = update.my_chat_member
        ref = translate.member_ref(update)
        if change is None or ref is None:
            return
        status = change.new_chat_member.status
        if status in (ChatMember.BANNED, ChatMember.LEFT):
            await self._inbound.unreachable(ref, "Forbidden: bot was blocked by the user")
        elif status == ChatMember.MEMBER:
            await self._inbound.reachable(ref)

    async def on_error(self, update: object, context: Context) -> None:
        """Log the failure with its context; tell the member politely, without a traceback."""
        error = context.error
        ref = translate.member_ref(update) if isinstance(update, Update) else None
        if isinstance(error, Forbidden) and ref is not None:
            await self._inbound.unreachable(ref, error.message)
            return
        log.error(
            "failed to handle update %s from %s",
            update.update_id if isinstance(update, Update) else update,
            ref,
            exc_info=error,
        )
        if ref is None or not isinstance(update, Update) or update.effective_chat is None:
            return
        try:
            apology = await self._inbound.apology(ref)
            await context.bot.send_message(
                update.effective_chat.id, html.escape(apology.text, quote=False), parse_mode="HTML"
            )
        except Exception:
            log.warning("could not send the apology to %s", ref, exc_info=True)

    async def _defer(self, incoming: Incoming, failure: render.NotDelivered) -> None:
        """Replies Telegram would not take now go out through the outbox's first lane."""
        log.warning(
            "%d replies to %s deferred to the outbox: %r",
            len(failure.unsent),
            incoming.member,
            failure.__cause__,
        )
        await self._inbound.defer(incoming.member, failure.unsent)

    def _pace(self, chat_id: int) -> render.Pace | None:
        pacer = self._pacer
        if pacer is None:
            return None

        async def pace(count: int) -> None:
            await pacer.acquire(str(chat_id), count, priority=REPLY)

        return pace

    def _flood(self, chat_id: int) -> render.Flood:
        """Telegram answered 429: hold the chat's budget (replies and pushes alike) and wait,
        when the wait is short; else leave the rest to the outbox."""
        pacer = self._pacer
        waited = 0.0

        async def flood(seconds: float) -> bool:
            nonlocal waited
            if pacer is not None:
                pacer.hold(seconds, str(chat_id))
            if seconds > WAIT_IN_TURN or waited + seconds > WAIT_IN_TURN_TOTAL:
                return False
            waited += seconds
            if pacer is None:  # else the next `pace` waits the hold out
                await asyncio.sleep(seconds)
            return True

        return flood


def register(application: PTBApplication, handlers: TelegramHandlers) -> None:
    """Every handler, in the order python-telegram-bot tries them (first match wins)."""
    private = filters.ChatType.PRIVATE
    new_message = filters.UpdateType.MESSAGE
    # 1. Blocking and unblocking the bot, so nothing more is sent to someone who blocked it.
    application.add_handler(
        ChatMemberHandler(handlers.on_membership, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    # 2. Inline buttons under our messages (choices, region toggles, settings).
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    # 3. New private messages of any kind: text and commands go to the core, which parses
    #    commands itself so every channel understands the same ones; pictures get a polite note.
    #    Edited messages, channel posts and group chatter match nothing and are ignored.
    application.add_handler(MessageHandler(private & new_message, handlers.on_message))
    # Errors anywhere above: logged with context, the member gets an apology.
    application.add_error_handler(handlers.on_error)
