"""参加 / 未定 / 不参加, guests, capacity, the waiting list, and the calendar file.

What a member goes through after 参加する: how many come along (only the numbers that still
fit; not asked at all when no seat is left for a guest), then the confirmation with
「カレンダーに追加」. The answer is stored in the turn that receives the press, before anything
is sent; the .ics file goes only when 「カレンダーに追加」 is pressed, so a file that fails to
arrive cannot spoil the answer. A card pressed on its own is redrawn in place with the new
answer (`event_cards.ON_ITS_OWN`), so no card keeps showing an answer that changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.capabilities import CALENDAR_MEDIA_TYPE, PRESETS
from bot.domain.deliveries import WAITLIST_PROMOTED, About
from bot.domain.events import MAX_GUESTS, Occurrence, Rsvp, RsvpStatus
from bot.domain.messages import Action, Button, Outgoing
from bot.domain.ports import UnitOfWork
from bot.services import event_cards
from bot.services.events import card_for, number
from bot.services.turn import StaleAction, Turn, choice

# The "add to calendar" button rides on the `rsvp` action (`rsvp:<occurrence>:calendar`): the
# press needs what an answer needs (an occurrence still shown to members, a member who
# consented), and the button table (`Conversation._presses`) is not this module's.
CALENDAR = "calendar"


@dataclass(frozen=True)
class _Pressed:
    """Where an answer button was pressed: on a card on its own (redrawn in place), maybe one
    that ends a page of 予定 (`more`), or inside another message (a reminder, a notice)."""

    on_card: bool = False
    more: int | None = None


def _read_answer(value: str) -> tuple[str, _Pressed]:
    """`going`, `going.c` or `going.c3` (see `event_cards.ON_ITS_OWN`)."""
    status, dot, view = value.partition(".")
    if not dot:
        return status, _Pressed()
    marker, rest = view[:1], view[1:]
    if marker != event_cards.ON_ITS_OWN:
        raise StaleAction(value)
    return status, _Pressed(on_card=True, more=number(rest) if rest else None)


def _closed(turn: Turn, occurrence: Occurrence) -> str | None:
    """Why answers cannot change now, as a text key, or None when they can."""
    if occurrence.cancelled:
        return "rsvp.cancelled"
    if not occurrence.rsvp_enabled:
        return "rsvp.not_open"
    if turn.now >= occurrence.answers_close_at():
        return "rsvp.closed"
    return None


def answer(turn: Turn, occurrence: Occurrence, value: str) -> list[Outgoing]:
    """参加 / 未定 / 行けない on an occurrence (held by `buttons.occurrence_to_answer`), or
    「カレンダーに追加」 (`CALENDAR`)."""
    if value == CALENDAR:
        return calendar(turn, occurrence)
    status, pressed = _read_answer(value)
    wanted = choice(RsvpStatus, status)
    if wanted is RsvpStatus.WAITLIST:  # members never choose the waiting list themselves
        raise StaleAction(status)
    uow, member = turn.uow, turn.member
    assert member.id is not None
    reason = _closed(turn, occurrence)
    if reason:
        return _with_card(turn, occurrence, pressed, Outgoing(turn.texts(reason)))
    rsvp = uow.rsvps.get(occurrence.id, member.id)
    was_going = rsvp is not None and rsvp.status is RsvpStatus.GOING
    if rsvp is None:
        rsvp = Rsvp(occurrence.id, member.id, wanted, 0, turn.now, turn.now)
    elif rsvp.status is wanted or (
        rsvp.status is RsvpStatus.WAITLIST and wanted is RsvpStatus.GOING
    ):
        # The same answer again: confirm it, and let someone going change their guests.
        return _after_answer(turn, occurrence, rsvp, pressed)
    rsvp.updated_at = turn.now
    if wanted is RsvpStatus.GOING:
        counts = uow.rsvps.counts(occurrence.id)
        if occurrence.capacity is not None and counts.people + 1 > occurrence.capacity:
            rsvp.status, rsvp.guests, rsvp.waitlisted_at = RsvpStatus.WAITLIST, 0, turn.now
        else:
            rsvp.status, rsvp.waitlisted_at = RsvpStatus.GOING, None
    else:
        rsvp.status, rsvp.guests, rsvp.waitlisted_at = wanted, 0, None
    uow.rsvps.save(rsvp)
    if was_going and rsvp.status is not RsvpStatus.GOING:
        promote_waiting(uow, occurrence, turn.now)
    return _after_answer(turn, occurrence, rsvp, pressed)


def _after_answer(
    turn: Turn, occurrence: Occurrence, rsvp: Rsvp, pressed: _Pressed
) -> list[Outgoing]:
    """The pressed card redrawn (when it was one), then the guest question or the
    confirmation."""
    texts = turn.texts
    if rsvp.status is RsvpStatus.GOING:
        room = _guest_room(turn.uow, occurrence, rsvp)
        if room > 0:
            question = _guest_question(turn, occurrence, room)
            return _with_card(turn, occurrence, pressed, question, asking_guests=True)
        # No seat left for a guest: nothing to ask, only to say why it is not asked.
        note = texts("rsvp.no_seats_for_guests") if rsvp.guests == 0 else ""
        confirmation = _confirmation(turn, occurrence, rsvp, note)
        return _with_card(turn, occurrence, pressed, confirmation)
    if rsvp.status is RsvpStatus.WAITLIST:
        told = turn.screens.with_menu(turn.member, texts("rsvp.waitlisted"))
    else:
        day = texts.format_date(occurrence.starts_at, turn.campaign.timezone)
        said = texts(f"rsvp.{rsvp.status}", title=occurrence.title, day=day)
        told = turn.screens.with_menu(turn.member, said)
    return _with_card(turn, occurrence, pressed, told)


def _with_card(
    turn: Turn,
    occurrence: Occurrence,
    pressed: _Pressed,
    reply: Outgoing,
    *,
    asking_guests: bool = False,
) -> list[Outgoing]:
    """`reply`, after the pressed card redrawn in place with the answer as it now stands.

    A press from inside another message (a reminder, a change notice, a broadcast) leaves that
    message alone; when answers are closed, the card comes anyway (as a new message), so the
    member sees why the buttons are gone.
    """
    if pressed.on_card:
        card = card_for(turn, occurrence, more=pressed.more, hide_guests=asking_guests)
        return [_replacing(card), reply]
    if _closed(turn, occurrence):
        return [reply, card_for(turn, occurrence)]
    return [reply]


def _guest_room(uow: UnitOfWork, occurrence: Occurrence, rsvp: Rsvp) -> int:
    """How many guests the member going may bring: what the seats left allow, at most
    `MAX_GUESTS` (their own guests count as theirs)."""
    if occurrence.capacity is None:
        return MAX_GUESTS
    others = uow.rsvps.counts(occurrence.id).people - rsvp.people
    return min(MAX_GUESTS, occurrence.capacity - others - 1)


def _guest_question(turn: Turn, occurrence: Occurrence, room: int) -> Outgoing:
    """ひとりで行く, 1人 ... as many as still fit: every choice shown is one that is taken."""
    texts = turn.texts
    options = [
        Button(
            texts("rsvp.guests_none") if n == 0 else texts("rsvp.guests_some", n=n),
            Action("guests", (str(occurrence.id), str(n))),
        )
        for n in range(room + 1)
    ]
    ask = texts("rsvp.ask_guests")
    if room < MAX_GUESTS:
        ask = f"{ask}\n{texts('rsvp.guests_up_to', max=room)}"
    return Outgoing(ask, buttons=((options[0],), tuple(options[1:])))


def _confirmation(turn: Turn, occurrence: Occurrence, rsvp: Rsvp, note: str = "") -> Outgoing:
    """参加, with the guests, and 「カレンダーに追加」 where the channel can deliver a
    calendar file (as a file, or as a link on LINE)."""
    texts = turn.texts
    day = texts.format_date(occurrence.starts_at, turn.campaign.timezone)
    if rsvp.guests:
        said = texts("rsvp.going_with_guests", title=occurrence.title, day=day, n=rsvp.guests)
    else:
        said = texts("rsvp.going", title=occurrence.title, day=day)
    text = f"{note}\n{said}" if note else said
    channel = PRESETS.get(turn.member.channel)
    if channel is not None and not channel.delivers(CALENDAR_MEDIA_TYPE):
        return turn.screens.with_menu(turn.member, text)
    button = Button(texts("rsvp.calendar_button"), Action("rsvp", (str(occurrence.id), CALENDAR)))
    return Outgoing(text, buttons=((button,),))


def guests(turn: Turn, occurrence: Occurrence, wanted: int) -> list[Outgoing]:
    """How many come along (held by `buttons.occurrence_to_answer`); the question pressed
    becomes the confirmation."""
    uow, member, texts = turn.uow, turn.member, turn.texts
    assert member.id is not None
    if wanted > MAX_GUESTS:
        raise StaleAction(f"{wanted} guests")
    reason = _closed(turn, occurrence)
    if reason:
        return [Outgoing(texts(reason), replace=True), card_for(turn, occurrence)]
    rsvp = uow.rsvps.get(occurrence.id, member.id)
    if rsvp is None or rsvp.status is not RsvpStatus.GOING:
        return [Outgoing(texts("rsvp.guests_not_going"), replace=True), card_for(turn, occurrence)]
    room = _guest_room(uow, occurrence, rsvp)
    if wanted > room:
        # Seats went to others since the question was shown: ask again with what fits now,
        # or, with no seat left for a guest, keep the answer as it is.
        if room > 0:
            question = _guest_question(turn, occurrence, room)
            text = f"{texts('rsvp.seats_taken')}\n{question.text}"
            return [Outgoing(text, buttons=question.buttons, replace=True)]
        note = texts("rsvp.no_seats_for_guests")
        return [_replacing(_confirmation(turn, occurrence, rsvp, note))]
    fewer = wanted < rsvp.guests
    rsvp.guests, rsvp.updated_at = wanted, turn.now
    uow.rsvps.save(rsvp)
    if fewer:
        promote_waiting(uow, occurrence, turn.now)
    return [_replacing(_confirmation(turn, occurrence, rsvp))]


def _replacing(reply: Outgoing) -> Outgoing:
    """`reply` in place of the message whose button was pressed, where the channel can."""
    return replace(reply, replace=True)


def calendar(turn: Turn, occurrence: Occurrence) -> list[Outgoing]:
    """「カレンダーに追加」: the occurrence as an .ics file, apart from any answer."""
    texts = turn.texts
    if occurrence.cancelled:
        return [turn.screens.with_menu(turn.member, texts("rsvp.cancelled"))]
    return [
        Outgoing(
            texts("rsvp.calendar_file", title=occurrence.title),
            attachments=(event_cards.calendar_file(occurrence),),
        )
    ]


def promote_waiting(uow: UnitOfWork, occurrence: Occurrence, now: datetime) -> int:
    """Give freed seats to the waiting list, first come first; each promoted member is told."""
    if occurrence.capacity is None or occurrence.cancelled:
        return 0
    promoted = 0
    people = uow.rsvps.counts(occurrence.id).people
    for waiting in uow.rsvps.waitlist(occurrence.id):
        if people + 1 > occurrence.capacity:
            break
        waiting.status, waiting.waitlisted_at, waiting.updated_at = RsvpStatus.GOING, None, now
        uow.rsvps.save(waiting)
        people += 1
        promoted += 1
        member = uow.members.get_by_id(waiting.member_id)
        if member is None:
            continue
        uow.outbox.enqueue(
            WAITLIST_PROMOTED,
            # One notice per promotion, even if the same member is promoted again later.
            f"occurrence:{occurrence.id}:{int(now.timestamp())}",
            member,
            {"kind": WAITLIST_PROMOTED},
            now,
            about=About(occurrence_id=occurrence.id, expect_rsvp=frozenset({RsvpStatus.GOING})),
        )
    return promoted
