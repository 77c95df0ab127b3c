"""The core's view of the outside world. Implementations live at the edges (store, channels)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from types import TracebackType
from typing import Any, Protocol, Self

from bot.domain.broadcasts import Broadcast, BroadcastStatus, Progress, Reach, Target
from bot.domain.calendar import EventSpec, OccurrenceSpec
from bot.domain.deliveries import About, Audience
from bot.domain.dialogs import Dialog
from bot.domain.events import (
    Attendee,
    CallOff,
    Occurrence,
    ReminderCounts,
    Rsvp,
    RsvpCounts,
    RsvpStatus,
)
from bot.domain.members import Member
from bot.domain.privacy import Cutoffs, Forgotten, MemberData, Purged
from bot.domain.reminders import Applied, Batch, PlanMember, PlanOccurrence, Stored


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


@dataclass(frozen=True)
class MemberStats:
    """Counts organisers see in 登録状況."""

    total: int
    subscribed: int
    pending: int
    unsubscribed: int
    unreachable: int
    subscribed_by_region: Mapping[str, int] = field(default_factory=dict)


class MemberRepository(Protocol):
    def get(self, channel: str, external_id: str) -> Member | None: ...

    def get_by_id(self, member_id: int) -> Member | None: ...

    def register(self, member: Member) -> tuple[Member, bool]:
        """Store `member` unless it exists; return the stored member and whether it is new."""
        ...

    def save(self, member: Member) -> None:
        """Write back every field of a member loaded or added in this unit of work."""
        ...

    def stats(self) -> MemberStats: ...

    def organisers(self) -> list[Member]:
        """Organisers who can be reached, on every channel."""
        ...


class AuditLog(Protocol):
    def record(
        self, actor: Member | None, action: str, detail: Mapping[str, Any], at: datetime
    ) -> None: ...


class CalendarRepository(Protocol):
    """Events and their occurrences as stored."""

    def save_event(self, spec: EventSpec, now: datetime) -> tuple[int, str]:
        """Insert or update by slug; returns the id and "added", "updated" or "unchanged"."""
        ...

    def remove_events_except(self, slugs: set[str], now: datetime) -> list[str]:
        """Mark every stored event not in `slugs` as removed; returns the newly removed."""
        ...

    def event_id(self, slug: str) -> int | None: ...

    def occurrences_of(self, event_id: int) -> list[Occurrence]:
        """Every stored occurrence of the event, past ones included."""
        ...

    def add_occurrence(
        self, event_id: int, event: EventSpec, spec: OccurrenceSpec, now: datetime
    ) -> int: ...

    def update_occurrence(
        self, occurrence_id: int, event: EventSpec, spec: OccurrenceSpec, now: datetime
    ) -> None:
        """Write the occurrence's time, venue (its own, else the event's), note and status."""
        ...

    def cancel_occurrence(self, occurrence_id: int, now: datetime) -> None: ...

    def call_off(self, occurrence_id: int, call_off: CallOff) -> None:
        """Cancel from the chat or the command line, over what the schedule file says."""
        ...

    def undo_call_off(self, occurrence_id: int, now: datetime) -> None: ...

    def next_revision(self, occurrence_id: int) -> int:
        """Count one more change members are told about; returns the new revision."""
        ...

    def occurrence(self, occurrence_id: int, *, lock: bool = False) -> Occurrence | None:
        """One occurrence; `lock` holds it against concurrent answers until commit."""
        ...

    def upcoming(
        self, regions: set[str] | None, since: datetime, limit: int, offset: int = 0
    ) -> list[Occurrence]:
        """Occurrences starting from `since` in any of `regions` (None: all), soonest first."""
        ...

    def next_of(self, slug: str, since: datetime) -> Occurrence | None: ...

    def between(self, slug: str, since: datetime, until: datetime) -> list[Occurrence]:
        """The event's occurrences starting in [since, until), in order."""
        ...

    def events(self) -> list[tuple[str, str, str, bool]]:
        """(slug, title, source, removed) of every stored event."""
        ...


class RsvpRepository(Protocol):
    def get(self, occurrence_id: int, member_id: int) -> Rsvp | None: ...

    def save(self, rsvp: Rsvp) -> None:
        """Insert or update the member's answer to the occurrence."""
        ...

    def counts(self, occurrence_id: int) -> RsvpCounts: ...

    def of_member(self, member_id: int, occurrence_ids: list[int]) -> dict[int, Rsvp]: ...

    def waitlist(self, occurrence_id: int) -> list[Rsvp]:
        """Waiting answers, first come first."""
        ...

    def attendees(self, occurrence_id: int) -> list[Attendee]: ...

    def answers_to_come(self, slug: str, since: datetime) -> int:
        """Going, maybe and waiting answers to the event's occurrences from `since` on."""
        ...

    def reminder_counts(self, occurrence_id: int) -> ReminderCounts:
        """Reminders sent for the occurrence, to how many members, and how many of those
        answered "no" after their first one (one query, whatever the number of members)."""
        ...


class Outbox(Protocol):
    """Messages the bot sends on its own initiative, written in the same transaction.

    A payload says what to render when the delivery is sent (see `bot.services.deliveries`),
    so the words follow the member's language of that moment and nothing goes out stale.
    """

    def enqueue(
        self,
        purpose: str,
        reference: str,
        member: Member,
        payload: Mapping[str, Any],
        due_at: datetime,
        *,
        about: About = ...,
        now: datetime | None = None,
    ) -> bool:
        """Queue once per (purpose, reference, member); False if it was already queued.

        `now` is when it was decided (defaults to `due_at`, for messages sent at once).
        """
        ...

    def enqueue_audience(
        self,
        purpose: str,
        reference: str,
        audience: Audience,
        payload: Mapping[str, Any],
        due_at: datetime,
        *,
        about: About = ...,
        now: datetime | None = None,
    ) -> int:
        """Queue for every member of `audience` who may get it, in a constant number of
        statements whatever its size; returns how many were queued."""
        ...


@dataclass(frozen=True)
class LoggedQuestion:
    """A question as the quality loop sees it: no member id, on purpose."""

    text: str
    normalised: str
    outcome: str
    entry_id: str | None
    score: float | None
    language: str
    asked_at: datetime


@dataclass(frozen=True)
class Relay:
    id: int
    member_id: int
    question: str
    asked_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None
    answered_by: int | None = None


class QuestionLog(Protocol):
    def record(self, question: LoggedQuestion) -> None: ...

    def since(self, moment: datetime, outcomes: set[str]) -> list[LoggedQuestion]: ...


class RelayRepository(Protocol):
    def open(self, member: Member, question: str, at: datetime) -> Relay: ...

    def get(self, relay_id: int) -> Relay | None: ...

    def answer(self, relay_id: int, organiser: Member, text: str, at: datetime) -> None: ...


class MessageQuota(Protocol):
    """A channel's monthly allowance of messages the bot sends on its own (LINE's quota:
    pushes and multicasts count, replies do not)."""

    @property
    def channel(self) -> str:
        """The channel whose members' messages count against it ("line")."""
        ...

    def remaining(self) -> int | None:
        """Messages that may still be sent this month; None when there is no limit, or when
        it cannot be known now (the channel did not answer)."""
        ...


@dataclass(frozen=True)
class NoQuota:
    """No channel counts messages: the preview shows no quota and refuses nothing."""

    channel: str = ""

    def remaining(self) -> int | None:
        return None


class MemberLimits(Protocol):
    """Per-member allowances (relays, questions), stored so they hold across restarts and
    across processes."""

    def take(
        self, member_id: int, kind: str, now: datetime, count: int, per: timedelta
    ) -> datetime | None:
        """Use one of `count` per `per`; None if allowed, else when the next one is."""
        ...


class ReminderStore(Protocol):
    """What reminder planning reads from the database, and how its plan is written."""

    def occurrences(self, now: datetime, everywhere: Collection[str]) -> list[PlanOccurrence]: ...

    def members(self) -> list[PlanMember]: ...

    def answers(self, occurrence_ids: Collection[int]) -> dict[tuple[int, int], RsvpStatus]: ...

    def stored(self, occurrence_ids: Collection[int], now: datetime) -> list[Stored]: ...

    def other_pushes(
        self, since: datetime, until: datetime, zone: tzinfo
    ) -> Counter[tuple[int, Any]]: ...

    def labels(self, member_ids: Collection[int]) -> dict[int, str]: ...

    def lock(self) -> None:
        """One planner at a time, until the transaction ends (taken before reading)."""
        ...

    def apply(
        self,
        planned: list[Batch],
        stored: list[Stored],
        reasons: Mapping[tuple[int, str], str],
        now: datetime,
    ) -> Applied: ...


@dataclass(frozen=True)
class OrganiserEntry:
    """An organiser added in the database (the config's are listed in the config)."""

    channel: str
    external_id: str
    note: str
    added_by: str
    added_at: datetime


class Organisers(Protocol):
    def listed(self) -> list[OrganiserEntry]: ...

    def contains(self, channel: str, external_id: str) -> bool: ...

    def add(self, entry: OrganiserEntry) -> bool:
        """False if they were already listed."""
        ...

    def remove(self, channel: str, external_id: str) -> bool:
        """False if they were not listed."""
        ...

    def sync_roles(self, configured: Mapping[str, Collection[str]]) -> list[int]:
        """Set every stored member's role from `configured` (channel -> ids) and this list;
        close the dialogs of those who lost it. Returns the ids whose role changed."""
        ...


class Dialogs(Protocol):
    def get(self, member_id: int) -> Dialog | None: ...

    def save(self, member_id: int, dialog: Dialog | None) -> None:
        """Store `dialog` as the member's only open one (None: close it)."""
        ...

    def forget_expired(self, now: datetime) -> int: ...


@dataclass(frozen=True)
class NewBroadcast:
    author: Member | None
    """None: from the command line."""
    author_label: str
    target: Target
    text: str
    parts: list[str]
    urgent: bool
    send_at: datetime
    created_at: datetime
    occurrence_id: int | None = None


class Broadcasts(Protocol):
    def reach(self, target: Target) -> Reach:
        """Who the target comes to now, and who is left out (stopped, unreachable)."""
        ...

    def create(self, new: NewBroadcast) -> Broadcast:
        """Store the broadcast and queue every part for every recipient, in a constant number
        of statements (one per part), in the caller's transaction."""
        ...

    def get(self, broadcast_id: int) -> Broadcast | None: ...

    def recent(self, limit: int) -> list[Broadcast]: ...

    def open(self) -> list[Broadcast]:
        """Scheduled and sending ones, oldest first."""
        ...

    def progress(self, broadcast: Broadcast) -> Progress: ...

    def set_status(self, broadcast_id: int, status: BroadcastStatus, now: datetime) -> bool:
        """Move an open broadcast to `status`; False if it was no longer open."""
        ...

    def skip_waiting(self, broadcast_id: int, reason: str) -> int:
        """Skip its rows still queued; returns how many members will not get it."""
        ...

    def progress_message(self, broadcast_id: int, member_id: int) -> str | None:
        """The platform id of the first progress message sent to `member_id`, to edit."""
        ...

    def progress_in_flight(self, broadcast_id: int, member_id: int, row_id: int) -> bool:
        """Whether an earlier progress message to `member_id` is still queued or being sent
        (its id is not known yet, so a later one could not edit it)."""
        ...

    def skip_reminders_of(self, occurrence_id: int, reason: str) -> int:
        """Skip the queued reminders of an occurrence (called off); returns how many."""
        ...


class Turns(Protocol):
    """A member's turn across every process that serves the channel: one at a time, each
    platform event once."""

    def lock_member(self, channel: str, external_id: str) -> None:
        """Wait until no other turn of this member is in hand; held until the unit of work
        ends. Taken first, so turns are handled in the order they take it."""
        ...

    def first_delivery(self, channel: str, event_id: str, at: datetime) -> bool:
        """Record the platform's event; False when it was recorded before (a redelivery)."""
        ...

    def forget_events(self, before: datetime) -> int:
        """Forget events recorded before `before` (platforms redeliver for a day or so)."""
        ...


class PrivacyStore(Protocol):
    """登録情報 and 登録削除: everything stored about a member, read back or deleted."""

    def export(self, member_id: int) -> MemberData:
        """Every row that refers to the member, table by table (members first)."""
        ...

    def forget(self, member_id: int, now: datetime) -> Forgotten:
        """Delete or anonymise everything that identifies the member (answers to past
        events stay as anonymous numbers); the caller's transaction commits it."""
        ...

    def purge(self, cutoffs: Cutoffs, *, dry_run: bool = False) -> Purged:
        """Delete (or only count) records older than the retention allows."""
        ...

    def find(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        """Members whose name contains `text`, or whose number or channel id is `text`."""
        ...


class UnitOfWork(Protocol):
    """One transaction: everything done inside is committed together or not at all."""

    @property
    def members(self) -> MemberRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def calendar(self) -> CalendarRepository: ...

    @property
    def rsvps(self) -> RsvpRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def questions(self) -> QuestionLog: ...

    @property
    def relays(self) -> RelayRepository: ...

    @property
    def limits(self) -> MemberLimits: ...

    @property
    def reminders(self) -> ReminderStore: ...

    @property
    def organisers(self) -> Organisers: ...

    @property
    def dialogs(self) -> Dialogs: ...

    @property
    def broadcasts(self) -> Broadcasts: ...

    @property
    def privacy(self) -> PrivacyStore: ...

    @property
    def turns(self) -> Turns: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
