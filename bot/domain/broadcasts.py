"""Organisers' announcements (一斉送信): whom they reach, how they are cut into messages, and
what is reported back. Pure: the store keeps them, the outbox sends them."""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from bot.domain.deliveries import Audience
from bot.domain.events import RsvpStatus

MAX_TEXT_CHARS = 4000
"""One message's share of a broadcast: inside Telegram's 4,096 and LINE's 5,000 characters,
with room for the channel's own additions."""

MAX_BROADCAST_CHARS = 20_000
"""A broadcast longer than this is a document, not a message: the organiser is told to
shorten it (or link to it)."""

CONFIRM_ABOVE = 500
"""Audiences larger than this need a second confirmation (configurable)."""

PART_SPACING = timedelta(seconds=2)
"""Part k of every member's copy is due this much after part k-1: the outbox sends by due
time, so each member reads the parts in order."""


SKIP_CANCELLED = "broadcast cancelled"
"""Why the rows of a cancelled broadcast that had not gone yet were skipped."""


class BroadcastStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # 予約: queued for a later moment, it can still be cancelled whole
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset({BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING})


class TargetError(ValueError):
    """A target the organiser wrote that does not say whom to reach."""


TARGET_STATUSES: dict[str, RsvpStatus] = {
    "going": RsvpStatus.GOING,
    "maybe": RsvpStatus.MAYBE,
    "no": RsvpStatus.NO,
}


@dataclass(frozen=True)
class Target:
    """Whom a broadcast reaches: everyone, the members of a region, or those who gave one of
    `answers` to an occurrence. Written as `all`, `region:CODE` or `event:ID:going[,maybe]`."""

    region: str | None = None
    occurrence_id: int | None = None
    answers: frozenset[RsvpStatus] = frozenset()

    def __post_init__(self) -> None:
        if self.region is not None and self.occurrence_id is not None:
            raise TargetError("a target is a region or an event, not both")
        if (self.occurrence_id is None) != (not self.answers):
            raise TargetError("an event target needs the answers it reaches")

    @property
    def everyone(self) -> bool:
        return self.region is None and self.occurrence_id is None

    def audience(self) -> Audience:
        if self.region is not None:
            return Audience(regions=frozenset({self.region}))
        if self.occurrence_id is not None:
            return Audience(occurrence_id=self.occurrence_id, rsvp_statuses=self.answers)
        return Audience(everyone=True)

    def encode(self) -> str:
        if self.region is not None:
            return f"region:{self.region}"
        if self.occurrence_id is not None:
            names = [name for name, status in TARGET_STATUSES.items() if status in self.answers]
            return f"event:{self.occurrence_id}:{','.join(names)}"
        return "all"

    @classmethod
    def parse(cls, written: str) -> Target:
        """`all`, `region:CODE` or `event:OCCURRENCE_ID:going[,maybe,no]` (as encoded)."""
        kind, _, rest = written.strip().partition(":")
        if kind == "all" and not rest:
            return cls()
        if kind == "region" and re.fullmatch(r"[a-z0-9_-]{1,32}", rest):
            return cls(region=rest)
        if kind == "event":
            number, _, answers = rest.partition(":")
            names = [name.strip() for name in (answers or "going").split(",")]
            unknown = [name for name in names if name not in TARGET_STATUSES]
            if number.isdigit() and not unknown:
                return cls(
                    occurrence_id=int(number),
                    answers=frozenset(TARGET_STATUSES[name] for name in names),
                )
        raise TargetError(
            f"{written!r}: write all, region:CODE or event:OCCURRENCE_ID:going "
            "(answers: going, maybe, no, separated by commas)"
        )


@dataclass(frozen=True)
class Reach:
    """What a target comes to now: who gets it, and who is left out and why."""

    recipients: int
    stopped: int
    """Members of the target who stopped notifications (/stop) or never agreed to them."""
    unreachable: int
    """Members of the target who blocked the bot or left the platform."""
    by_channel: Mapping[str, int] = field(default_factory=dict)
    """The recipients on each channel (LINE counts what it sends against a monthly quota)."""

    def on(self, channel: str) -> int:
        """How many of the recipients are on `channel`."""
        return self.by_channel.get(channel, 0)


@dataclass(frozen=True)
class Broadcast:
    id: int
    author: str
    target: Target
    text: str
    status: BroadcastStatus
    urgent: bool
    send_at: datetime
    created_at: datetime
    recipients: int
    parts: int = 1
    occurrence_id: int | None = None
    author_member_id: int | None = None
    cancelled_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class Progress:
    """A broadcast's deliveries by state, counted from the outbox (members, not messages)."""

    recipients: int
    sent: int = 0
    waiting: int = 0
    skipped_stopped: int = 0
    skipped_unreachable: int = 0
    skipped_cancelled: int = 0
    skipped_other: int = 0
    failed: int = 0

    @property
    def finished(self) -> bool:
        return self.waiting == 0

    @property
    def done(self) -> int:
        return self.recipients - self.waiting


def split_for_sending(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    """`text` as messages of at most `limit` characters, cut after a paragraph, else after a
    sentence (。！？!? or a full stop and a space), else at a line break, else hard. Nothing is
    lost or repeated: the parts joined are the text (minus the whitespace at the cuts)."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = _last_cut(window)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"[。！？!?]+[」』)）]*|\.[」』)）]*(?=\s)")
_LINE = re.compile(r"\n")


def _last_cut(window: str) -> int:
    """Where to cut `window`: the end of its last paragraph, sentence or line in the second
    half (a cut earlier would leave a stub of a message), else its end."""
    for pattern in (_PARAGRAPH, _SENTENCE, _LINE):
        ends = [m.end() for m in pattern.finditer(window) if m.end() > len(window) // 2]
        if ends:
            return ends[-1]
    return len(window)


def delivery_time(messages: int, per_second: float) -> timedelta:
    """How long `messages` take at the channel's sustained rate (a whole second at least)."""
    if messages <= 0:
        return timedelta(0)
    return timedelta(seconds=max(1, math.ceil(messages / per_second)))


@dataclass(frozen=True)
class BroadcastSettings:
    """From the config: the channel's sustained rate (for the time a broadcast takes), the
    audience size above which a second confirmation is asked, and the quiet hours a normal
    broadcast waits out."""

    per_second: float = 25.0
    confirm_above: int = CONFIRM_ABOVE
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)


_NUMBER = re.compile(r"\d+")
_WEEKDAY = re.compile(r"\([^)]{1,3}\)")


def parse_when(written: str, now: datetime, zone: tzinfo) -> datetime | None:
    """A date and time as an organiser types it: 「12/3 9:00」「12月3日 9時」「12月3日(木) 9時30分」
    「2026-12-03 09:00」: its numbers, in that order (a year of four digits first, if any),
    with at most a few characters between them. Without a year: the next such date from
    `now`. None if it is not one. The preview shows what was understood."""
    text = _WEEKDAY.sub(" ", unicodedata.normalize("NFKC", written)).strip()
    numbers = [int(n) for n in _NUMBER.findall(text)]
    gaps = _NUMBER.split(text)
    if any(len(gap.strip()) > 2 for gap in gaps) or not text[:1].isdigit():
        return None
    year: int | None = None
    if numbers and len(_NUMBER.findall(text)[0]) == 4:
        year = numbers.pop(0)
    if len(numbers) not in (3, 4):
        return None
    month, day, hour = numbers[:3]
    minute = numbers[3] if len(numbers) == 4 else 0
    if hour > 23 or minute > 59:
        return None
    given_year = year is not None
    year = year if year is not None else now.astimezone(zone).year
    try:
        moment = datetime.combine(date(year, month, day), time(hour, minute), tzinfo=zone)
    except ValueError:
        return None
    if not given_year and moment < now - timedelta(days=180):
        # 「1/5」 written in December is next January; 「11/29」 written on the 30th is a
        # slip the organiser is told about (it has passed), not a date a year away.
        return parse_when(f"{year + 1}/{month}/{day} {hour}:{minute}", now, zone)
    return moment
