"""参加状況: the answers to the campaign's events, as organisers see them.

The chat (bot/services/organiser.py) and the command line (`campaign-bot events list`,
`campaign-bot rsvps`) read them through these functions, so both show the same counts: going
members and their guests are counted by the store, never added up again by a caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.domain.events import Attendee, Occurrence, RsvpCounts
from bot.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class Counted:
    """An occurrence with its counts: 参加 (and guests), 未定, 不参加, キャンセル待ち."""

    occurrence: Occurrence
    counts: RsvpCounts


@dataclass(frozen=True)
class Answers(Counted):
    """The counts and who answered what, for one occurrence."""

    attendees: tuple[Attendee, ...] = ()


def counted(uow: UnitOfWork, occurrence: Occurrence) -> Counted:
    return Counted(occurrence, uow.rsvps.counts(occurrence.id))


def answers(uow: UnitOfWork, occurrence: Occurrence) -> Answers:
    return Answers(
        occurrence, uow.rsvps.counts(occurrence.id), tuple(uow.rsvps.attendees(occurrence.id))
    )


def upcoming(
    uow: UnitOfWork, since: datetime, *, limit: int, until: datetime | None = None
) -> list[Counted]:
    """Occurrences of every region from `since` (to `until`), soonest first, with counts."""
    return [
        counted(uow, occurrence)
        for occurrence in uow.calendar.upcoming(None, since, limit=limit)
        if until is None or occurrence.starts_at <= until
    ]


def find(
    uow: UnitOfWork, slug: str, *, since: datetime, on: date | None, zone: tzinfo
) -> Occurrence | None:
    """The event's next occurrence from `since`, or the one on the day `on` (past ones too)."""
    if on is None:
        return uow.calendar.next_of(slug, since)
    event_id = uow.calendar.event_id(slug)
    if event_id is None:
        return None
    return next(
        (
            o
            for o in uow.calendar.occurrences_of(event_id)
            if o.starts_at.astimezone(zone).date() == on
        ),
        None,
    )


class Attendance:
    """The same reads outside a conversation (the command line): one unit of work each."""

    def __init__(self, units: UnitOfWorkFactory, clock: Clock, zone: tzinfo) -> None:
        self._units = units
        self._clock = clock
        self.zone = zone

    def upcoming(self, *, days: int, limit: int = 1000) -> list[Counted]:
        """The next `days` days' occurrences with their counts."""
        since = self._clock.now()
        with self._units() as uow:
            return upcoming(uow, since, limit=limit, until=since + timedelta(days=days))

    def of_event(self, slug: str, on: date | None = None) -> Answers | None:
        """Counts and names for the event's next occurrence, or the one on `on`."""
        with self._units() as uow:
            occurrence = find(uow, slug, since=self._clock.now(), on=on, zone=self.zone)
            return None if occurrence is None else answers(uow, occurrence)
