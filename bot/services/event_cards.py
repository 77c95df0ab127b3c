"""How an event looks in a chat: a card with its date, place, links and answer buttons."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from bot.calendar.ics import occurrence_ics
from bot.domain.events import Occurrence, Rsvp, RsvpCounts, RsvpStatus
from bot.domain.messages import Action, Attachment, Button, Outgoing
from bot.texts import Texts

# Written after the answer in the buttons of a card shown on its own (`going.c`): the reply to
# such a press redraws that card in place. Cards inside a notice, a reminder or a broadcast
# carry plain answers (`going`), so that pressing one never overwrites the words around it. A
# card that also carries the "show more" button (the last of a page of events) adds where the
# next page starts (`going.c3`), so that it is redrawn with it.
ON_ITS_OWN = "c"


def when(texts: Texts, occurrence: Occurrence, zone: tzinfo) -> str:
    """「11月7日(木) 13:00〜15:00」; the end shows its date only when it is another day."""
    start = texts.format_datetime(occurrence.starts_at, zone)
    if occurrence.ends_at is None:
        return texts("events.when_open", start=start)
    same_day = (
        occurrence.ends_at.astimezone(zone).date() == occurrence.starts_at.astimezone(zone).date()
    )
    local_end = occurrence.ends_at.astimezone(zone)
    end = (
        f"{local_end.hour}:{local_end.minute:02d}"
        if same_day
        else texts.format_datetime(occurrence.ends_at, zone)
    )
    return texts("events.when", start=start, end=end)


def venue_line(texts: Texts, occurrence: Occurrence) -> str | None:
    if not occurrence.venue_name:
        return None
    place = occurrence.venue_name
    if occurrence.venue_address:
        place = f"{place}（{occurrence.venue_address}）"
    return texts("events.venue", venue=place)


def answer_label(texts: Texts, rsvp: Rsvp) -> str:
    if rsvp.status is RsvpStatus.GOING and rsvp.guests:
        return texts("events.answer.going_with_guests", guests=rsvp.guests)
    return texts(f"events.answer.{rsvp.status}")


def card(
    texts: Texts,
    occurrence: Occurrence,
    zone: tzinfo,
    *,
    rsvp: Rsvp | None,
    counts: RsvpCounts,
    now: datetime,
    organiser: bool,
    view: str = "",
) -> Outgoing:
    """The event card: what, when, where, links, the member's answer, and the answer buttons.

    `view`: how the card is shown, carried by its answer buttons (see `ON_ITS_OWN`); empty for
    a card inside another message.
    """
    title = texts(
        "events.title", kind=texts(f"events.kind.{_kind(occurrence.kind)}"), title=occurrence.title
    )
    if occurrence.cancelled:
        title = texts("events.cancelled") + title
    lines = [title, when(texts, occurrence, zone)]
    optional = [
        venue_line(texts, occurrence),
        texts("events.map", url=occurrence.map_url) if occurrence.map_url else None,
        texts("events.online", url=occurrence.online_url) if occurrence.online_url else None,
        occurrence.description.strip() or None,
        texts("events.bring", bring=occurrence.bring) if occurrence.bring else None,
        texts("events.organiser", organiser=occurrence.organiser) if occurrence.organiser else None,
        texts("events.contact", contact=occurrence.contact) if occurrence.contact else None,
        texts("events.note", note=occurrence.note) if occurrence.note else None,
    ]
    lines.extend(line for line in optional if line)
    open_for_answers = answers_open(occurrence, now)
    if open_for_answers and occurrence.capacity is not None:
        left = occurrence.capacity - counts.people
        lines.append(
            texts("events.seats_left", capacity=occurrence.capacity, left=left)
            if left > 0
            else texts("events.full", capacity=occurrence.capacity)
        )
    if open_for_answers and occurrence.rsvp_deadline is not None:
        lines.append(
            texts("events.deadline", deadline=last_day(texts, occurrence.answers_close_at(), zone))
        )
    if rsvp is not None:
        lines.append(texts("events.your_answer", answer=answer_label(texts, rsvp)))
    rows: list[tuple[Button, ...]] = []
    if open_for_answers:
        rows.append(
            tuple(
                answer_button(texts(f"events.{name}_button"), occurrence, status, view=view)
                for name, status in (("going", "going"), ("maybe", "maybe"), ("no", "no"))
            )
        )
    if organiser:
        rows.append(
            (
                Button(
                    texts("events.attendance_button"),
                    Action("attendance", (str(occurrence.id),)),
                ),
            )
        )
    return Outgoing("\n".join(lines), buttons=tuple(rows))


def count_fields(counts: RsvpCounts) -> dict[str, int]:
    """The numbers the catalogues' count lines show (attendance.counts, cli.rsvps.counts)."""
    return {
        "going": counts.going,
        "guests": counts.guests,
        "people": counts.people,
        "maybe": counts.maybe,
        "no": counts.no,
        "waitlist": counts.waitlist,
    }


def answers_open(occurrence: Occurrence, now: datetime) -> bool:
    """Whether members may still answer (参加 / 未定 / 不参加) the occurrence."""
    return (
        occurrence.rsvp_enabled and not occurrence.cancelled and now < occurrence.answers_close_at()
    )


def answer_button(label: str, occurrence: Occurrence, status: str, *, view: str = "") -> Button:
    """A button that answers `status` to the occurrence, wherever it is shown; `view`, on a
    card shown on its own (see `ON_ITS_OWN`)."""
    return Button(
        label, Action("rsvp", (str(occurrence.id), f"{status}.{view}" if view else status))
    )


def last_day(texts: Texts, closes: datetime, zone: tzinfo) -> str:
    """Until when answers are taken, as people read a deadline: 「12月3日(木)」 when answers
    close at midnight (as the 4th begins, so the 3rd is the last day to answer), else the day
    and the time, 「12月9日(水) 18:30」. The catalogue adds 「まで」."""
    local = closes.astimezone(zone)
    if local.time() == time(0):
        return texts.format_date(local - timedelta(days=1), zone)
    return texts.format_datetime(local, zone)


def calendar_file(occurrence: Occurrence) -> Attachment:
    return Attachment(
        filename=f"{occurrence.slug}-{occurrence.key}.ics",
        media_type="text/calendar",
        content=occurrence_ics(occurrence),
    )


def _kind(kind: str) -> str:
    return kind if kind in {"rally", "street", "study", "meeting", "online"} else "other"


def snapshot(occurrence: Occurrence) -> dict[str, Any]:
    """What members are told about an occurrence, for a change notice's before and after."""
    return {
        "starts_at": occurrence.starts_at.isoformat(),
        "ends_at": occurrence.ends_at.isoformat() if occurrence.ends_at else None,
        "venue_name": occurrence.venue_name,
        "venue_address": occurrence.venue_address,
        "status": occurrence.status.value,
        "title": occurrence.title,
        "note": occurrence.note,
    }
