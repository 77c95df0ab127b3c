"""What the outbox holds, as the core sees it: lanes, audiences, and what a delivery is about.

A delivery stores what it is *about* (an event occurrence, a relay, a broadcast) and the facts
it must still be true to be sent (the member's answer to the event); its words are rendered
when it is sent, in the member's language of that moment.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.events import RsvpStatus
from bot.domain.messages import Outgoing


class Lane(enum.IntEnum):
    """Priority of a delivery: a lower number is always served first."""

    INTERACTIVE = 0
    """Direct answers to a member that could not be sent at once."""
    TRANSACTIONAL = 1
    """Relays, change notices, waiting-list promotions, confirmations."""
    REMINDERS = 2
    BULK = 3
    """Broadcasts and digests."""


# Purposes. The reference of each names the change or occasion, never the resulting state.
REPLY = "reply"
EVENT_CHANGE = "event_change"
WAITLIST_PROMOTED = "waitlist_promoted"
RELAY_QUESTION = "relay_question"
RELAY_ANSWER = "relay_answer"
REMINDER = "reminder"
BROADCAST = "broadcast"
# To the organiser who sent a broadcast: 「送信中 1,200 / 3,400」, edited as it goes.
BROADCAST_PROGRESS = "broadcast_progress"
BROADCAST_REPORT = "broadcast_report"
"""To the organiser who sent a broadcast: the final counts."""
ORGANISER_ALERT = "organiser_alert"
"""Something organisers must fix (a schedules folder that vanished); referenced by incident."""

LANES: Mapping[str, Lane] = {
    REPLY: Lane.INTERACTIVE,
    EVENT_CHANGE: Lane.TRANSACTIONAL,
    WAITLIST_PROMOTED: Lane.TRANSACTIONAL,
    RELAY_QUESTION: Lane.TRANSACTIONAL,
    RELAY_ANSWER: Lane.TRANSACTIONAL,
    ORGANISER_ALERT: Lane.TRANSACTIONAL,
    BROADCAST_PROGRESS: Lane.TRANSACTIONAL,
    BROADCAST_REPORT: Lane.TRANSACTIONAL,
    REMINDER: Lane.REMINDERS,
    BROADCAST: Lane.BULK,
}

TRANSACTIONAL_PURPOSES = frozenset(
    purpose for purpose, lane in LANES.items() if lane <= Lane.TRANSACTIONAL
)
"""About something the member did or asked for: sent even after they unsubscribed."""


def lane_of(purpose: str) -> Lane:
    """The lane of a purpose; unknown purposes are bulk, the lane that can wait."""
    return LANES.get(purpose, Lane.BULK)


def needs_subscription(purpose: str) -> bool:
    """Reminders, broadcasts and anything else not transactional need the member's consent."""
    return purpose not in TRANSACTIONAL_PURPOSES


@dataclass(frozen=True)
class Audience:
    """Who a fan-out reaches; the conditions given are all required (AND), empty ones ignored.

    `occurrence_id` with `rsvp_statuses`: the members whose answer to that occurrence is one of
    them. `regions`/`tags`: members with at least one of them. `everyone`: no condition.
    """

    everyone: bool = False
    regions: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    occurrence_id: int | None = None
    rsvp_statuses: frozenset[RsvpStatus] = frozenset()
    channels: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if (self.occurrence_id is None) != (not self.rsvp_statuses):
            raise ValueError("an occurrence audience needs both the occurrence and the answers")
        if not (self.everyone or self.regions or self.tags or self.occurrence_id is not None):
            raise ValueError("an audience must say whom it reaches (everyone: True for all)")


@dataclass(frozen=True)
class About:
    """What a delivery is about, checked again when it is sent."""

    occurrence_id: int | None = None
    relay_id: int | None = None
    broadcast_id: int | None = None
    expect_rsvp: frozenset[RsvpStatus] = frozenset()
    """Send only while the member's answer to the occurrence is one of these (empty: any)."""


NOTHING = About()
"""About nothing in particular: nothing to check again at send time."""


@dataclass(frozen=True)
class Pending:
    """A claimed delivery as the renderer sees it: whom it is for and what it is about."""

    id: int
    purpose: str
    reference: str
    member_id: int
    language: str
    role: str
    payload: Mapping[str, Any]
    about: About = NOTHING
    due_at: datetime | None = None


@dataclass(frozen=True)
class Skip:
    """Rendering found the delivery stale: it is recorded as skipped with this reason."""

    reason: str


@dataclass(frozen=True)
class Later:
    """Rendering found the delivery may not go yet (quiet hours): it is put back untried,
    due at `until`, without counting an attempt."""

    until: datetime
    reason: str


SKIP_EVENT_GONE = "event gone"
SKIP_EVENT_CANCELLED = "event cancelled"
SKIP_EVENT_RESTORED = "event restored"
SKIP_PROGRESS_OVER = "broadcast over"
SKIP_EVENT_STARTED = "event started"
SKIP_RSVP_CHANGED = "rsvp changed"
SKIP_NOT_ORGANISER = "not an organiser"
SKIP_MEMBER_GONE = "member gone"
SKIP_UNKNOWN_KIND = "unknown kind"
SKIP_QUIET_HOURS = "quiet hours until the start"


MESSAGE = "message"
"""The payload kind of a message fixed when it was queued (a reply that could not be sent)."""


def message_payload(message: Outgoing) -> dict[str, Any]:
    """The payload of a delivery whose words are fixed now rather than rendered at send time."""
    return {"kind": MESSAGE, "message": message.to_payload()}


def fixed_message(payload: Mapping[str, Any]) -> Outgoing | None:
    """The message of a fixed payload (rows queued before payloads had kinds are fixed too)."""
    if payload.get("kind") == MESSAGE:
        return Outgoing.from_payload(payload["message"])
    if "kind" not in payload and "text" in payload:
        return Outgoing.from_payload(dict(payload))
    return None
