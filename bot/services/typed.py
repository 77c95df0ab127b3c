"""Words work like buttons: a member who types what a button says (「もっと見る」, 「参加する」,
「2人」) gets what pressing it gives, and common ways of saying it (「もっと」, 「世話人」) too.

The buttons of the last screen are kept on the member (`Member.shown`); only they can be
typed, so a typed word never reaches a button the member was not shown. What is typed is
then an `Action` like any pressed button, decoded and checked by `buttons.decode`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.domain.members import Member
from bot.domain.messages import Action, InvalidAction, Outgoing
from bot.texts import Catalogues, normalise_word

MAX_SHOWN = 40
"""Buttons remembered from one screen (a long list of regions is the most there is)."""
_MARKS = re.compile(r"^[✓✔︎\s]+")
_NUMBER = re.compile(r"\d{1,2}")


def remember(member: Member, replies: list[Outgoing]) -> None:
    """The choices of what is shown now (not the menu, whose words are keywords already)."""
    member.shown = [
        (button.label, button.action.encode())
        for reply in replies
        for row in reply.buttons
        for button in row
    ][:MAX_SHOWN]


@dataclass(frozen=True)
class Typed:
    """What a typed word comes to: a button's action, or a reason to ask again."""

    action: Action | None = None
    ambiguous: bool = False  # several buttons say this (参加する under five event cards)
    nothing_shown: bool = False  # a bare number while no choices are on screen


def _key(label: str) -> str:
    return normalise_word(_MARKS.sub("", label))


def typed_choice(
    catalogues: Catalogues, member: Member, text: str, *, numbers: bool = True
) -> Typed | None:
    """The button `text` names on the member's current screen, if any (None: not a choice).

    `numbers`: whether a bare number picks a button (not while a dialog waits for text: an
    organiser's answer may be 「2」)."""
    typed = _key(text)
    if not typed:
        return None
    key = catalogues.label_for(typed)
    wanted = {typed} | (
        {_key(catalogues[language](key)) for language in catalogues.languages} if key else set()
    )
    matches = {action for label, action in member.shown if _key(label) in wanted}
    folded = unicodedata.normalize("NFKC", text).strip()
    if not matches and numbers and _NUMBER.fullmatch(folded):
        if not member.shown:
            return Typed(nothing_shown=True)
        number = int(folded)
        # 「2」 for the 「2人」 button before the second button: the guest question.
        counted = {action for label, action in member.shown if _digits(label) == folded}
        if counted:
            matches = counted
        elif 1 <= number <= len(member.shown):
            matches = {member.shown[number - 1][1]}
    if not matches:
        return None
    if len(matches) > 1:
        return Typed(ambiguous=True)
    try:
        return Typed(action=Action.decode(matches.pop()))
    except InvalidAction:
        return None


def _digits(label: str) -> str:
    found = re.findall(r"\d+", unicodedata.normalize("NFKC", label))
    return found[0] if len(found) == 1 else ""
