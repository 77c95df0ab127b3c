"""`campaign-bot events | rsvps | reload | qr`: the calendar from the command line."""

from __future__ import annotations

import csv
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

import segno

from bot.app import App
from bot.domain.events import Attendee, Occurrence, RsvpStatus, SyncReport
from bot.services import event_cards


def answer_word(app: App, status: RsvpStatus) -> str:
    """参加 / 未定 / 不参加 / キャンセル待ち, as members see them on the cards."""
    return app.catalogues["ja"](f"events.answer.{status}")


def describe_report(report: SyncReport) -> str:
    lines = [
        f"events: {len(report.events_added)} added, {len(report.events_updated)} updated, "
        f"{len(report.events_removed)} removed",
        f"occurrences: {report.occurrences_added} added, {report.occurrences_changed} changed "
        f"({report.occurrences_cancelled} cancelled)",
        f"change notices queued: {report.notices_queued}",
    ]
    if report.removed_with_answers:
        lines.append(
            "WARNING: removed events still had answers and nobody was told: "
            + ", ".join(report.removed_with_answers)
            + " (write `cancelled: true` instead of deleting an event to tell them)"
        )
    return "\n".join(lines)


def list_events(app: App, *, days: int, out: TextIO = sys.stdout) -> None:
    """Upcoming occurrences with their answers, one line each."""
    zone = app.settings.zone
    texts = app.catalogues["ja"]
    since = app.clock.now()
    with app.database.unit_of_work() as uow:
        occurrences = uow.calendar.upcoming(None, since, limit=1000)
        rows = [
            (occurrence, uow.rsvps.counts(occurrence.id))
            for occurrence in occurrences
            if occurrence.starts_at <= since + timedelta(days=days)
        ]
    if not rows:
        print(f"no events in the next {days} days", file=out)
        return
    for occurrence, counts in rows:
        state = " [中止]" if occurrence.cancelled else ""
        regions = ",".join(sorted(occurrence.regions)) or "-"
        print(
            f"{texts.format_datetime(occurrence.starts_at, zone):<18} {occurrence.slug:<32} "
            f"{occurrence.title}{state}  ({regions}; 参加 {counts.people}, 未定 {counts.maybe}, "
            f"待ち {counts.waitlist})",
            file=out,
        )


def find_occurrence(app: App, slug: str, on: date | None) -> Occurrence | None:
    """The event's next occurrence, or the one on a given date (past ones included)."""
    zone = app.settings.zone
    with app.database.unit_of_work() as uow:
        if on is None:
            return uow.calendar.next_of(slug, app.clock.now())
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


def attendees_of(app: App, occurrence: Occurrence) -> list[Attendee]:
    with app.database.unit_of_work() as uow:
        return uow.rsvps.attendees(occurrence.id)


def print_rsvps(
    app: App, occurrence: Occurrence, attendees: list[Attendee], out: TextIO = sys.stdout
) -> None:
    texts = app.catalogues["ja"]
    zone = app.settings.zone
    going = [a for a in attendees if a.status is RsvpStatus.GOING]
    print(f"{occurrence.title}  {event_cards.when(texts, occurrence, zone)}", file=out)
    print(
        f"参加 {len(going)}人 (同行 {sum(a.guests for a in going)}人、合計 "
        f"{len(going) + sum(a.guests for a in going)}人) / 未定 "
        f"{sum(a.status is RsvpStatus.MAYBE for a in attendees)}人 / 不参加 "
        f"{sum(a.status is RsvpStatus.NO for a in attendees)}人 / キャンセル待ち "
        f"{sum(a.status is RsvpStatus.WAITLIST for a in attendees)}人",
        file=out,
    )
    for attendee in attendees:
        guests = f" +{attendee.guests}" if attendee.guests else ""
        print(
            f"  {answer_word(app, attendee.status):<8} {attendee.display_name or '-'}{guests}",
            file=out,
        )


def write_rsvps_csv(
    path: Path, app: App, occurrence: Occurrence, attendees: list[Attendee]
) -> None:
    """UTF-8 with a byte-order mark, so Excel in Japan opens it without garbling."""
    zone = app.settings.zone
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["予定", "日時", "名前", "返事", "同行人数", "チャンネル", "返事の日時"])
        texts = app.catalogues["ja"]
        when = event_cards.when(texts, occurrence, zone)
        for attendee in attendees:
            writer.writerow(
                [
                    occurrence.title,
                    when,
                    attendee.display_name or "",
                    answer_word(app, attendee.status),
                    attendee.guests,
                    attendee.channel,
                    attendee.updated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                ]
            )


def deep_link(username: str, slug: str) -> str:
    """t.me link whose /start payload opens the event's card (at most 64 characters)."""
    return f"https://t.me/{username.lstrip('@')}?start=ev_{slug}"


def write_qr(link: str, path: Path, *, scale: int = 10) -> None:
    """A PNG QR code with a quiet zone, big enough to scan from a printed flyer."""
    segno.make(link, error="m").save(str(path), scale=scale, border=4)
