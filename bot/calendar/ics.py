"""iCalendar (.ics) files for one occurrence, so members can add it to their phone's calendar."""

from __future__ import annotations

from datetime import UTC, timedelta

from icalendar import Calendar, Event

from bot.domain.events import Occurrence

PRODUCT = "-//campaign-bot//shahokyo//JA"


def occurrence_ics(occurrence: Occurrence) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    # Stable across edits, so re-importing updates the entry instead of adding another.
    event.add("uid", f"{occurrence.slug}-{occurrence.key}@campaign-bot")
    event.add("summary", occurrence.title)
    event.add("dtstart", occurrence.starts_at.astimezone(UTC))
    event.add(
        "dtend", (occurrence.ends_at or occurrence.starts_at + timedelta(hours=1)).astimezone(UTC)
    )
    event.add("dtstamp", occurrence.starts_at.astimezone(UTC))
    if occurrence.cancelled:
        event.add("status", "CANCELLED")
    location = ", ".join(p for p in (occurrence.venue_name, occurrence.venue_address) if p)
    if location:
        event.add("location", location)
    details = [occurrence.description.strip()]
    details += [occurrence.online_url or "", occurrence.map_url or "", occurrence.contact or ""]
    description = "\n".join(d for d in details if d)
    if description:
        event.add("description", description)
    if occurrence.online_url or occurrence.map_url:
        event.add("url", occurrence.online_url or occurrence.map_url)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
