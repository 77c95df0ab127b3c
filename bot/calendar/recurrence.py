"""Turn events into dated occurrences within a window of time.

Rules are expanded in the event's local wall time (the zone of its `starts_at`): 「毎月4日の
12時」 stays at 12:00 even across a daylight-saving change, where there is one. Results are
aware datetimes in that zone.

Which occurrences are in the window [start, end) is decided by their ORIGINAL start, before
any change: an occurrence moved by an hour neither vanishes from the window that held it nor
turns up in the next one, so syncing window by window sees every occurrence exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo

from bot.calendar.rules import compile_rule
from bot.domain.calendar import Calendar, EventSpec, OccurrenceChange, OccurrenceSpec

ONCE = "once"
# Window edges are compared as moments; the rule is searched in wall time with this margin.
_MARGIN = timedelta(days=2)


def expand(event: EventSpec, start: datetime, end: datetime) -> list[OccurrenceSpec]:
    """The occurrences of `event` whose original start lies in [start, end), sorted.

    One-off events have the key "once"; a recurring event's occurrences are keyed by their
    original date ("2024-11-14"), with excepted dates left out and changes applied
    (cancelled, moved start/end, venue, note). A change that gives a new start but no end
    keeps the occurrence's length. The RSVP deadline is the fixed moment, or the
    occurrence's (changed) start minus `rsvp_deadline_before`, or None (until it starts).
    """
    _require_aware(start, end)
    if event.rrule is None:
        if _inside(event.starts_at, start, end):
            return [_occurrence(event, ONCE, event.starts_at, event.ends_at, None)]
        return []
    zone = _zone_of(event)
    first = _wall(event.starts_at, zone)
    length = _wall(event.ends_at, zone) - first if event.ends_at is not None else None
    until = _wall(event.until, zone) if event.until is not None else None
    compiled = compile_rule(event.rrule, first, until)
    changes = {change.on: change for change in event.changes}
    low = _wall(start, zone) - _MARGIN
    high = _wall(end, zone) + _MARGIN
    found = []
    for moment in compiled.between(low, high, inc=True):
        day = moment.date()
        starts = _attach(moment, zone)
        if day in event.exdates or not _inside(starts, start, end):
            continue
        ends = _attach(moment + length, zone) if length is not None else None
        found.append(_occurrence(event, day.isoformat(), starts, ends, changes.get(day)))
    return sorted(found, key=_order)


def expand_calendar(calendar: Calendar, start: datetime, end: datetime) -> list[OccurrenceSpec]:
    """Every event's occurrences in [start, end), sorted by start, then event id and key."""
    return sorted(_all(calendar.events, start, end), key=_order)


def _all(events: Iterable[EventSpec], start: datetime, end: datetime) -> list[OccurrenceSpec]:
    return [occurrence for event in events for occurrence in expand(event, start, end)]


def _occurrence(
    event: EventSpec,
    key: str,
    starts: datetime,
    ends: datetime | None,
    change: OccurrenceChange | None,
) -> OccurrenceSpec:
    venue, note, cancelled = event.venue, event.note, event.cancelled
    if change is not None:
        starts, ends = _moved(starts, ends, change)
        venue = change.venue or venue
        note = change.note or note
        cancelled = cancelled or change.cancelled
    return OccurrenceSpec(
        event_slug=event.slug,
        key=key,
        starts_at=starts,
        ends_at=ends,
        cancelled=cancelled,
        venue=venue,
        note=note,
        rsvp_deadline=_deadline(event, starts),
    )


def _moved(
    starts: datetime, ends: datetime | None, change: OccurrenceChange
) -> tuple[datetime, datetime | None]:
    if change.starts_at is None:
        return starts, change.ends_at or ends
    if change.ends_at is not None:
        return change.starts_at, change.ends_at
    if ends is None:
        return change.starts_at, None
    zone = change.starts_at.tzinfo or UTC
    length = _wall(ends, zone) - _wall(starts, zone)
    return change.starts_at, _attach(_wall(change.starts_at, zone) + length, zone)


def _deadline(event: EventSpec, starts: datetime) -> datetime | None:
    if not event.rsvp:
        return None
    if event.rsvp_deadline is not None:
        return event.rsvp_deadline
    if event.rsvp_deadline_before is not None:
        # "1d" before means the same clock time the day before, in local wall time.
        zone = starts.tzinfo or UTC
        return _attach(_wall(starts, zone) - event.rsvp_deadline_before, zone)
    return None


def _order(occurrence: OccurrenceSpec) -> tuple[datetime, str, str]:
    return occurrence.starts_at.astimezone(UTC), occurrence.event_slug, occurrence.key


def _inside(moment: datetime, start: datetime, end: datetime) -> bool:
    # Compared in UTC: aware datetimes sharing a tzinfo compare by wall time, which is wrong
    # in the repeated hour when clocks go back.
    return start.astimezone(UTC) <= moment.astimezone(UTC) < end.astimezone(UTC)


def _zone_of(event: EventSpec) -> tzinfo:
    if event.starts_at.tzinfo is None:
        raise ValueError(f"event {event.slug} starts at a naive datetime; give it a time zone")
    return event.starts_at.tzinfo


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    """The naive local wall time of an aware moment in `zone`."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _attach(wall: datetime, zone: tzinfo) -> datetime:
    """The aware moment of a local wall time; a time skipped by a clock change moves forward."""
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def _require_aware(*moments: datetime) -> None:
    if any(moment.tzinfo is None or moment.utcoffset() is None for moment in moments):
        raise ValueError("the window must be given as timezone-aware datetimes")
