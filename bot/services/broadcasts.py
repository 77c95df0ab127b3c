"""Organisers' announcements (一斉送信) and rain calls (中止連絡): the use cases the chat flow
and the command line share. Each runs in the caller's unit of work, checks the role where it
is used, and leaves an audit record; delivery is the outbox's (bulk lane for broadcasts, the
transactional lane for a rain call's notice)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.broadcasts import (
    MAX_BROADCAST_CHARS,
    OPEN_STATUSES,
    SKIP_CANCELLED,
    Broadcast,
    BroadcastSettings,
    BroadcastStatus,
    Progress,
    Reach,
    Target,
    delivery_time,
    split_for_sending,
)
from bot.domain.campaign import Campaign
from bot.domain.deliveries import (
    BROADCAST_PROGRESS,
    BROADCAST_REPORT,
    EVENT_CHANGE,
    About,
    Audience,
)
from bot.domain.events import CallOff, Occurrence, RsvpStatus
from bot.domain.members import Member
from bot.domain.messages import Outgoing
from bot.domain.ports import Clock, NewBroadcast, UnitOfWork, UnitOfWorkFactory
from bot.services.event_cards import snapshot
from bot.texts import Texts

log = logging.getLogger(__name__)

SKIP_BROADCAST_CANCELLED = SKIP_CANCELLED
SKIP_CALLED_OFF = "event called off"
NOTIFIED = frozenset({RsvpStatus.GOING, RsvpStatus.MAYBE, RsvpStatus.WAITLIST})
"""Who hears of a rain call: everyone who said they would (or might) come, and those waiting
for a seat."""
MAX_REASON_CHARS = 200
REPORT_AFTER_CANCEL = timedelta(seconds=30)
"""A claimed message may still go for as long as a claim's lease (delivery.lease)."""


class BroadcastError(ValueError):
    """What the organiser must change before the broadcast can go (said in their words)."""


@dataclass(frozen=True)
class Draft:
    """A broadcast as composed, before it is sent."""

    target: Target
    text: str
    urgent: bool = False
    send_at: datetime | None = None
    """None: at once."""
    occurrence_id: int | None = None


@dataclass(frozen=True)
class Preview:
    draft: Draft
    reach: Reach
    parts: int
    takes: timedelta
    needs_confirmation: bool


def check(uow: UnitOfWork, draft: Draft, now: datetime) -> None:
    """Raise `BroadcastError` for a draft that cannot be sent as it is."""
    if not draft.text.strip():
        raise BroadcastError("empty")
    if len(draft.text) > MAX_BROADCAST_CHARS:
        raise BroadcastError("too_long")
    if draft.send_at is not None and draft.send_at <= now:
        raise BroadcastError("in_the_past")
    for occurrence_id in (draft.target.occurrence_id, draft.occurrence_id):
        if occurrence_id is None:
            continue
        occurrence = uow.calendar.occurrence(occurrence_id)
        if occurrence is None or occurrence.removed:
            raise BroadcastError("no_such_event")


def preview(uow: UnitOfWork, draft: Draft, settings: BroadcastSettings, now: datetime) -> Preview:
    check(uow, draft, now)
    reach = uow.broadcasts.reach(draft.target)
    parts = len(split_for_sending(draft.text))
    return Preview(
        draft,
        reach,
        parts,
        delivery_time(reach.recipients * parts, settings.per_second),
        reach.recipients > settings.confirm_above,
    )


def send(
    uow: UnitOfWork, draft: Draft, author: Member | None, label: str, now: datetime
) -> Broadcast:
    """Store the broadcast and queue it for every recipient (at `draft.send_at`, or now), in
    the caller's transaction; the audit log says who sent what to whom."""
    check(uow, draft, now)
    _require_organiser(author)
    parts = split_for_sending(draft.text)
    broadcast = uow.broadcasts.create(
        NewBroadcast(
            author=author,
            author_label=label,
            target=draft.target,
            text=draft.text,
            parts=parts,
            urgent=draft.urgent,
            send_at=draft.send_at or now,
            created_at=now,
            occurrence_id=draft.occurrence_id,
        )
    )
    uow.audit.record(
        author,
        "broadcast.scheduled" if draft.send_at else "broadcast.sent",
        {
            "broadcast": broadcast.id,
            "audience": draft.target.encode(),
            "text": draft.text,
            "recipients": broadcast.recipients,
            "urgent": draft.urgent,
            "send_at": broadcast.send_at.isoformat(),
            "event": draft.occurrence_id,
        },
        now,
    )
    return broadcast


def cancel(
    uow: UnitOfWork, broadcast_id: int, actor: Member | None, now: datetime
) -> tuple[Broadcast, int] | None:
    """Stop a scheduled or running broadcast: what has not gone yet is skipped. None if it
    does not exist or is no longer running."""
    _require_organiser(actor)
    broadcast = uow.broadcasts.get(broadcast_id)
    if broadcast is None or not uow.broadcasts.set_status(
        broadcast_id, BroadcastStatus.CANCELLED, now
    ):
        return None
    skipped = uow.broadcasts.skip_waiting(broadcast_id, SKIP_BROADCAST_CANCELLED)
    uow.audit.record(
        actor, "broadcast.cancelled", {"broadcast": broadcast_id, "skipped": skipped}, now
    )
    author = (
        uow.members.get_by_id(broadcast.author_member_id)
        if broadcast.author_member_id is not None
        else None
    )
    # The report comes once the messages already being sent have had their time, so it
    # counts what still went out after the cancel.
    BroadcastMonitor.tell(
        uow, author, broadcast, BROADCAST_REPORT, "cancelled", now + REPORT_AFTER_CANCEL
    )
    return broadcast, skipped


def listing(uow: UnitOfWork, limit: int = 10) -> list[tuple[Broadcast, Progress]]:
    return [(b, uow.broadcasts.progress(b)) for b in uow.broadcasts.recent(limit)]


def is_open(broadcast: Broadcast) -> bool:
    return broadcast.status in OPEN_STATUSES


# --- what members see -------------------------------------------------------------------------


def messages(
    texts: Texts, broadcast_text: str, *, urgent: bool, card: Outgoing | None = None
) -> list[Outgoing]:
    """A broadcast as each member gets it: its parts, a heading on the first, the event card
    (with its answer buttons) under the last. The preview shows exactly these."""
    parts = split_for_sending(broadcast_text)
    return [
        part_message(texts, parts, index, urgent=urgent, card=card) for index in range(len(parts))
    ]


def part_message(
    texts: Texts, parts: list[str], index: int, *, urgent: bool, card: Outgoing | None
) -> Outgoing:
    text = parts[index]
    if index == 0:
        heading = texts("broadcast.heading_urgent" if urgent else "broadcast.heading")
        text = f"{heading}\n{text}"
    if index == len(parts) - 1 and card is not None:
        return Outgoing(f"{text}\n\n{card.text}", buttons=card.buttons, links=card.links)
    return Outgoing(text)


# --- rain calls ---------------------------------------------------------------------------------


class CallOffError(ValueError):
    """Why an occurrence cannot be called off (or restored) now."""


def call_off(
    uow: UnitOfWork,
    occurrence: Occurrence,
    reason: str,
    actor: Member | None,
    label: str,
    now: datetime,
) -> int:
    """Cancel `occurrence` whatever its schedule file says, tell everyone who said 参加 or 未定
    at once (past quiet hours) with the reason, and skip its pending reminders. Returns how
    many were told."""
    _require_organiser(actor)
    reason = " ".join(reason.split())[:MAX_REASON_CHARS]
    if not reason:
        raise CallOffError("no_reason")
    if occurrence.starts_at <= now:
        raise CallOffError("started")
    if occurrence.cancelled:
        raise CallOffError("already")
    uow.calendar.call_off(occurrence.id, CallOff(now, reason, label))
    after = uow.calendar.occurrence(occurrence.id)
    assert after is not None
    told = _notify(uow, occurrence, after, now)
    skipped = uow.broadcasts.skip_reminders_of(occurrence.id, SKIP_CALLED_OFF)
    uow.audit.record(
        actor,
        "rain_call",
        {
            "occurrence": occurrence.id,
            "event": occurrence.slug,
            "starts_at": occurrence.starts_at.isoformat(),
            "reason": reason,
            "told": told,
            "reminders_skipped": skipped,
        },
        now,
    )
    return told


def undo_call_off(
    uow: UnitOfWork, occurrence: Occurrence, actor: Member | None, now: datetime
) -> int:
    """Take a rain call back (until the start): the same people hear it is on again."""
    _require_organiser(actor)
    if occurrence.called_off is None:
        raise CallOffError("not_called_off")
    if occurrence.starts_at <= now:
        raise CallOffError("started")
    uow.calendar.undo_call_off(occurrence.id, now)
    after = uow.calendar.occurrence(occurrence.id)
    assert after is not None
    told = _notify(uow, occurrence, after, now)
    uow.audit.record(
        actor,
        "rain_call.undone",
        {"occurrence": occurrence.id, "event": occurrence.slug, "told": told},
        now,
    )
    return told


def _notify(uow: UnitOfWork, before: Occurrence, after: Occurrence, now: datetime) -> int:
    """The change notice of the schedule files, keyed by the occurrence's revision: called
    off, restored and called off again are three notices, each sent once."""
    revision = uow.calendar.next_revision(after.id)
    return uow.outbox.enqueue_audience(
        EVENT_CHANGE,
        f"occurrence:{after.id}:rev:{revision}",
        Audience(occurrence_id=after.id, rsvp_statuses=NOTIFIED),
        {"kind": EVENT_CHANGE, "before": snapshot(before), "after": snapshot(after)},
        now,
        about=About(occurrence_id=after.id, expect_rsvp=NOTIFIED),
    )


class NotAnOrganiser(PermissionError):
    """A use case only organisers may run, asked for by someone who is not one (now)."""


def _require_organiser(actor: Member | None) -> None:
    # None is the command line: whoever runs it has the database and the config already.
    if actor is not None and not actor.is_organiser:
        raise NotAnOrganiser(f"{actor.channel}:{actor.external_id}")


# --- what organisers see ----------------------------------------------------------------------


def number(value: int) -> str:
    return f"{value:,}"


def progress_text(texts: Texts, broadcast: Broadcast, progress: Progress) -> str:
    return texts(
        "broadcast.progress",
        id=broadcast.id,
        done=number(progress.done),
        total=number(progress.recipients),
    )


def report_text(texts: Texts, broadcast: Broadcast, progress: Progress) -> str:
    lines = [
        texts(
            "broadcast.report_cancelled"
            if broadcast.status is BroadcastStatus.CANCELLED
            else "broadcast.report",
            id=broadcast.id,
        ),
        texts("broadcast.report_sent", count=number(progress.sent)),
    ]
    for key, count in (
        ("broadcast.report_stopped", progress.skipped_stopped),
        ("broadcast.report_unreachable", progress.skipped_unreachable),
        ("broadcast.report_cancelled_rows", progress.skipped_cancelled),
        ("broadcast.report_other", progress.skipped_other),
        ("broadcast.report_failed", progress.failed),
    ):
        if count:
            lines.append(texts(key, count=number(count)))
    return "\n".join(lines)


class BroadcastMonitor:
    """Moves scheduled broadcasts to sending at their time, tells their authors how far they
    got (a progress message, edited, at most once a tick), and closes them with a report."""

    def __init__(self, units_of_work: UnitOfWorkFactory, clock: Clock) -> None:
        self._units_of_work = units_of_work
        self._clock = clock

    def tick(self) -> int:
        """One look at every open broadcast; returns how many are still open."""
        now = self._clock.now()
        still_open = 0
        with self._units_of_work() as uow:
            for broadcast in uow.broadcasts.open():
                if broadcast.send_at > now:
                    still_open += 1
                    continue
                if broadcast.status is BroadcastStatus.SCHEDULED:
                    uow.broadcasts.set_status(broadcast.id, BroadcastStatus.SENDING, now)
                progress = uow.broadcasts.progress(broadcast)
                author = (
                    uow.members.get_by_id(broadcast.author_member_id)
                    if broadcast.author_member_id is not None
                    else None
                )
                if progress.finished:
                    uow.broadcasts.set_status(broadcast.id, BroadcastStatus.DONE, now)
                    self.tell(uow, author, broadcast, BROADCAST_REPORT, "report", now)
                    uow.audit.record(
                        None,
                        "broadcast.finished",
                        {"broadcast": broadcast.id, **_counts(progress)},
                        now,
                    )
                    log.info("broadcast %d finished: %s", broadcast.id, _counts(progress))
                    continue
                still_open += 1
                self.tell(uow, author, broadcast, BROADCAST_PROGRESS, f"{progress.done}", now)
            uow.commit()
        return still_open

    @staticmethod
    def tell(
        uow: UnitOfWork,
        author: Member | None,
        broadcast: Broadcast,
        purpose: str,
        occasion: str,
        now: datetime,
    ) -> None:
        # Rendered when sent, with the counts of that moment; once per (broadcast, occasion).
        if author is None:
            return
        uow.outbox.enqueue(
            purpose,
            f"{purpose}:{broadcast.id}:{occasion}",
            author,
            {"kind": purpose},
            now,
            about=About(broadcast_id=broadcast.id),
        )


def _counts(progress: Progress) -> dict[str, int]:
    return {
        "recipients": progress.recipients,
        "sent": progress.sent,
        "skipped_stopped": progress.skipped_stopped,
        "skipped_unreachable": progress.skipped_unreachable,
        "skipped_cancelled": progress.skipped_cancelled,
        "skipped_other": progress.skipped_other,
        "failed": progress.failed,
    }


# --- words shared by the chat and the command line -------------------------------------------


def event_label(texts: Texts, occurrence: Occurrence, campaign: Campaign) -> str:
    day = texts.format_datetime(occurrence.starts_at, campaign.timezone)
    return f"{day} {occurrence.title}"[:60]


def audience_label(texts: Texts, campaign: Campaign, uow: UnitOfWork, target: Target) -> str:
    """Whom a target reaches, in the words of the preview and of 送信一覧."""
    if target.region is not None:
        names = campaign.region_names({target.region}, texts.language)
        return texts("broadcast.audience_region", region=names[0] if names else target.region)
    if target.occurrence_id is not None:
        occurrence = uow.calendar.occurrence(target.occurrence_id)
        event = (
            event_label(texts, occurrence, campaign)
            if occurrence is not None
            else f"#{target.occurrence_id}"
        )
        answers = texts.join([texts(f"events.answer.{s}") for s in sorted(target.answers)])
        return texts("broadcast.audience_event", event=event, answers=answers)
    return texts("broadcast.audience_all")


def duration(texts: Texts, takes: timedelta) -> str:
    seconds = int(takes.total_seconds())
    if seconds < 60:
        return texts("broadcast.seconds", count=max(seconds, 1))
    return texts("broadcast.minutes", count=-(-seconds // 60))


def excerpt(value: str, length: int = 40) -> str:
    """The start of a text, on one line."""
    flat = " ".join(value.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"
