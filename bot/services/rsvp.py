"""参加 / 未定 / 不参加, guests, capacity and the waiting list."""

from __future__ import annotations

from datetime import datetime

from bot.domain.deliveries import WAITLIST_PROMOTED, About
from bot.domain.events import MAX_GUESTS, Occurrence, Rsvp, RsvpStatus
from bot.domain.messages import Action, Button, Outgoing
from bot.domain.ports import UnitOfWork
from bot.services import event_cards
from bot.services.events import card_for
from bot.services.turn import StaleAction, Turn, choice


def _closed(turn: Turn, occurrence: Occurrence) -> str | None:
    """Why answers cannot change now, as a text key, or None when they can."""
    if occurrence.cancelled:
        return "rsvp.cancelled"
    if not occurrence.rsvp_enabled:
        return "rsvp.not_open"
    if turn.now >= occurrence.answers_close_at():
        return "rsvp.closed"
    return None


def answer(turn: Turn, occurrence: Occurrence, status: str) -> list[Outgoing]:
    """参加 / 未定 / 行けない on an occurrence (held by `buttons.occurrence_to_answer`)."""
    wanted = choice(RsvpStatus, status)
    if wanted is RsvpStatus.WAITLIST:  # members never choose the waiting list themselves
        raise StaleAction(status)
    uow, member = turn.uow, turn.member
    assert member.id is not None
    reason = _closed(turn, occurrence)
    if reason:
        return [Outgoing(turn.texts(reason)), card_for(turn, occurrence)]
    rsvp = uow.rsvps.get(occurrence.id, member.id)
    was_going = rsvp is not None and rsvp.status is RsvpStatus.GOING
    if rsvp is None:
        rsvp = Rsvp(occurrence.id, member.id, wanted, 0, turn.now, turn.now)
    elif rsvp.status is wanted or (
        rsvp.status is RsvpStatus.WAITLIST and wanted is RsvpStatus.GOING
    ):
        # The same answer again: confirm it, and let someone going change their guests.
        return _replies_after_answer(turn, occurrence, rsvp)
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
    return _replies_after_answer(turn, occurrence, rsvp)


def _replies_after_answer(turn: Turn, occurrence: Occurrence, rsvp: Rsvp) -> list[Outgoing]:
    replies = [_confirmation(turn, occurrence, rsvp)]
    if rsvp.status is RsvpStatus.GOING:
        replies.append(_guest_question(turn, occurrence))
    return replies


def _confirmation(turn: Turn, occurrence: Occurrence, rsvp: Rsvp) -> Outgoing:
    texts = turn.texts
    if rsvp.status is RsvpStatus.GOING:
        return Outgoing(
            texts("rsvp.going", title=occurrence.title),
            attachments=(event_cards.calendar_file(occurrence),),
        )
    if rsvp.status is RsvpStatus.WAITLIST:
        return turn.screens.with_menu(turn.member, texts("rsvp.waitlisted"))
    return turn.screens.with_menu(turn.member, texts(f"rsvp.{rsvp.status}", title=occurrence.title))


def _guest_question(turn: Turn, occurrence: Occurrence) -> Outgoing:
    texts = turn.texts
    options = [
        Button(
            texts("rsvp.guests_none") if n == 0 else texts("rsvp.guests_some", n=n),
            Action("guests", (str(occurrence.id), str(n))),
        )
        for n in range(MAX_GUESTS + 1)
    ]
    return Outgoing(
        texts("rsvp.ask_guests"), buttons=((options[0],), tuple(options[1:])), replace=False
    )


def guests(turn: Turn, occurrence: Occurrence, wanted: int) -> list[Outgoing]:
    """How many come along (held by `buttons.occurrence_to_answer`)."""
    uow, member, texts = turn.uow, turn.member, turn.texts
    assert member.id is not None
    if wanted > MAX_GUESTS:
        raise StaleAction(f"{wanted} guests")
    reason = _closed(turn, occurrence)
    if reason:
        return [Outgoing(texts(reason)), card_for(turn, occurrence)]
    rsvp = uow.rsvps.get(occurrence.id, member.id)
    if rsvp is None or rsvp.status is not RsvpStatus.GOING:
        return [Outgoing(texts("rsvp.guests_not_going")), card_for(turn, occurrence)]
    if occurrence.capacity is not None:
        others = uow.rsvps.counts(occurrence.id).people - rsvp.people
        room = occurrence.capacity - others - 1
        if wanted > room:
            return [
                Outgoing(texts("rsvp.guests_too_many", max=max(room, 0))),
                _guest_question(turn, occurrence),
            ]
    fewer = wanted < rsvp.guests
    rsvp.guests, rsvp.updated_at = wanted, turn.now
    uow.rsvps.save(rsvp)
    if fewer:
        promote_waiting(uow, occurrence, turn.now)
    key = "rsvp.guests_saved" if wanted else "rsvp.guests_saved_none"
    return [Outgoing(texts(key, n=wanted), replace=True), card_for(turn, occurrence)]


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
