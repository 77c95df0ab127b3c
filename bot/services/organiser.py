"""What only organisers (世話人) can see."""

from __future__ import annotations

from bot.domain.events import Occurrence, RsvpStatus
from bot.domain.messages import Action, Button, Outgoing
from bot.services import event_cards
from bot.services.attendance import answers, counted, upcoming
from bot.services.turn import Turn


def stats(turn: Turn) -> list[Outgoing]:
    texts = turn.texts
    counts = turn.uow.members.stats()
    lines = [
        texts(
            "stats.summary",
            total=counts.total,
            subscribed=counts.subscribed,
            pending=counts.pending,
            unsubscribed=counts.unsubscribed,
            unreachable=counts.unreachable,
        )
    ]
    by_region = [
        texts("stats.by_region_line", region=name, count=counts.subscribed_by_region[region.code])
        for region in turn.campaign.regions
        if counts.subscribed_by_region.get(region.code)
        for name in turn.campaign.region_names({region.code}, turn.member.language)
    ]
    if by_region:
        lines.append("\n".join([texts("stats.by_region_heading"), *by_region]))
    return [turn.screens.with_menu(turn.member, "\n\n".join(lines))]


def attendance_list(turn: Turn) -> list[Outgoing]:
    """参加状況: the next events with their counts, and a button for each one's details."""
    texts, zone = turn.texts, turn.campaign.timezone
    coming = upcoming(turn.uow, turn.now, limit=10)
    if not coming:
        return [turn.screens.with_menu(turn.member, texts("attendance.list_empty"))]
    lines = [texts("attendance.list_heading")]
    buttons = []
    for item in coming:
        occurrence, counts = item.occurrence, item.counts
        day = texts.format_datetime(occurrence.starts_at, zone)
        lines.append(
            texts(
                "attendance.list_line",
                when=day,
                title=occurrence.title,
                people=counts.people,
                maybe=counts.maybe,
            )
        )
        buttons.append(
            (Button(f"{day} {occurrence.title}"[:60], Action("attendance", (str(occurrence.id),))),)
        )
    return [Outgoing("\n".join(lines), buttons=tuple(buttons))]


def _heading(turn: Turn, key: str, occurrence: Occurrence) -> str:
    when = event_cards.when(turn.texts, occurrence, turn.campaign.timezone)
    return turn.texts(key, title=occurrence.title, when=when)


def _reminders(turn: Turn, occurrence: Occurrence) -> str:
    """How many reminders went out, and how many of the members reminded then said "no"."""
    counts = turn.uow.rsvps.reminder_counts(occurrence.id)
    if not counts.sent:
        return turn.texts("attendance.reminders_none")
    return turn.texts(
        "attendance.reminders",
        sent=counts.sent,
        members=counts.members,
        declined=counts.declined,
    )


def attendance(turn: Turn, occurrence: Occurrence) -> list[Outgoing]:
    """Counts for one occurrence: going (with guests), maybe, no, waiting; reminders sent."""
    texts = turn.texts
    counts = counted(turn.uow, occurrence).counts
    text = "\n".join(
        (
            _heading(turn, "attendance.heading", occurrence),
            texts("attendance.counts", **event_cards.count_fields(counts)),
            _reminders(turn, occurrence),
        )
    )
    names = Button(texts("attendance.names_button"), Action("attendees", (str(occurrence.id),)))
    return [Outgoing(text, buttons=((names,),))]


def attendees(turn: Turn, occurrence: Occurrence) -> list[Outgoing]:
    """Who answered what. Only organisers reach this; members never see others' names."""
    texts = turn.texts
    heading = _heading(turn, "attendance.names_heading", occurrence)
    people = answers(turn.uow, occurrence).attendees
    lines = [
        texts(
            "attendance.name_line",
            name=person.display_name or texts("attendance.no_name"),
            answer=(
                texts("events.answer.going_with_guests", guests=person.guests)
                if person.status is RsvpStatus.GOING and person.guests
                else texts(f"events.answer.{person.status}")
            ),
        )
        + (texts("attendance.unreachable_mark") if person.unreachable else "")
        for person in people
    ]
    body = "\n".join(lines) if lines else texts("attendance.nobody")
    unreachable = sum(person.unreachable for person in people)
    if unreachable:
        body = f"{body}\n{texts('attendance.unreachable_note', count=unreachable)}"
    return [turn.screens.with_menu(turn.member, f"{heading}\n{body}")]
