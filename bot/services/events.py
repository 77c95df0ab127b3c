"""予定: the next events for the member's regions, as cards; deep links to one event."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.events import Occurrence
from bot.domain.messages import Action, Button, Outgoing
from bot.services import event_cards
from bot.services.turn import StaleAction, Turn

PAGE = 3


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
    this card in place. `more`: the card ends a page of 予定 and carries 「もっと見る」 for the
    events from `more` on. `hide_guests`: the member is being asked how many come along, so
    the card says 「参加」 without the number about to change.
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
    """Three events at a time, soonest first; 「もっと見る」 for the next three.

    One message per event card, so each card keeps its own answer buttons; the heading rides
    on the first card and 「もっと見る」 (or 「ここまで」) on the last, so a tap costs at most
    `PAGE` messages of the chat's rate budget (Telegram: about one a second).
    """
    start = number(offset)
    regions = turn.campaign.regions_shown_to(turn.member.regions)
    found = turn.uow.calendar.upcoming(regions, turn.now, limit=PAGE + 1, offset=start)
    texts = turn.texts
    if not found:
        key = "events.none" if start == 0 else "events.end_of_list"
        return [turn.screens.with_menu(turn.member, texts(key))]
    more = start + PAGE if len(found) > PAGE else None
    shown = found[:PAGE]
    cards = [
        card_for(turn, occurrence, more=more if index == len(shown) - 1 else None)
        for index, occurrence in enumerate(shown)
    ]
    if start == 0:
        cards[0] = replace(cards[0], text=f"{texts('events.heading')}\n\n{cards[0].text}")
    if more is None:
        # The menu goes with the last card; a channel that cannot show it next to the card's
        # buttons (Telegram, the console) leaves it out, and the member's menu stays as it was.
        last = cards[-1]
        cards[-1] = replace(
            last,
            text=f"{last.text}\n\n{texts('events.end_of_list')}",
            menu=turn.screens.main_menu(turn.member),
        )
    return cards


def open_link(turn: Turn, payload: str) -> list[Outgoing]:
    """`/start ev_<id>` from a flyer's QR code: the event's next date, as a card."""
    slug = payload.removeprefix("ev_")
    occurrence = turn.uow.calendar.next_of(slug, turn.now)
    if occurrence is None:
        return [turn.screens.with_menu(turn.member, turn.texts("events.not_found"))]
    return [card_for(turn, occurrence)]
