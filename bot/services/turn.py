"""The context one incoming message is handled in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from bot.domain.campaign import Campaign
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

    @property
    def texts(self) -> Texts:
        return self.screens.texts_for(self.member)
