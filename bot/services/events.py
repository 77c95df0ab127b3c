"""予定: the next events for the member's regions, as a short list; each event's card on a tap.

A member on a phone reads one message: a line per event (when, what, where, their answer)
and a button per event, which shows that event's card (time, place, links, answer buttons).
A tap on 「予定」 or 「もっと見る」 so costs one message of the chat's rate budget (Telegram:
about one a second), however many events there are. Flyer deep links open a card directly.
"""

from __future__ import annotations

from dataclasses import replace

from bot.domain.events import Occurrence
from bot.domain.messages import Action, Button, Outgoing
from bot.services import event_cards
from bot.services.turn import StaleAction, Turn

# Events in one message of the list: five lines fit a phone screen with their buttons, and
# five buttons and 「もっと見る」 fit every channel (LINE: 13 quick replies) without paging.
PAGE = 5
# `Action("events", ("e<occurrence id>",))`: the button of one event in the list, which shows
# its card. (The list's own argument, where a page starts, is a bare number.)
CARD = "e"


def number(value: str) -> int:
    """A numeric button argument; anything else is a stale or forged button."""
    if not value.isdigit() or len(value) > 12:
        raise StaleAction(value)
    return int(value)


def card_for(
    turn: Turn, occurrence: Occurrence, *, more: int | None = None, hide_guests: bool = False
) -> Outgoing:
    """The occurrence's card on its own, as the member sees it now.

    Its answer buttons say so (`event_cards.ON_ITS_OWN`), so that the reply to one redraws
    this card in place. `more`: the card carries 「もっと見る」 for the events from `more` on;
    only cards sent before the list existed, one per event, ended a page so, and their answer
    buttons (`going.c3`) still redraw them as they were. `hide_guests`: the member is being
    asked how many come along, so the card says 「参加」 without the number about to change.
    """
    member = turn.member
    # Someone not stored yet (shown an event from a flyer before consenting) has no answer.
    rsvp = turn.uow.rsvps.get(occurrence.id, member.id) if member.id is not None else None
    if rsvp is not None and hide_guests:
        rsvp = replace(rsvp, guests=0)
    view = event_cards.ON_ITS_OWN if more is None else f"{event_cards.ON_ITS_OWN}{more}"
    card = event_cards.card(
        turn.texts,
        occurrence,
        turn.campaign.timezone,
        rsvp=rsvp,
        counts=turn.uow.rsvps.counts(occurrence.id),
        now=turn.now,
        organiser=member.is_organiser,
        view=view,
    )
    if more is None:
        return card
    texts = turn.texts
    button = Button(texts("events.more"), Action("events", (str(more),)))
    return replace(
        card,
        text=f"{card.text}\n\n{texts('events.more_hint')}",
        buttons=(*card.buttons, (button,)),
    )


def upcoming(turn: Turn, offset: str = "0") -> list[Outgoing]:
    """`PAGE` events at a time, soonest first, in one message; 「もっと見る」 for the next.

    `offset` is where the page starts, or `CARD` and an occurrence: an event's button in the
    list, which shows that event's card.
    """
    if offset.startswith(CARD):
        return _open(turn, offset.removeprefix(CARD))
    start = number(offset)
    member, texts, zone = turn.member, turn.texts, turn.campaign.timezone
    regions = turn.campaign.regions_shown_to(member.regions)
    found = turn.uow.calendar.upcoming(regions, turn.now, limit=PAGE + 1, offset=start)
    if not found:
        key = "events.none" if start == 0 else "events.end_of_list"
        return [turn.screens.with_menu(member, texts(key))]
    shown = found[:PAGE]
    answers = (
        turn.uow.rsvps.of_member(member.id, [o.id for o in shown]) if member.id is not None else {}
    )
    lines = [event_cards.list_line(texts, o, zone, answers.get(o.id)) for o in shown]
    rows = [
        (button,)
        for button in event_cards.open_buttons(
            texts, shown, zone, lambda o: Action("events", (f"{CARD}{o.id}",))
        )
    ]
    more = len(found) > PAGE
    if more:
        rows.append((Button(texts("events.more"), Action("events", (str(start + PAGE),))),))
    notes = [texts("events.pick"), texts("events.more_hint" if more else "events.end_of_list")]
    heading = [texts("events.heading")] if start == 0 else []
    text = "\n\n".join([*heading, "\n".join(lines), "\n".join(notes)])
    if more:
        return [Outgoing(text, buttons=tuple(rows))]
    # The menu goes with the end of the list; a channel that cannot show it next to the
    # events' buttons (Telegram, the console) leaves it out, and the member's menu stays.
    return [Outgoing(text, buttons=tuple(rows), menu=turn.screens.main_menu(member))]


def _open(turn: Turn, occurrence_id: str) -> list[Outgoing]:
    """An event's button in the list: its card, as a message of its own below the list, so
    that the list stays on screen for the next event."""
    occurrence = turn.uow.calendar.occurrence(number(occurrence_id))
    if occurrence is None or occurrence.removed:
        # Deleted from the schedule files since the list was shown.
        return [turn.screens.with_menu(turn.member, turn.texts("events.not_found"))]
    return [card_for(turn, occurrence)]


def open_link(turn: Turn, payload: str) -> list[Outgoing]:
    """`/start ev_<id>` from a flyer's QR code: the event's next date, as a card."""
    slug = payload.removeprefix("ev_")
    occurrence = turn.uow.calendar.next_of(slug, turn.now)
    if occurrence is None:
        return [turn.screens.with_menu(turn.member, turn.texts("events.not_found"))]
    return [card_for(turn, occurrence)]
