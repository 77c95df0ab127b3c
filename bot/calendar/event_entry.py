"""One event of a schedule file: its YAML shape, the checks across its keys, its EventSpec.

The format is documented for organisers in schedules/README.md. Locations in the checks are
relative to the event (`("repeat", "rule")`); `schedule_file` puts `events[i]` in front.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from bot.calendar.checks import end_before_start, repeat_problems, under
from bot.calendar.rules import parse_rule
from bot.calendar.values import (
    Address,
    Contact,
    Date,
    Deadline,
    Link,
    LocalTime,
    LongText,
    Name,
    Slug,
    Title,
    Weekday,
)
from bot.domain.calendar import EventKind, EventSpec, OccurrenceChange, Venue
from bot.domain.reminders import encode_overrides
from bot.yaml_validation import Loc
from bot.yaml_values import parse_date, parse_duration

RULE_MAX = 300  # the events table's rrule column


def _known_region(code: str, info: ValidationInfo) -> str:
    known: Collection[str] | None = (info.context or {}).get("regions")
    if known is not None and code not in known:
        raise ValueError(f"unknown region; known regions: {', '.join(known)}")
    return code


def _not_negative(value: int) -> int:
    if value < 0:
        raise ValueError("cannot be below zero; leave capacity out when there is no limit")
    return value


def _venue_shorthand(value: object) -> object:
    # `venue: 巣鴨駅` is enough when there is nothing more to say about the place.
    if isinstance(value, str):
        return {"name": value}
    return value


def _except_shorthand(value: object) -> object:
    # `- 2025-01-04` is the usual way to write an excepted date; parse it here so a mistake is
    # reported at the list item, as written, rather than at an invisible `date` key.
    if isinstance(value, dict):
        return value
    return {"date": parse_date(value)}


# Region codes are checked against the config's, passed as validation context {"regions": ...}.
Region = Annotated[str, AfterValidator(_known_region)]
Capacity = Annotated[int, AfterValidator(_not_negative)]


class Entry(BaseModel):
    """A mapping of a schedule file: unknown keys are mistakes, reported with the allowed ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class VenueEntry(Entry):
    name: Name
    address: Address | None = None
    map: Link | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    def problems(self) -> Iterator[tuple[Loc, str]]:
        if (self.lat is None) != (self.lon is None):
            missing = "lon" if self.lon is None else "lat"
            yield (missing,), "give both lat and lon, or neither"

    def to_venue(self) -> Venue:
        return Venue(self.name, self.address, self.map, self.lat, self.lon)


VenueField = Annotated[VenueEntry, BeforeValidator(_venue_shorthand)]


class ExceptEntry(Entry):
    date: Date
    weekday: Weekday | None = None


class ChangeEntry(Entry):
    date: Date
    weekday: Weekday | None = None
    cancelled: bool = False
    start: LocalTime | None = None
    end: LocalTime | None = None
    venue: VenueField | None = None
    note: LongText | None = None

    def says_something(self) -> bool:
        return self.cancelled or any(
            value is not None for value in (self.start, self.end, self.venue, self.note)
        )


class RemindersEntry(Entry):
    """An event's own reminder rules (config.yaml `reminders:` gives the defaults)."""

    enabled: bool | None = None
    day_before_at: LocalTime | None = None
    same_day_before: Annotated[timedelta, BeforeValidator(parse_duration)] | None = None
    invite: bool | None = None
    nudge_before: Annotated[timedelta, BeforeValidator(parse_duration)] | None = None
    digest: bool | None = None

    def encoded(self) -> dict[str, Any]:
        return encode_overrides(self.model_dump(exclude_none=True))


def _reminders_shorthand(value: object) -> object:
    """`reminders: false` turns them off for the event; `true` keeps the defaults."""
    if value is False:
        return {"enabled": False}
    if value is True:
        return {}
    return value


class RepeatEntry(Entry):
    rule: str = Field(min_length=1, max_length=RULE_MAX)
    until: Date | None = None
    except_: list[Annotated[ExceptEntry, BeforeValidator(_except_shorthand)]] = Field(
        default=[], alias="except"
    )
    changes: list[ChangeEntry] = []


class EventEntry(Entry):
    id: Slug
    title: Title
    kind: EventKind
    date: Date
    weekday: Weekday | None = None
    start: LocalTime
    end: LocalTime | None = None
    end_date: Date | None = None
    venue: VenueField | None = None
    online: Link | None = None
    regions: list[Region] | None = None
    description: LongText = ""
    bring: LongText | None = None
    capacity: Capacity | None = None
    rsvp: bool = True
    rsvp_deadline: Deadline | None = None
    contact: Contact | None = None
    cancelled: bool = False
    note: LongText | None = None
    repeat: RepeatEntry | None = None
    reminders: Annotated[RemindersEntry, BeforeValidator(_reminders_shorthand)] | None = None

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.date, self.start)

    @property
    def ends(self) -> datetime | None:
        if self.end is None:
            return None
        return datetime.combine(self.end_date or self.date, self.end)

    @property
    def span(self) -> timedelta:
        """How many days after its start day an occurrence ends (0 for a one-day event)."""
        return (self.end_date or self.date) - self.date

    def problems(self) -> Iterator[tuple[Loc, str]]:
        """Checks across keys. The weekday checks run apart, on what was written."""
        yield from self._time_problems()
        yield from self._deadline_problems()
        if self.venue is not None:
            yield from under(("venue",), self.venue.problems())
        if self.repeat is not None:
            yield from repeat_problems(self, self.repeat)

    def _time_problems(self) -> Iterator[tuple[Loc, str]]:
        if self.end_date is not None and self.end is None:
            yield ("end_date",), "give end: too, the time the event ends on end_date"
        if self.end_date is not None and self.end_date < self.date:
            yield ("end_date",), f"{self.end_date} is before date: {self.date}"
            return
        ends = self.ends
        if ends is not None and ends <= self.starts:
            yield ("end",), end_before_start(self.starts, ends, multi_day=self.end_date)

    def _deadline_problems(self) -> Iterator[tuple[Loc, str]]:
        deadline = self.rsvp_deadline
        if deadline is None:
            return
        if not self.rsvp:
            yield ("rsvp_deadline",), "has no effect because rsvp is false; remove one of them"
        elif isinstance(deadline, timedelta):
            if deadline <= timedelta(0):
                yield ("rsvp_deadline",), "must be longer than zero"
        elif self.repeat is not None:
            yield (
                ("rsvp_deadline",),
                'a repeating event needs a length of time before each occurrence, such as "1d", '
                "not a date and time",
            )
        elif deadline > self.starts:
            yield (
                ("rsvp_deadline",),
                f"{deadline:%Y-%m-%d %H:%M} is after the event starts "
                f"({self.starts:%Y-%m-%d %H:%M})",
            )

    def to_spec(
        self,
        *,
        source: str,
        organiser: str,
        contact: str | None,
        regions: Collection[str],
        zone: ZoneInfo,
    ) -> EventSpec:
        """The EventSpec of a checked entry; the file's contact and regions fill the gaps."""
        repeat = self.repeat
        rule = parse_rule(repeat.rule) if repeat is not None else None
        until = (repeat.until if repeat else None) or (rule.until if rule else None)
        excepted = repeat.except_ if repeat else []
        changes = repeat.changes if repeat else []
        deadline = self.rsvp_deadline
        ends = self.ends
        return EventSpec(
            slug=self.id,
            source=source,
            title=self.title,
            kind=self.kind,
            starts_at=self.starts.replace(tzinfo=zone),
            ends_at=ends.replace(tzinfo=zone) if ends is not None else None,
            regions=frozenset(self.regions or regions),
            description=self.description,
            venue=self.venue.to_venue() if self.venue is not None else None,
            online_url=self.online,
            bring=self.bring,
            capacity=self.capacity,
            rsvp=self.rsvp,
            rsvp_deadline=deadline.replace(tzinfo=zone) if isinstance(deadline, datetime) else None,
            rsvp_deadline_before=deadline if isinstance(deadline, timedelta) else None,
            contact=self.contact or contact,
            organiser=organiser,
            cancelled=self.cancelled,
            note=self.note,
            rrule=rule.text if rule is not None else None,
            # The rule's last day, at the event's time: RFC 5545's UNTIL includes that occurrence.
            until=datetime.combine(until, self.start, zone) if until is not None else None,
            exdates=frozenset(item.date for item in excepted),
            changes=tuple(self._change(change, zone) for change in changes),
            reminders=self.reminders.encoded() if self.reminders is not None else None,
        )

    def _change(self, change: ChangeEntry, zone: ZoneInfo) -> OccurrenceChange:
        last_day = change.date + self.span
        return OccurrenceChange(
            on=change.date,
            cancelled=change.cancelled,
            starts_at=datetime.combine(change.date, change.start, zone) if change.start else None,
            ends_at=datetime.combine(last_day, change.end, zone) if change.end else None,
            venue=change.venue.to_venue() if change.venue is not None else None,
            note=change.note,
        )
