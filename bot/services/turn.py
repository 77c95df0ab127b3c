"""The context one incoming message is handled in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from bot.domain.campaign import Campaign
from bot.domain.dialogs import Dialog
from bot.domain.members import Member
from bot.domain.ports import UnitOfWork
from bot.services.screens import Screens
from bot.texts import Texts

E = TypeVar("E", bound=StrEnum)


class StaleAction(Exception):
    """A button whose arguments this version does not accept: old, or forged."""


def choice(kind: type[E], value: str) -> E:
    """Read a button argument as one of an enum's values, refusing anything else."""
    try:
        return kind(value)
    except ValueError:
        raise StaleAction(f"{kind.__name__}: {value!r}") from None


@dataclass
class Turn:
    member: Member
    is_new: bool
    uow: UnitOfWork
    now: datetime
    campaign: Campaign
    screens: Screens
    dialog: Dialog | None = None
    """The member's open multi-step flow; a flow sets it, ends it (None) or moves it on."""

    @property
    def texts(self) -> Texts:
        return self.screens.texts_for(self.member)

    def start_dialog(self, name: str, **data: object) -> Dialog:
        self.dialog = Dialog.start(name, self.now, data)
        return self.dialog

    def advance(self, **data: object) -> Dialog:
        """The open dialog's next step, with `data` added."""
        assert self.dialog is not None
        self.dialog = self.dialog.advanced(self.now, data)
        return self.dialog

    def end_dialog(self) -> None:
        self.dialog = None
