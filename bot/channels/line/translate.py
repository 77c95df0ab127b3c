"""LINE webhook events -> the core's neutral `Incoming`, or what else an event asks for.

Events are read from the verified JSON as plain dicts rather than through line-bot-sdk's
webhook models: the SDK refuses a whole event for one field it does not know (a new message
type), where we want every event of a member at least acknowledged, and never an exception.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, replace
from typing import Any

from bot.domain.messages import Incoming, MemberRef

log = logging.getLogger(__name__)

CHANNEL = "line"

# Non-text messages the bot answers with "please write text"; any other type is "other".
_MEDIA = frozenset({"sticker", "image", "video", "audio", "file", "location"})


class Kind(enum.Enum):
    TURN = "turn"
    """Something for the core: a message, a postback, a first contact."""
    BLOCKED = "blocked"
    """unfollow: the member blocked the account; nothing can be sent to them any more."""


@dataclass(frozen=True)
class LineEvent:
    """One event the bot acts on, with what is needed to answer it."""

    kind: Kind
    member: MemberRef
    event_id: str | None
    reply_token: str | None
    incoming: Incoming | None = None
    unblocked: bool = False
    """A follow event from someone who had blocked the account: they are reachable again."""


def events_of(body: object) -> list[dict[str, Any]] | None:
    """The `events` of a webhook body; None when the body is not LINE's envelope."""
    if not isinstance(body, dict):
        return None
    events = body.get("events")
    if not isinstance(events, list):
        return None
    return [event for event in events if isinstance(event, dict)]


def translate(event: dict[str, Any]) -> LineEvent | None:
    """The event as the bot acts on it; None for what it ignores (logged by type, never with
    the member's text): standby mode, groups and rooms, unknown or malformed events."""
    kind = event.get("type")
    if not isinstance(kind, str):
        log.info("LINE event without a type ignored")
        return None
    if event.get("mode", "active") != "active":
        # Another channel (a chat operator, LINE's auto-reply) answers in standby mode.
        log.debug("LINE %s event in %s mode not answered", kind, event.get("mode"))
        return None
    source = event.get("source")
    user_id = source.get("userId") if isinstance(source, dict) else None
    if not isinstance(source, dict) or source.get("type") != "user" or not isinstance(user_id, str):
        log.info("LINE %s event not from a one-to-one chat ignored", kind)
        return None
    member = MemberRef(CHANNEL, user_id)
    event_id = _string(event.get("webhookEventId"))
    token = _string(event.get("replyToken"))

    def turn(incoming: Incoming, *, unblocked: bool = False) -> LineEvent:
        # The core handles an event id once, durably: a redelivery gets no second answer.
        incoming = replace(incoming, event_id=event_id)
        return LineEvent(Kind.TURN, member, event_id, token, incoming, unblocked=unblocked)

    if kind == "follow":
        follow = event.get("follow")
        unblocked = isinstance(follow, dict) and follow.get("isUnblocked") is True
        # A new friend is a first contact (the welcome, consent and regions, as /start on
        # Telegram); someone unblocking gets the menu, so a member who had stopped the notices
        # is not signed up again by adding the account back.
        command = "menu" if unblocked else "start"
        return turn(Incoming.from_command(member, command), unblocked=unblocked)
    if kind == "unfollow":
        return LineEvent(Kind.BLOCKED, member, event_id, None)
    if kind == "message":
        message = event.get("message")
        if not isinstance(message, dict):
            log.info("LINE message event without a message ignored")
            return None
        if message.get("type") == "text" and isinstance(message.get("text"), str):
            return turn(Incoming.from_text(member, message["text"]))
        media = message.get("type")
        return turn(Incoming.from_media(member, media if media in _MEDIA else "other"))
    if kind == "postback":
        postback = event.get("postback")
        data = postback.get("data") if isinstance(postback, dict) else None
        return turn(Incoming.from_button(member, data if isinstance(data, str) else ""))
    log.info("LINE %s event ignored", kind[:40])
    return None


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
