"""Queued deliveries become messages when they are sent, not when they were queued.

Rendering at send time uses the member's language of that moment and the event as it is now,
and checks that the delivery still makes sense: a change notice to someone who has since said
they will not come, or a promotion for an event that was cancelled meanwhile, is skipped with
a reason instead of going out stale.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.domain import deliveries as d
from bot.domain.broadcasts import BroadcastStatus, split_for_sending
from bot.domain.deliveries import Later, Pending, Skip
from bot.domain.events import Occurrence, OccurrenceStatus, Rsvp, RsvpStatus
from bot.domain.members import Role
from bot.domain.messages import Action, Button, Outgoing
from bot.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from bot.domain.reminders import SKIP_ANSWERED, QuietHours, ReminderKind
from bot.services import broadcasts, event_cards
from bot.services.screens import Screens
from bot.texts import Texts

log = logging.getLogger(__name__)

Rendered = Outgoing | Skip | Later


def _as_told(current: Occurrence, told: Mapping[str, Any]) -> Occurrence:
    ends_at = told.get("ends_at")
    return dataclasses.replace(
        current,
        starts_at=datetime.fromisoformat(told["starts_at"]),
        ends_at=datetime.fromisoformat(ends_at) if ends_at else None,
        venue_name=told.get("venue_name"),
        venue_address=told.get("venue_address"),
        status=OccurrenceStatus(told["status"]),
        title=told.get("title") or current.title,
        note=told.get("note"),
    )


class DeliveryContent:
    """The dispatcher's renderer: one unit of work per batch of claimed deliveries."""

    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        screens: Screens,
        clock: Clock,
        *,
        quiet: QuietHours | None = None,
    ) -> None:
        """`quiet`: reminders claimed inside these hours wait for their end (or are skipped
        if the event starts first)."""
        self._units_of_work = units_of_work
        self._screens = screens
        self._clock = clock
        self._quiet = quiet

    def render(self, batch: Sequence[Pending]) -> dict[int, Rendered]:
        now = self._clock.now()
        rendered: dict[int, Rendered] = {}
        with self._units_of_work() as uow:
            for pending in batch:
                try:
                    rendered[pending.id] = self._render(uow, pending, now)
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("delivery %s cannot be rendered: %r", pending.id, exc)
                    rendered[pending.id] = Skip(f"unrenderable: {type(exc).__name__}")
        return rendered

    def _render(self, uow: UnitOfWork, pending: Pending, now: datetime) -> Rendered:
        fixed = d.fixed_message(pending.payload)
        if fixed is not None:
            return fixed
        kind = pending.payload.get("kind")
        if kind == d.EVENT_CHANGE:
            return self._event_change(uow, pending, now)
        if kind == d.WAITLIST_PROMOTED:
            return self._promoted(uow, pending, now)
        if kind == d.RELAY_QUESTION:
            return self._relay_question(pending)
        if kind == d.RELAY_ANSWER:
            return self._relay_answer(pending)
        if kind == d.REMINDER:
            return self._reminder(uow, pending, now)
        if kind == d.BROADCAST:
            return self._broadcast(uow, pending, now)
        if kind in (d.BROADCAST_PROGRESS, d.BROADCAST_REPORT):
            return self._broadcast_report(uow, pending, kind)
        return Skip(d.SKIP_UNKNOWN_KIND)

    # --- events ---------------------------------------------------------------------------

    def _occurrence(self, uow: UnitOfWork, pending: Pending, now: datetime) -> Occurrence | Skip:
        """The occurrence as it is now, if the delivery about it may still go out."""
        occurrence_id = pending.about.occurrence_id
        occurrence = uow.calendar.occurrence(occurrence_id) if occurrence_id else None
        if occurrence is None:
            return Skip(d.SKIP_EVENT_GONE)
        if occurrence.starts_at <= now:
            return Skip(d.SKIP_EVENT_STARTED)
        expected = pending.about.expect_rsvp
        if expected:
            rsvp = uow.rsvps.get(occurrence.id, pending.member_id)
            if rsvp is None or rsvp.status not in expected:
                return Skip(d.SKIP_RSVP_CHANGED)
        return occurrence

    def _event_change(self, uow: UnitOfWork, pending: Pending, now: datetime) -> Rendered:
        current = self._occurrence(uow, pending, now)
        if isinstance(current, Skip):
            return current
        before = _as_told(current, pending.payload["before"])
        after = _as_told(current, pending.payload["after"])
        if current.cancelled and not after.cancelled:
            # Cancelled since: the cancellation's own notice tells what matters now.
            return Skip(d.SKIP_EVENT_CANCELLED)
        if after.cancelled and not current.cancelled:
            # Restored since (a rain call taken back): its own notice says it is on.
            return Skip(d.SKIP_EVENT_RESTORED)
        texts = self._screens.catalogues[pending.language]
        zone = self._screens.campaign.timezone
        if after.cancelled:
            lines = [
                texts(
                    "notice.cancelled",
                    title=after.title,
                    when=event_cards.when(texts, before, zone),
                )
            ]
            if after.note:
                lines.append(texts("notice.reason", note=after.note))
            return Outgoing("\n".join(lines))
        if before.cancelled:
            lines = [texts("notice.restored", title=after.title)]
        else:
            lines = [texts("notice.changed", title=after.title)]
        if (before.starts_at, before.ends_at) != (after.starts_at, after.ends_at):
            lines.append(
                texts(
                    "notice.time",
                    before=event_cards.when(texts, before, zone),
                    after=event_cards.when(texts, after, zone),
                )
            )
        if (before.venue_name, before.venue_address) != (after.venue_name, after.venue_address):
            lines.append(
                texts(
                    "notice.venue",
                    before=before.venue_name or texts("notice.no_venue"),
                    after=after.venue_name or texts("notice.no_venue"),
                )
            )
        card = event_cards.card(
            texts,
            current,
            zone,
            rsvp=uow.rsvps.get(current.id, pending.member_id),
            counts=uow.rsvps.counts(current.id),
            now=now,
            organiser=False,
        )
        return Outgoing(
            "\n".join(lines) + "\n\n" + card.text, buttons=card.buttons, links=card.links
        )

    def _promoted(self, uow: UnitOfWork, pending: Pending, now: datetime) -> Rendered:
        current = self._occurrence(uow, pending, now)
        if isinstance(current, Skip):
            return current
        if current.cancelled:
            return Skip(d.SKIP_EVENT_CANCELLED)
        texts = self._screens.catalogues[pending.language]
        zone = self._screens.campaign.timezone
        return Outgoing(
            texts(
                "rsvp.promoted",
                title=current.title,
                when=event_cards.when(texts, current, zone),
            )
        )

    # --- reminders ------------------------------------------------------------------------

    def _reminder(self, uow: UnitOfWork, pending: Pending, now: datetime) -> Rendered:
        kind = ReminderKind(pending.payload["reminder"])
        if kind is ReminderKind.DIGEST:
            return self._digest(uow, pending, now)
        current = self._occurrence(uow, pending, now)
        if isinstance(current, Skip):
            return current
        if current.cancelled:
            return Skip(d.SKIP_EVENT_CANCELLED)
        rsvp = uow.rsvps.get(current.id, pending.member_id)
        if pending.payload.get("unanswered") and rsvp is not None:
            return Skip(SKIP_ANSWERED)
        later = self._after_quiet(now, current.starts_at)
        if later is not None:
            return later
        texts = self._screens.catalogues[pending.language]
        if kind is ReminderKind.INVITATION or kind is ReminderKind.NUDGE:
            return self._asking(uow, texts, kind, current, rsvp, now)
        return self._coming(texts, kind, current, rsvp, now)

    def _asking(
        self,
        uow: UnitOfWork,
        texts: Texts,
        kind: ReminderKind,
        occurrence: Occurrence,
        rsvp: Rsvp | None,
        now: datetime,
    ) -> Outgoing:
        """An invitation or a nudge: the whole event card with its answer buttons."""
        zone = self._screens.campaign.timezone
        card = event_cards.card(
            texts,
            occurrence,
            zone,
            rsvp=rsvp,
            counts=uow.rsvps.counts(occurrence.id),
            now=now,
            organiser=False,
        )
        days = (occurrence.starts_at.astimezone(zone).date() - now.astimezone(zone).date()).days
        heading = texts(f"reminder.{kind.value}", title=occurrence.title, days=max(1, days))
        return Outgoing(heading + "\n\n" + card.text, buttons=card.buttons, links=card.links)

    def _coming(
        self,
        texts: Texts,
        kind: ReminderKind,
        occurrence: Occurrence,
        rsvp: Rsvp | None,
        now: datetime,
    ) -> Outgoing:
        """The day before or on the day: when, where, what to bring, and 行けなくなった."""
        zone = self._screens.campaign.timezone
        starts = occurrence.starts_at.astimezone(zone)
        lines = [
            texts(f"reminder.{kind.value}", title=occurrence.title, time=f"{starts:%H:%M}"),
            event_cards.when(texts, occurrence, zone),
        ]
        venue = event_cards.venue_line(texts, occurrence)
        if venue:
            lines.append(venue)
        if occurrence.bring:
            lines.append(texts("events.bring", bring=occurrence.bring))
        if not event_cards.answers_open(occurrence, now):
            return Outgoing("\n".join(lines))
        row = [event_cards.answer_button(texts("reminder.cannot_button"), occurrence, "no")]
        if rsvp is None or rsvp.status is not RsvpStatus.GOING:
            row.insert(
                0, event_cards.answer_button(texts("reminder.coming_button"), occurrence, "going")
            )
        return Outgoing("\n".join(lines), buttons=(tuple(row),))

    def _digest(self, uow: UnitOfWork, pending: Pending, now: datetime) -> Rendered:
        zone = self._screens.campaign.timezone
        year, month = (int(part) for part in str(pending.payload["month"]).split("-"))
        first = datetime.combine(date(year, month, 1), time(0), tzinfo=zone)
        following = datetime.combine(
            (first + timedelta(days=32)).date().replace(day=1), time(0), tzinfo=zone
        )
        dates = [
            o
            for o in uow.calendar.between(str(pending.payload["slug"]), max(now, first), following)
            if not o.cancelled
        ]
        if not dates:
            return Skip(d.SKIP_EVENT_GONE)
        later = self._after_quiet(now, dates[0].starts_at)
        if later is not None:
            return later
        texts = self._screens.catalogues[pending.language]
        lines = [texts("reminder.digest", title=dates[0].title, month=month)]
        lines.extend(
            texts("reminder.digest_line", when=event_cards.when(texts, o, zone)) for o in dates
        )
        venue = event_cards.venue_line(texts, dates[0])
        if venue:
            lines.append(venue)
        buttons = tuple(
            (
                event_cards.answer_button(
                    texts("reminder.digest_button", day=texts.format_date(o.starts_at, zone)),
                    o,
                    "going",
                ),
            )
            for o in dates
            if event_cards.answers_open(o, now)
        )
        return Outgoing("\n".join(lines), buttons=buttons)

    def _after_quiet(self, now: datetime, starts_at: datetime) -> Later | Skip | None:
        """A reminder claimed in quiet hours waits for their end, if that is before the start."""
        if self._quiet is None:
            return None
        zone = self._screens.campaign.timezone
        if not self._quiet.contains(now.astimezone(zone).time()):
            return None
        until = self._quiet.after(now, zone)
        if until >= starts_at:
            return Skip(d.SKIP_QUIET_HOURS)
        return Later(until, "quiet hours")

    # --- broadcasts -----------------------------------------------------------------------

    def _broadcast(self, uow: UnitOfWork, pending: Pending, now: datetime) -> Rendered:
        broadcast_id = pending.about.broadcast_id
        broadcast = uow.broadcasts.get(broadcast_id) if broadcast_id is not None else None
        if broadcast is None:
            return Skip(d.SKIP_UNKNOWN_KIND)
        if broadcast.status is BroadcastStatus.CANCELLED:
            return Skip(broadcasts.SKIP_BROADCAST_CANCELLED)
        if not broadcast.urgent and self._quiet is not None:
            zone = self._screens.campaign.timezone
            if self._quiet.contains(now.astimezone(zone).time()):
                return Later(self._quiet.after(now, zone), "quiet hours")
        texts = self._screens.catalogues[pending.language]
        parts = split_for_sending(broadcast.text)
        index = int(pending.payload["part"])
        card = None
        if broadcast.occurrence_id is not None and index == len(parts) - 1:
            occurrence = uow.calendar.occurrence(broadcast.occurrence_id)
            if occurrence is not None and not occurrence.removed:
                card = event_cards.card(
                    texts,
                    occurrence,
                    self._screens.campaign.timezone,
                    rsvp=uow.rsvps.get(occurrence.id, pending.member_id),
                    counts=uow.rsvps.counts(occurrence.id),
                    now=now,
                    organiser=False,
                )
        return broadcasts.part_message(texts, parts, index, urgent=broadcast.urgent, card=card)

    def _broadcast_report(self, uow: UnitOfWork, pending: Pending, kind: str) -> Rendered:
        """The organiser's view of a broadcast: counted now, so a late message is not stale;
        the progress edits the first progress message where the channel can."""
        broadcast_id = pending.about.broadcast_id
        broadcast = uow.broadcasts.get(broadcast_id) if broadcast_id is not None else None
        if broadcast is None:
            return Skip(d.SKIP_UNKNOWN_KIND)
        texts = self._screens.catalogues[pending.language]
        progress = uow.broadcasts.progress(broadcast)
        if kind == d.BROADCAST_REPORT:
            return Outgoing(broadcasts.report_text(texts, broadcast, progress))
        if progress.finished or broadcast.status is not BroadcastStatus.SENDING:
            return Skip(d.SKIP_PROGRESS_OVER)
        if uow.broadcasts.progress_in_flight(broadcast.id, pending.member_id, pending.id):
            # The earlier count is on its way; a new message now would be a second one,
            # and the next tick's count edits the first.
            return Skip(d.SKIP_PROGRESS_OVER)
        return Outgoing(
            broadcasts.progress_text(texts, broadcast, progress),
            edit_of=uow.broadcasts.progress_message(broadcast.id, pending.member_id),
        )

    # --- relays ---------------------------------------------------------------------------

    def _relay_question(self, pending: Pending) -> Rendered:
        # The role is checked now: someone removed as organiser since gets no member's name.
        if pending.role != Role.ORGANISER:
            return Skip(d.SKIP_NOT_ORGANISER)
        texts = self._screens.catalogues[pending.language]
        payload = pending.payload
        relay_id = pending.about.relay_id
        if relay_id is None:
            return Skip(d.SKIP_UNKNOWN_KIND)
        answered = payload.get("answered")
        said = (
            texts("relay.bot_answered", title=answered)
            if answered
            else texts("relay.bot_could_not")
        )
        return Outgoing(
            texts(
                "relay.to_organiser",
                id=relay_id,
                name=payload.get("name") or texts("attendance.no_name"),
                channel=payload["channel"],
                question=payload["question"],
            )
            + "\n"
            + said,
            buttons=(
                (Button(texts("relay.reply_button"), Action("relay_reply", (str(relay_id),))),),
            ),
        )

    def _relay_answer(self, pending: Pending) -> Rendered:
        texts = self._screens.catalogues[pending.language]
        return Outgoing(
            texts(
                "relay.to_member",
                question=pending.payload["question"],
                answer=pending.payload["answer"],
            )
        )
