"""Planning reminders into the outbox: at start-up, after calendar and RSVP changes, and on a
timer. Everything planned is in the database at once; nothing waits in memory."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.campaign import Campaign
from bot.domain.events import RsvpStatus
from bot.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from bot.domain.reminders import (
    Applied,
    Batch,
    PlanMember,
    PlanOccurrence,
    PolicyBook,
    Reminder,
    Stored,
    outbox_state,
    plan_batches,
    reminders_of,
    skip_reason,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preview:
    """A reminder that planning would put in the outbox, with what an organiser needs to
    read it."""

    reminder: Reminder
    member_label: str
    title: str


class ReminderPlanner:
    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        campaign: Campaign,
        book: PolicyBook,
        clock: Clock,
        *,
        plan_ahead: timedelta = timedelta(days=2),
    ) -> None:
        self._units_of_work = units_of_work
        self._everywhere = {r.code for r in campaign.regions if r.for_everyone}
        self._book = book
        self._clock = clock
        self._plan_ahead = plan_ahead

    def plan_now(self) -> Applied:
        """Bring the outbox's reminders up to date, in one transaction."""
        now = self._clock.now()
        with self._units_of_work() as uow:
            applied = self._plan(uow, now)
            uow.commit()
        if applied.changed:
            log.info(
                "reminders planned: %d new, %d moved, %d wanted again, skipped %s",
                applied.queued,
                applied.moved,
                applied.revived,
                dict(applied.skipped or {}),
            )
        return applied

    def preview(self, days: int) -> list[Preview]:
        """What planning `days` ahead would have in the outbox (nothing is written)."""
        now = self._clock.now()
        with self._units_of_work() as uow:
            batches, _, _ = self._wanted(uow, now, timedelta(days=days))
            planned = reminders_of(batches)
            titles = {o.id: o.title for o in uow.reminders.occurrences(now, self._everywhere)}
            labels = uow.reminders.labels({r.member_id for r in planned})
        return [
            Preview(
                r,
                labels.get(r.member_id, str(r.member_id)),
                titles.get(r.occurrence_id or -1, r.slug),
            )
            for r in sorted(planned, key=lambda r: (r.due_at, r.member_id, r.reference))
        ]

    def _wanted(
        self, uow: UnitOfWork, now: datetime, ahead: timedelta
    ) -> tuple[list[Batch], list[Stored], Mapping[tuple[int, str], str]]:
        store = uow.reminders
        occurrences = store.occurrences(now, self._everywhere)
        ids = [o.id for o in occurrences]
        members = store.members()
        answers = store.answers(ids)
        stored = store.stored(ids, now)
        day = timedelta(days=1)
        other = store.other_pushes(now - day, now + ahead + 2 * day, self._book.zone)
        outbox = outbox_state(stored, other)
        planned = plan_batches(
            occurrences, members, answers, outbox, self._book, now, until=now + ahead
        )
        reasons = _SkipReasons(stored, occurrences, answers, members, self._book)
        return planned, stored, reasons

    def _plan(self, uow: UnitOfWork, now: datetime) -> Applied:
        uow.reminders.lock()
        planned, stored, reasons = self._wanted(uow, now, self._plan_ahead)
        return uow.reminders.apply(planned, stored, reasons, now)


class _SkipReasons(Mapping[tuple[int, str], str]):
    """(member, reference) of each queued reminder -> why it is skipped should planning leave
    it out: worked out when asked, for the few left out, not for the tens of thousands kept."""

    def __init__(
        self,
        stored: list[Stored],
        occurrences: list[PlanOccurrence],
        answers: Mapping[tuple[int, int], RsvpStatus],
        members: list[PlanMember],
        book: PolicyBook,
    ) -> None:
        self._stored = stored
        self._occurrences = {o.id: o for o in occurrences}
        self._answers = answers
        self._members = members
        self._book = book
        self._channels: dict[int, str | None] | None = None
        self._queued: dict[tuple[int, str], Stored] | None = None

    @property
    def _channel_of(self) -> dict[int, str | None]:
        """Member -> channel, of the members who may get reminders (subscribed, reachable)."""
        if self._channels is None:
            self._channels = {m.id: m.channel for m in self._members}
        return self._channels

    @property
    def _rows(self) -> dict[tuple[int, str], Stored]:
        if self._queued is None:
            self._queued = {
                (member_id, group.reference): group
                for group in self._stored
                if group.state == "queued"
                for member_id in group.member_ids
            }
        return self._queued

    def __getitem__(self, key: tuple[int, str]) -> str:
        row = self._rows[key]
        occurrence = self._occurrences.get(row.occurrence_id or -1)
        channels = self._channel_of
        left_out = self._book.left_out(channels.get(key[0]))
        return skip_reason(key, row, occurrence, self._answers, channels, left_out)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)
