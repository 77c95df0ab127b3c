"""The campaign calendar as read from `schedules/`: events and their dated occurrences.

Pure data: the YAML loader builds `EventSpec`s, recurrence expansion turns them into
`OccurrenceSpec`s, and the sync service stores those. All datetimes are timezone-aware.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any


class EventKind(enum.StrEnum):
    RALLY = "rally"  # 集会
    STREET = "street"  # 街頭宣伝
    STUDY = "study"  # 学習会
    MEETING = "meeting"  # 会議・総会
    ONLINE = "online"  # オンライン
    OTHER = "other"


@dataclass(frozen=True)
class Venue:
    name: str
    address: str | None = None
    map_url: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class OccurrenceChange:
    """What a schedule file says about one dated occurrence of a recurring event."""

    on: date
    cancelled: bool = False
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    venue: Venue | None = None
    note: str | None = None


@dataclass(frozen=True)
class EventSpec:
    """One event of a schedule file, recurring (`rrule`) or not.

    `starts_at`/`ends_at` are the first (or only) occurrence; a recurring event repeats that
    time of day on every date of the rule. `rsvp_deadline_before` is how long before each
    occurrence answers close (None: until it starts); `rsvp_deadline` is a fixed moment.
    `cancelled` and `note` apply to every occurrence (a one-off event called off for rain);
    `changes` to single dates of a recurring one.
    """

    slug: str
    source: str
    title: str
    kind: EventKind
    starts_at: datetime
    ends_at: datetime | None = None
    regions: frozenset[str] = frozenset()
    description: str = ""
    venue: Venue | None = None
    online_url: str | None = None
    bring: str | None = None
    capacity: int | None = None
    rsvp: bool = True
    rsvp_deadline: datetime | None = None
    rsvp_deadline_before: timedelta | None = None
    contact: str | None = None
    organiser: str | None = None
    cancelled: bool = False
    note: str | None = None
    rrule: str | None = None
    until: datetime | None = None
    exdates: frozenset[date] = frozenset()
    changes: tuple[OccurrenceChange, ...] = field(default=())
    reminders: Mapping[str, Any] | None = None
    """The file's own reminder rules for this event, encoded as `reminders.encode_overrides`
    does (None: the defaults for its kind)."""

    @property
    def recurring(self) -> bool:
        return self.rrule is not None


@dataclass(frozen=True)
class OccurrenceSpec:
    """One dated instance of an event, with per-occurrence changes applied.

    `key` identifies the occurrence across edits: "once" for a one-off event, and the
    original date ("2024-11-14") for a recurring one, so moving its time keeps RSVPs.
    """

    event_slug: str
    key: str
    starts_at: datetime
    ends_at: datetime | None
    cancelled: bool = False
    venue: Venue | None = None
    note: str | None = None
    rsvp_deadline: datetime | None = None


@dataclass(frozen=True)
class Calendar:
    """Every event of every schedule file, and the files it was read from."""

    events: tuple[EventSpec, ...]
    files: tuple[str, ...] = ()

    def event(self, slug: str) -> EventSpec | None:
        return next((e for e in self.events if e.slug == slug), None)
