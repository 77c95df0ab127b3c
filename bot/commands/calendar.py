"""`campaign-bot events | rsvps | reload | qr`: the calendar from the command line.

Counts and names come from bot/services/attendance.py, as the organisers' 参加状況 in the chat
does; every word printed or written comes from the catalogue (`cli.*`, `events.answer.*`).
"""

from __future__ import annotations

import csv
import sys
from datetime import date, tzinfo
from pathlib import Path
from typing import TextIO

import segno

from bot.app import App
from bot.commands import texts_for
from bot.domain.events import Occurrence, RsvpStatus, SyncReport
from bot.services import event_cards
from bot.services.attendance import Answers, Attendance
from bot.terminal import field
from bot.texts import Texts

# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection):
# a member's display name like "=HYPERLINK(...)" must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def attendance(app: App) -> Attendance:
    """The organisers' 参加状況 service, reading through the bot's own database."""
    return Attendance(app.database.unit_of_work, app.clock, app.settings.zone)


def answer_word(texts: Texts, status: RsvpStatus) -> str:
    """参加 / 未定 / 不参加 / キャンセル待ち, as members see them on the cards."""
    return texts(f"events.answer.{status}")


def describe_report(texts: Texts, report: SyncReport) -> str:
    lines = [
        texts(
            "cli.reload.events",
            added=len(report.events_added),
            updated=len(report.events_updated),
            removed=len(report.events_removed),
        ),
        texts(
            "cli.reload.occurrences",
            added=report.occurrences_added,
            changed=report.occurrences_changed,
            cancelled=report.occurrences_cancelled,
        ),
        texts("cli.reload.notices", queued=report.notices_queued),
    ]
    if report.removed_with_answers:
        lines.append(
            texts("cli.reload.removed_with_answers", events=", ".join(report.removed_with_answers))
        )
    return "\n".join(lines)


def list_events(app: App, *, days: int, out: TextIO | None = None) -> None:
    """Upcoming occurrences with their answers, one line each (to stdout as it is when
    called, so a test's captured stdout gets it)."""
    out = out or sys.stdout
    texts = texts_for(app.settings)
    zone = app.settings.zone
    coming = attendance(app).upcoming(days=days)
    if not coming:
        print(texts("cli.events.none", days=days), file=out)
        return
    for item in coming:
        occurrence, counts = item.occurrence, item.counts
        print(
            texts(
                "cli.events.line",
                when=texts.format_datetime(occurrence.starts_at, zone),
                slug=field(occurrence.slug),
                title=field(occurrence.title),
                state=cancelled_state(texts, occurrence),
                regions=",".join(sorted(occurrence.regions)) or texts("cli.events.no_regions"),
                people=counts.people,
                maybe=counts.maybe,
                waitlist=counts.waitlist,
            ),
            file=out,
        )


def cancelled_state(texts: Texts, occurrence: Occurrence) -> str:
    """What follows the title of a cancelled occurrence: 「 [中止]」, and for one called off
    from the chat or `campaign-bot cancel` (whatever its schedule file says) the reason too:
    「 [中止] ※ 雨天のため」."""
    if not occurrence.cancelled:
        return ""
    state = texts("cli.events.cancelled")
    if occurrence.called_off is not None:
        # Written by an organiser, but it must not act on the terminal (nor break the line).
        state += " " + texts("notice.reason", note=field(occurrence.called_off.reason))
    return state


def answers_of(app: App, slug: str, on: date | None) -> Answers | None:
    """Counts and names for the event's next occurrence, or the one on a given date."""
    return attendance(app).of_event(slug, on)


def not_found(texts: Texts, slug: str, on: date | None) -> str:
    if on is None:
        return texts("cli.rsvps.not_found", event=slug)
    return texts("cli.rsvps.not_found_on", event=slug, date=on.isoformat())


def print_rsvps(texts: Texts, zone: tzinfo, answers: Answers, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    occurrence, counts = answers.occurrence, answers.counts
    when = event_cards.when(texts, occurrence, zone)
    print(texts("cli.rsvps.heading", title=field(occurrence.title), when=when), file=out)
    print(
        texts("cli.rsvps.counts", **event_cards.count_fields(counts)),
        file=out,
    )
    for attendee in answers.attendees:
        guests = texts("cli.rsvps.guests", guests=attendee.guests) if attendee.guests else ""
        print(
            texts(
                "cli.rsvps.line",
                answer=answer_word(texts, attendee.status),
                # Chosen by the member: it must not act on the organiser's terminal.
                name=field(attendee.display_name or texts("cli.rsvps.no_name")),
                guests=guests,
            ),
            file=out,
        )


def spreadsheet_cell(value: str | int) -> str | int:
    """The value as a spreadsheet shows it as text: a formula-like start gets a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_rsvps_csv(path: Path, texts: Texts, zone: tzinfo, answers: Answers) -> None:
    """UTF-8 with a byte-order mark, so Excel in Japan opens it without garbling."""
    occurrence = answers.occurrence
    when = event_cards.when(texts, occurrence, zone)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([spreadsheet_cell(h) for h in texts.words("cli.rsvps.csv_header")])
        for attendee in answers.attendees:
            row: list[str | int] = [
                occurrence.title,
                when,
                attendee.display_name or "",
                answer_word(texts, attendee.status),
                attendee.guests,
                attendee.channel,
                attendee.updated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            ]
            writer.writerow([spreadsheet_cell(cell) for cell in row])


def deep_link(username: str, slug: str) -> str:
    """t.me link whose /start payload opens the event's card (at most 64 characters)."""
    return f"https://t.me/{username.lstrip('@')}?start=ev_{slug}"


def write_qr(link: str, path: Path, *, scale: int = 10) -> None:
    """A PNG QR code with a quiet zone, big enough to scan from a printed flyer."""
    segno.make(link, error="m").save(str(path), scale=scale, border=4)
