"""Every button press is decoded here: which flow, with which arguments, and who may press it.

A button's payload comes back from the member's phone, so it may be old (a card of an event
deleted from the schedule files since) or forged (occurrence ids are sequential and can be
counted). `decode` is the one place that reads a pressed `Action`: it looks the action up,
checks the number of arguments, turns each argument into what the flow needs (an occurrence
still shown to members, a number, a choice), and checks that the person pressing may: someone
who has not answered the consent question yet, or a member pressing an organiser's button, is
refused before any flow runs. Flows receive checked values and never see a raw argument they
would have to validate again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.events import Occurrence
from bot.domain.members import Subscription
from bot.domain.messages import Action, Outgoing
from bot.services.events import number
from bot.services.turn import StaleAction, Turn

Flow = Callable[..., list[Outgoing]]
Argument = Callable[[Turn, str], Any]
"""Reads one button argument; raises `StaleAction` for anything this version would not send."""


@dataclass(frozen=True)
class DialogFlow:
    """What an open dialog does with a typed message, and how 「やめる」 ends it.
    `organiser`: the dialog closes when the member is no longer an organiser."""

    on_text: Callable[[Turn, str], list[Outgoing]]
    on_cancel: Callable[[Turn], list[Outgoing]]
    organiser: bool = True


class NeedsConsent(Exception):
    """The person has not answered the consent question; nothing is done or stored for them."""


class NotAllowed(Exception):
    """An organiser's button pressed by a member."""


def text(_turn: Turn, value: str) -> str:
    """An argument the flow checks itself against its own choices (a region, an FAQ entry)."""
    return value


def count(_turn: Turn, value: str) -> int:
    return number(value)


def _occurrence(turn: Turn, value: str, *, lock: bool) -> Occurrence:
    occurrence = turn.uow.calendar.occurrence(number(value), lock=lock)
    if occurrence is None or occurrence.removed:
        # Deleted from the schedule files (hidden from everyone), or never there.
        raise StaleAction(f"occurrence {value}")
    return occurrence


def occurrence(turn: Turn, value: str) -> Occurrence:
    """An occurrence members can still see (cancelled ones included: their card says so)."""
    return _occurrence(turn, value, lock=False)


def occurrence_to_answer(turn: Turn, value: str) -> Occurrence:
    """An occurrence held until commit, so answers to it take turns (capacity)."""
    return _occurrence(turn, value, lock=True)


@dataclass(frozen=True)
class Press:
    """What a button may do: its flow, how to read its arguments, and who may press it.

    `optional` trailing arguments may be left out (the flow has defaults for them).
    `rest` reads any further arguments (a page button carries its screen's).
    `consent`: only people who answered the consent question (the only buttons open to
    others are the consent question itself and the FAQ answers they may be shown).
    `organiser`: only organisers, as they are at the moment of pressing.
    """

    flow: Flow
    arguments: tuple[Argument, ...] = ()
    optional: int = 0
    rest: Argument | None = None
    consent: bool = True
    organiser: bool = False
    dialog: str | None = None
    """The button belongs to a step of this dialog: its first argument is the dialog's token,
    and it is refused unless that dialog is the member's open one (not an earlier one, not a
    replayed or typed one)."""


def consented(turn: Turn) -> bool:
    """Someone who answered the consent question (either way) and so is stored, to the
    welcome text as it is now (`Member.consent_outdated`: asked again first)."""
    member = turn.member
    return (
        member.id is not None
        and member.subscription is not Subscription.PENDING
        and not member.consent_outdated
    )


def decode(
    turn: Turn, action: Action, presses: Mapping[str, Press]
) -> Callable[[], list[Outgoing]]:
    """The flow to run for `action`, with its arguments read; refuses what may not run.

    Raises `StaleAction` (unknown action, wrong arguments, a target that is gone or hidden),
    `NeedsConsent` or `NotAllowed`.
    """
    press = presses.get(action.name)
    if press is None:
        raise StaleAction(action.name)
    if press.consent and not consented(turn):
        raise NeedsConsent(action.name)
    if press.organiser and not turn.member.is_organiser:
        raise NotAllowed(action.name)
    args = action.args
    if press.dialog is not None:
        dialog = turn.dialog
        if dialog is None or dialog.name != press.dialog or args[:1] != (dialog.token,):
            raise StaleAction(f"{action.name}: not a step of the open {press.dialog} dialog")
        args = args[1:]
    given, fixed = len(args), len(press.arguments)
    if given < fixed - press.optional or (given > fixed and press.rest is None):
        raise StaleAction(f"{action.name} with {given} arguments")
    readers = [*press.arguments, *[press.rest or text] * (given - fixed)]
    values = [read(turn, value) for read, value in zip(readers, args, strict=False)]
    return lambda: press.flow(turn, *values)
