"""Telegram updates -> the core's neutral `Incoming`. Returns None for what the bot ignores."""

from __future__ import annotations

from dataclasses import replace

from telegram import Chat, Message, Update

from bot.domain.messages import Incoming, MemberRef

CHANNEL = "telegram"

# The kinds of non-text messages we answer with "please write text", in the order checked.
_MEDIA = (
    "sticker",
    "photo",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)


def member_ref(update: Update) -> MemberRef | None:
    """The member behind a private-chat update; None for groups, channels and anonymous senders."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None or chat.type != Chat.PRIVATE or user.is_bot:
        return None
    return MemberRef(CHANNEL, str(chat.id), display_name=user.full_name[:200] or None)


def from_message(update: Update) -> Incoming | None:
    """A new private message: text, a command, or something we cannot read."""
    message = update.message
    ref = member_ref(update)
    if message is None or ref is None:
        return None
    if message.text is not None:
        return _event(update, Incoming.from_text(ref, message.text))
    return _event(update, Incoming.from_media(ref, media_kind(message)))


def from_button(update: Update) -> Incoming | None:
    query = update.callback_query
    ref = member_ref(update)
    if query is None or ref is None:
        return None
    return _event(update, Incoming.from_button(ref, query.data or ""))


def _event(update: Update, incoming: Incoming) -> Incoming:
    """Telegram's update_id names the event: an update delivered again (a webhook answer
    lost, another process behind the load balancer) is not handled twice."""
    return replace(incoming, event_id=str(update.update_id))


def media_kind(message: Message) -> str:
    return next((kind for kind in _MEDIA if getattr(message, kind, None)), "other")
