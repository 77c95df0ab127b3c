"""Bring the stored calendar in line with the schedule files, without losing any answer.

Occurrences are matched by their key, so editing a time or a place keeps every RSVP. A change
of time or place, a cancellation or its withdrawal, of an occurrence still to come queues one
notice for each member who answered 参加 or 未定 (or waits for a seat), in the same transaction
and in one statement however many they are; the words are written when it is sent.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.calendar import Calendar, EventSpec, OccurrenceSpec
from bot.domain.deliveries import EVENT_CHANGE, About, Audience
from bot.domain.events import Occurrence, RsvpStatus, SyncReport
from bot.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from bot.services.event_cards import snapshot
from bot.services.rsvp import promote_waiting

log = logging.getLogger(__name__)

# Answers of people who may turn up: they hear about changes.
EXPECTED = frozenset({RsvpStatus.GOING, RsvpStatus.MAYBE, RsvpStatus.WAITLIST})
HORIZON = timedelta(days=90)

Expand = Callable[[EventSpec, datetime, datetime], list[OccurrenceSpec]]


def fingerprint(occurrence: Occurrence) -> str:
    """What members were told about: time, place and whether it happens."""
    parts = (
        occurrence.starts_at.isoformat(),
        occurrence.ends_at.isoformat() if occurrence.ends_at else "",
        occurrence.venue_name or "",
        occurrence.venue_address or "",
        occurrence.status.value,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


class CalendarSync:
    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        clock: Clock,
        expand: Expand,
        *,
        horizon: timedelta = HORIZON,
    ) -> None:
        self._units_of_work = units_of_work
        self._clock = clock
        self._expand = expand
        self._horizon = horizon

    def sync(self, calendar: Calendar) -> SyncReport:
        now = self._clock.now()
        added, updated = [], []
        totals = {"added": 0, "changed": 0, "cancelled": 0, "notices": 0}
        with self._units_of_work() as uow:
            for spec in calendar.events:
                event_id, state = uow.calendar.save_event(spec, now)
                if state == "added":
                    added.append(spec.slug)
                elif state == "updated":
                    updated.append(spec.slug)
                self._sync_occurrences(uow, event_id, spec, now, totals)
            removed = uow.calendar.remove_events_except({e.slug for e in calendar.events}, now)
            with_answers = [slug for slug in removed if self._has_answers(uow, slug, now)]
            uow.commit()
        report = SyncReport(
            events_added=tuple(added),
            events_updated=tuple(updated),
            events_removed=tuple(removed),
            occurrences_added=totals["added"],
            occurrences_changed=totals["changed"],
            occurrences_cancelled=totals["cancelled"],
            notices_queued=totals["notices"],
            removed_with_answers=tuple(with_answers),
        )
        if with_answers:
            log.warning(
                "events removed from the schedules still had answers, and nobody was told: %s; "
                "write `cancelled: true` instead of deleting to tell them",
                ", ".join(with_answers),
            )
        return report

    def _sync_occurrences(
        self,
        uow: UnitOfWork,
        event_id: int,
        spec: EventSpec,
        now: datetime,
        totals: dict[str, int],
    ) -> None:
        # From a day back: a change may move today's occurrence past `now` without it being over.
        expected = {
            o.key: o for o in self._expand(spec, now - timedelta(days=1), now + self._horizon)
        }
        stored = {o.key: o for o in uow.calendar.occurrences_of(event_id)}
        for key, wanted in expected.items():
            before = stored.get(key)
            if before is None:
                uow.calendar.add_occurrence(event_id, spec, wanted, now)
                totals["added"] += 1
                continue
            if before.starts_at < now and wanted.starts_at < now:
                continue  # history is not rewritten
            uow.calendar.update_occurrence(before.id, spec, wanted, now)
            after = uow.calendar.occurrence(before.id)
            assert after is not None
            if fingerprint(after) != fingerprint(before):
                totals["changed"] += 1
                totals["cancelled"] += after.cancelled and not before.cancelled
                totals["notices"] += self._notify(uow, before, after, now)
            if after.capacity != before.capacity or fingerprint(after) != fingerprint(before):
                promote_waiting(uow, after, now)
        for key, before in stored.items():
            if key in expected or before.cancelled or before.starts_at < now:
                continue
            # The rule no longer gives this date (an `except` was added, or the series ends).
            uow.calendar.cancel_occurrence(before.id, now)
            after = uow.calendar.occurrence(before.id)
            assert after is not None
            totals["changed"] += 1
            totals["cancelled"] += 1
            totals["notices"] += self._notify(uow, before, after, now)

    def _notify(self, uow: UnitOfWork, before: Occurrence, after: Occurrence, now: datetime) -> int:
        """Queue one notice of this change for everyone expected, in one statement.

        The reference names the change (the occurrence's revision), not the state it leads to:
        cancelled, restored and cancelled again are three notices, each told once.
        """
        revision = uow.calendar.next_revision(after.id)
        return uow.outbox.enqueue_audience(
            EVENT_CHANGE,
            f"occurrence:{after.id}:rev:{revision}",
            Audience(occurrence_id=after.id, rsvp_statuses=EXPECTED),
            {"kind": EVENT_CHANGE, "before": snapshot(before), "after": snapshot(after)},
            now,
            about=About(occurrence_id=after.id, expect_rsvp=EXPECTED),
        )

    @staticmethod
    def _has_answers(uow: UnitOfWork, slug: str, now: datetime) -> bool:
        return uow.rsvps.answers_to_come(slug, now) > 0
