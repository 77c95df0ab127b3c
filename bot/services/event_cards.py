"""How an event looks in a chat: a card with its date, place, links and answer buttons.

Members never read a web address: the map, the online meeting and any page named in an
event's description or note are `Link`s under the card, offered by name (「地図を開く」).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from bot.calendar.ics import occurrence_ics
from bot.domain.capabilities import CALENDAR_MEDIA_TYPE, PRESETS
from bot.domain.events import Occurrence, Rsvp, RsvpCounts, RsvpStatus
from bot.domain.messages import Action, Attachment, Button, Link, Outgoing
from bot.texts import Texts

# Written after the answer in the buttons of a card shown on its own (`going.c`): the reply to
# such a press redraws that card in place. Cards inside a notice, a reminder or a broadcast
# carry plain answers (`going`), so that pressing one never overwrites the words around it. A
# card that also carries the "show more" button (the last of a page of events) adds where the
# next page starts (`going.c3`), so that it is redrawn with it.
ON_ITS_OWN = "c"

# An event's button in the list of 予定 fits every channel's labels (LINE: 20 characters) as
# it is: a channel that has to shorten a label also lists it in full in the message.
LABEL_CHARS = min(channel.max_label_chars for channel in PRESETS.values())

# A web address written into an event's free text (「参加登録：https://x.gd/lDodk」). It ends at
# white space or at a closing bracket, which Japanese text puts straight after it.
_ADDRESS = re.compile(r"https?://[^\s<>「」『』（）()【】、。]+", re.IGNORECASE)


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


def list_line(texts: Texts, occurrence: Occurrence, zone: tzinfo, rsvp: Rsvp | None) -> str:
    """One event in the list of 予定, and the member's answer if there is one:
    「・12月7日(月) 13:00 保険証を残せ 12.7大集会（日比谷野外音楽堂） ［返事: 参加］」."""
    line = texts(
        "events.list_line",
        when=texts.format_datetime(occurrence.starts_at, zone),
        title=_titled(texts, occurrence, occurrence.title),
    )
    if occurrence.venue_name:
        line += texts("events.list_place", venue=occurrence.venue_name)
    if rsvp is not None:
        line += texts("events.list_answer", answer=answer_label(texts, rsvp))
    return line


def open_buttons(
    texts: Texts,
    occurrences: list[Occurrence],
    zone: tzinfo,
    action: Callable[[Occurrence], Action],
) -> list[Button]:
    """The events' buttons in the list of 予定: each its date and as much of its title as fits
    `LABEL_CHARS` (「12月7日 保険証を残せ 12.7大集…」); two that would read the same (two
    events of one day, their titles alike) show their times too."""
    buttons = [_open_button(texts, o, zone, action(o)) for o in occurrences]
    seen = Counter(button.label for button in buttons)
    return [
        _open_button(texts, o, zone, button.action, timed=True)
        if seen[button.label] > 1
        else button
        for o, button in zip(occurrences, buttons, strict=True)
    ]


def _open_button(
    texts: Texts, occurrence: Occurrence, zone: tzinfo, action: Action, *, timed: bool = False
) -> Button:
    local = occurrence.starts_at.astimezone(zone)
    day = {"month_name": texts.words("months")[local.month - 1], "day": local.day}
    if timed:
        day["time"] = f"{local.hour}:{local.minute:02d}"
    key = "events.open_button_timed" if timed else "events.open_button"
    # A date at the title's start (「11.7 保険証残せ大集会」) says again what the label says.
    title = re.sub(rf"^{local.month}[./]{local.day}(?!\d)\s*", "", occurrence.title)
    title = _titled(texts, occurrence, title or occurrence.title)
    room = LABEL_CHARS - len(texts(key, title="", **day))
    if len(title) > room:
        cut = title[: max(room - 1, 1)]
        space = cut.rfind(" ")
        if space >= len(cut) * 2 // 3:  # a word cut near its start is left out whole
            cut = cut[:space]
        title = cut.rstrip() + "…"
    return Button(texts(key, title=title, **day)[:LABEL_CHARS], action)


def _titled(texts: Texts, occurrence: Occurrence, title: str) -> str:
    return texts("events.cancelled") + title if occurrence.cancelled else title


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
    links = Links(texts)
    if occurrence.map_url:
        links.add(occurrence.map_url, texts("events.map_link"))
    if occurrence.online_url and not occurrence.cancelled:
        links.add(occurrence.online_url, texts("events.online_link"))
    named = links.named
    optional = [
        venue_line(texts, occurrence),
        named(occurrence.description.strip()),
        occurrence.bring and texts("events.bring", bring=named(occurrence.bring)),
        occurrence.organiser and texts("events.organiser", organiser=occurrence.organiser),
        occurrence.contact and texts("events.contact", contact=named(occurrence.contact)),
        occurrence.note and texts("events.note", note=named(occurrence.note)),
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
    return Outgoing("\n".join(lines), buttons=tuple(rows), links=links.found)


class Links:
    """The web pages of one card, each offered once, by name.

    `add` names a page the card offers anyway (the map); `named` takes free text written by
    organisers (a description, a note) and puts each address in it under the card as well,
    leaving in the text only where to find it: 「参加登録：下の「関連ページを開く」から」.
    """

    def __init__(self, texts: Texts) -> None:
        self._texts = texts
        self._pages = 0
        self.found: tuple[Link, ...] = ()

    def add(self, url: str, label: str) -> str:
        """The name under which `url` is offered (its first one, if it is offered already)."""
        for link in self.found:
            if link.url == url:
                return link.label
        self.found = (*self.found, Link(label, url))
        return label

    def named(self, text: str) -> str:
        """`text` with its web addresses replaced by where to find them under the card."""
        return _ADDRESS.sub(self._pointer, text)

    def _pointer(self, match: re.Match[str]) -> str:
        address = match.group(0)
        url = address.rstrip(".,;:!?")  # the end of an English sentence, not of the address
        scheme, _, rest = url.partition("://")
        if not rest:
            return address
        url = f"{scheme.lower()}://{rest}"
        if not any(link.url == url for link in self.found):
            self._pages += 1
        label = self._texts("events.page_link")
        if self._pages > 1:
            label = self._texts("events.page_link_numbered", n=self._pages)
        label = self.add(url, label)
        return self._texts("events.see_link", label=label) + address[len(scheme) + 3 + len(rest) :]


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
        media_type=CALENDAR_MEDIA_TYPE,
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
