"""Events as members see them, and their answers (参加 / 未定 / 不参加)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

MAX_GUESTS = 4


class OccurrenceStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class RsvpStatus(enum.StrEnum):
    GOING = "going"  # 参加
    MAYBE = "maybe"  # 未定
    NO = "no"  # 不参加
    WAITLIST = "waitlist"  # キャンセル待ち (wanted to go, the event was full)


@dataclass(frozen=True)
class CallOff:
    """An occurrence called off from the chat or the command line (中止連絡), whatever its
    schedule file says: when, why (told to members), and by whom (for the record)."""

    at: datetime
    reason: str
    by: str


@dataclass(frozen=True)
class Occurrence:
    """One dated event as stored: the event's details with this date's changes applied."""

    id: int
    event_id: int
    slug: str
    key: str
    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    status: OccurrenceStatus
    regions: frozenset[str] = frozenset()
    description: str = ""
    venue_name: str | None = None
    venue_address: str | None = None
    map_url: str | None = None
    online_url: str | None = None
    bring: str | None = None
    contact: str | None = None
    organiser: str | None = None
    note: str | None = None
    capacity: int | None = None
    rsvp_enabled: bool = True
    rsvp_deadline: datetime | None = None
    removed: bool = False
    """The event was deleted from the schedule files: hidden from everyone, answers refused."""
    called_off: CallOff | None = None

    @property
    def cancelled(self) -> bool:
        return self.status is OccurrenceStatus.CANCELLED

    def answers_close_at(self) -> datetime:
        """Answers can change until the deadline, or until the event starts."""
        if self.rsvp_deadline is not None and self.rsvp_deadline < self.starts_at:
            return self.rsvp_deadline
        return self.starts_at


@dataclass
class Rsvp:
    occurrence_id: int
    member_id: int
    status: RsvpStatus
    guests: int
    created_at: datetime
    updated_at: datetime
    waitlisted_at: datetime | None = None
    id: int | None = None

    @property
    def people(self) -> int:
        """Seats this answer takes: the member and their guests, when going."""
        return 1 + self.guests if self.status is RsvpStatus.GOING else 0


@dataclass(frozen=True)
class RsvpCounts:
    going: int = 0
    guests: int = 0
    maybe: int = 0
    no: int = 0
    waitlist: int = 0

    @property
    def people(self) -> int:
        """Everyone expected: members going and the guests they bring."""
        return self.going + self.guests


@dataclass(frozen=True)
class ReminderCounts:
    """Reminders that went out for one occurrence, and what the members reminded did next."""

    sent: int = 0
    """Reminder messages sent (a member may get the day-before one and the same-day one)."""
    members: int = 0
    """Members who got at least one."""
    declined: int = 0
    """Of those, members whose answer is now "no", given after their first reminder."""


@dataclass(frozen=True)
class Attendee:
    """A line of an organiser's list: who answered what."""

    member_id: int
    display_name: str | None
    channel: str
    status: RsvpStatus
    guests: int
    updated_at: datetime
    waitlisted_at: datetime | None = None
    unreachable: bool = False
    """They blocked the bot or left the platform: nothing the bot sends reaches them."""


@dataclass(frozen=True)
class SyncReport:
    """What one calendar sync changed, for the log and for organisers."""

    events_added: tuple[str, ...] = ()
    events_updated: tuple[str, ...] = ()
    events_removed: tuple[str, ...] = ()
    occurrences_added: int = 0
    occurrences_changed: int = 0
    occurrences_cancelled: int = 0
    notices_queued: int = 0
    removed_with_answers: tuple[str, ...] = field(default=())

    @property
    def changed_anything(self) -> bool:
        return bool(
            self.events_added
            or self.events_updated
            or self.events_removed
            or self.occurrences_added
            or self.occurrences_changed
            or self.occurrences_cancelled
        )
