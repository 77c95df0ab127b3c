"""Events and occurrences in the database."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, exists, select, update
from sqlalchemy.orm import Session

from bot.domain.calendar import EventSpec, OccurrenceSpec, Venue
from bot.domain.events import CallOff, Occurrence, OccurrenceStatus
from bot.store.dialect import lock_rows
from bot.store.tables import EventRegionRow, EventRow, OccurrenceRow

events = cast(Table, EventRow.__table__)
event_regions = cast(Table, EventRegionRow.__table__)
occurrences = cast(Table, OccurrenceRow.__table__)

_OCCURRENCE_COLUMNS = (
    occurrences.c.id,
    occurrences.c.event_id,
    occurrences.c.key,
    occurrences.c.starts_at,
    occurrences.c.ends_at,
    occurrences.c.status,
    occurrences.c.venue_name,
    occurrences.c.venue_address,
    occurrences.c.venue_map_url,
    occurrences.c.note,
    occurrences.c.rsvp_deadline,
    occurrences.c.called_off_at,
    occurrences.c.called_off_reason,
    occurrences.c.called_off_by,
    events.c.slug,
    events.c.title,
    events.c.kind,
    events.c.description,
    events.c.online_url,
    events.c.bring,
    events.c.contact,
    events.c.organiser,
    events.c.capacity,
    events.c.rsvp_enabled,
    events.c.removed_at,
)


def _event_values(spec: EventSpec) -> dict[str, Any]:
    venue = spec.venue or Venue("")
    return {
        "source": spec.source,
        "title": spec.title,
        "kind": spec.kind.value,
        "description": spec.description,
        "venue_name": venue.name or None,
        "venue_address": venue.address,
        "map_url": venue.map_url,
        "latitude": venue.latitude,
        "longitude": venue.longitude,
        "online_url": spec.online_url,
        "bring": spec.bring,
        "contact": spec.contact,
        "organiser": spec.organiser,
        "capacity": spec.capacity,
        "rsvp_enabled": spec.rsvp,
        "rrule": spec.rrule,
        "reminders": dict(spec.reminders) if spec.reminders is not None else None,
    }


def _occurrence_values(event: EventSpec, spec: OccurrenceSpec) -> dict[str, Any]:
    venue = spec.venue or event.venue
    return {
        "starts_at": spec.starts_at,
        "ends_at": spec.ends_at,
        "status": (
            OccurrenceStatus.CANCELLED if spec.cancelled else OccurrenceStatus.SCHEDULED
        ).value,
        "venue_name": venue.name if venue else None,
        "venue_address": venue.address if venue else None,
        "venue_map_url": venue.map_url if venue else None,
        "note": spec.note,
        "rsvp_deadline": spec.rsvp_deadline,
    }


class SqlCalendarRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def save_event(self, spec: EventSpec, now: datetime) -> tuple[int, str]:
        values = _event_values(spec)
        row = self._session.execute(select(events).where(events.c.slug == spec.slug)).first()
        regions = set(spec.regions)
        if row is None:
            event_id = self._session.execute(
                events.insert()
                .values(slug=spec.slug, updated_at=now, removed_at=None, **values)
                .returning(events.c.id)
            ).scalar_one()
            self._write_regions(event_id, regions, set())
            return event_id, "added"
        event_id = row.id
        stored_regions = set(
            self._session.scalars(
                select(event_regions.c.region).where(event_regions.c.event_id == event_id)
            )
        )
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if row.removed_at is not None:
            changed["removed_at"] = None
        if not changed and stored_regions == regions:
            return event_id, "unchanged"
        self._session.execute(
            events.update().where(events.c.id == event_id).values(updated_at=now, **changed)
        )
        self._write_regions(event_id, regions, stored_regions)
        return event_id, "updated"

    def _write_regions(self, event_id: int, regions: set[str], stored: set[str]) -> None:
        if stored - regions:
            self._session.execute(
                event_regions.delete().where(
                    event_regions.c.event_id == event_id,
                    event_regions.c.region.in_(stored - regions),
                )
            )
        if regions - stored:
            self._session.execute(
                event_regions.insert(),
                [{"event_id": event_id, "region": r} for r in sorted(regions - stored)],
            )

    def remove_events_except(self, slugs: set[str], now: datetime) -> list[str]:
        gone = list(
            self._session.scalars(
                select(events.c.slug).where(
                    events.c.removed_at.is_(None), events.c.slug.not_in(slugs)
                )
            )
        )
        if gone:
            self._session.execute(
                events.update().where(events.c.slug.in_(gone)).values(removed_at=now)
            )
        return sorted(gone)

    def event_id(self, slug: str) -> int | None:
        return self._session.scalar(select(events.c.id).where(events.c.slug == slug))

    def occurrences_of(self, event_id: int) -> list[Occurrence]:
        return self._select(occurrences.c.event_id == event_id)

    def add_occurrence(
        self, event_id: int, event: EventSpec, spec: OccurrenceSpec, now: datetime
    ) -> int:
        return int(
            self._session.execute(
                occurrences.insert()
                .values(
                    event_id=event_id,
                    key=spec.key,
                    published_at=now,
                    updated_at=now,
                    **_occurrence_values(event, spec),
                )
                .returning(occurrences.c.id)
            ).scalar_one()
        )

    def update_occurrence(
        self, occurrence_id: int, event: EventSpec, spec: OccurrenceSpec, now: datetime
    ) -> None:
        self._session.execute(
            occurrences.update()
            .where(occurrences.c.id == occurrence_id)
            .values(updated_at=now, **_occurrence_values(event, spec))
        )

    def cancel_occurrence(self, occurrence_id: int, now: datetime) -> None:
        self._session.execute(
            occurrences.update()
            .where(occurrences.c.id == occurrence_id)
            .values(status=OccurrenceStatus.CANCELLED.value, updated_at=now)
        )

    def call_off(self, occurrence_id: int, call_off: CallOff) -> None:
        self._session.execute(
            occurrences.update()
            .where(occurrences.c.id == occurrence_id)
            .values(
                called_off_at=call_off.at,
                called_off_reason=call_off.reason,
                called_off_by=call_off.by,
                updated_at=call_off.at,
            )
        )

    def undo_call_off(self, occurrence_id: int, now: datetime) -> None:
        self._session.execute(
            occurrences.update()
            .where(occurrences.c.id == occurrence_id)
            .values(called_off_at=None, called_off_reason=None, called_off_by=None, updated_at=now)
        )

    def next_revision(self, occurrence_id: int) -> int:
        """Count one more change members are told about; returns the new revision."""
        return int(
            self._session.execute(
                update(occurrences)
                .where(occurrences.c.id == occurrence_id)
                .values(revision=occurrences.c.revision + 1)
                .returning(occurrences.c.revision)
            ).scalar_one()
        )

    def occurrence(self, occurrence_id: int, *, lock: bool = False) -> Occurrence | None:
        if lock:
            # Answers to one occurrence take turns, so two people cannot take the last seat.
            lock_rows(
                self._session,
                occurrences,
                occurrences.c.id == occurrence_id,
                touch=occurrences.c.updated_at,
            )
        found = self._select(occurrences.c.id == occurrence_id)
        return found[0] if found else None

    def upcoming(
        self, regions: set[str] | None, since: datetime, limit: int, offset: int = 0
    ) -> list[Occurrence]:
        condition = and_(occurrences.c.starts_at >= since, events.c.removed_at.is_(None))
        if regions is not None:
            condition = and_(
                condition,
                exists().where(
                    event_regions.c.event_id == events.c.id, event_regions.c.region.in_(regions)
                ),
            )
        return self._select(condition, limit=limit, offset=offset)

    def next_of(self, slug: str, since: datetime) -> Occurrence | None:
        found = self._select(
            and_(
                events.c.slug == slug,
                events.c.removed_at.is_(None),
                occurrences.c.starts_at >= since,
            ),
            limit=1,
        )
        return found[0] if found else None

    def between(self, slug: str, since: datetime, until: datetime) -> list[Occurrence]:
        """The event's occurrences starting in [since, until), in order."""
        return self._select(
            and_(
                events.c.slug == slug,
                events.c.removed_at.is_(None),
                occurrences.c.starts_at >= since,
                occurrences.c.starts_at < until,
            )
        )

    def events(self) -> list[tuple[str, str, str, bool]]:
        rows = self._session.execute(
            select(events.c.slug, events.c.title, events.c.source, events.c.removed_at).order_by(
                events.c.source, events.c.slug
            )
        )
        return [(r.slug, r.title, r.source, r.removed_at is not None) for r in rows]

    def _select(
        self, condition: Any, *, limit: int | None = None, offset: int = 0
    ) -> list[Occurrence]:
        statement = (
            select(*_OCCURRENCE_COLUMNS)
            .join(events, events.c.id == occurrences.c.event_id)
            .where(condition)
            .order_by(occurrences.c.starts_at, occurrences.c.id)
            .offset(offset)
        )
        if limit is not None:
            statement = statement.limit(limit)
        rows = self._session.execute(statement).all()
        regions: dict[int, set[str]] = defaultdict(set)
        if rows:
            for event_id, region in self._session.execute(
                select(event_regions.c.event_id, event_regions.c.region).where(
                    event_regions.c.event_id.in_({r.event_id for r in rows})
                )
            ):
                regions[event_id].add(region)
        return [
            Occurrence(
                id=r.id,
                event_id=r.event_id,
                slug=r.slug,
                key=r.key,
                title=r.title,
                kind=r.kind,
                starts_at=r.starts_at,
                ends_at=r.ends_at,
                # Called off from the chat: cancelled whatever the schedule file says.
                status=(
                    OccurrenceStatus.CANCELLED
                    if r.called_off_at is not None
                    else OccurrenceStatus(r.status)
                ),
                regions=frozenset(regions[r.event_id]),
                description=r.description,
                venue_name=r.venue_name,
                venue_address=r.venue_address,
                map_url=r.venue_map_url,
                online_url=r.online_url,
                bring=r.bring,
                contact=r.contact,
                organiser=r.organiser,
                note=r.called_off_reason if r.called_off_at is not None else r.note,
                called_off=(
                    CallOff(r.called_off_at, r.called_off_reason or "", r.called_off_by or "")
                    if r.called_off_at is not None
                    else None
                ),
                capacity=r.capacity,
                rsvp_enabled=r.rsvp_enabled,
                rsvp_deadline=r.rsvp_deadline,
                removed=r.removed_at is not None,
            )
            for r in rows
        ]
