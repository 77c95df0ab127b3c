"""The channels a running bot can serve, and what each one gets from the runtime and gives back.

A channel is one package under `bot/channels/` and one line in `REGISTRY`: the composition root
(`bot/app.py`) starts every enabled channel, mounts its web routes on the one shared web
application, attaches its messenger to the outbox's dispatcher, and stops it again. Members'
messages come into the core only through `Inbound` (bot/channels/inbound.py), whichever channel
they arrive on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.routing import BaseRoute

from bot.delivery.model import Messenger
from bot.delivery.pacing import Pacer

if TYPE_CHECKING:
    from bot.channels.inbound import Inbound
    from bot.config import Settings
    from bot.domain.ports import Clock
    from bot.texts import Catalogues


@dataclass(frozen=True)
class ChannelContext:
    """What the runtime hands a channel when it builds it."""

    settings: Settings
    inbound: Inbound
    catalogues: Catalogues
    clock: Clock
    pacer: Pacer
    """The channel's one rate budget, shared by its replies and the outbox's pushes."""


class Channel(Protocol):
    """One enabled channel in a running bot."""

    # Read-only properties, so that a channel may declare them as plain attributes of
    # narrower types (TelegramChannel.messenger is a TelegramMessenger).
    @property
    def name(self) -> str:
        """The members' `channel` column and the dispatcher's key: "telegram", "line"."""
        ...

    @property
    def messenger(self) -> Messenger:
        """How the outbox sends to this channel's members."""
        ...

    @property
    def pacer(self) -> Pacer:
        """The channel's one rate budget (the one `ChannelContext.pacer` gave it)."""
        ...

    def routes(self) -> Sequence[BaseRoute]:
        """What this channel serves on the shared web application (webhooks, files); empty
        for a channel that asks for its news itself (Telegram polling)."""
        ...

    async def start(self) -> None:
        """Connect and check the credentials, before the web server listens. Raises
        `ChannelRefused` with the setting to change when the platform refuses them."""
        ...

    async def listening(self, public_url: str | None) -> None:
        """The web server is up: tell the platform where to call (Telegram's setWebhook)."""
        ...

    async def stop(self) -> None:
        """Finish what is in hand and close connections; safe after a failed `start`."""
        ...

    def healthy(self) -> bool:
        """For /healthz: started and not stopping."""
        ...


class ChannelKind(Protocol):
    """One registry entry: how to tell whether a channel is on, and how to build it."""

    @property
    def name(self) -> str: ...

    def enabled(self, settings: Settings) -> bool: ...

    def missing(self, settings: Settings) -> str | None:
        """What the environment lacks for this channel (a one-line message naming the
        variable, never its value), or None."""
        ...

    def build(self, context: ChannelContext) -> Channel: ...


class ChannelRefused(Exception):
    """A channel could not start as configured; the message is one line and never holds a
    secret. `setting` is what to change: an environment variable (upper case, as
    "LINE_CHANNEL_ACCESS_TOKEN") or a config key from the file's top, dotted (as
    "channels.line.api_host" or "web.port"); `campaign-bot run` names it, with the key's line
    in the config file."""

    def __init__(self, channel: str, setting: str, message: str) -> None:
        super().__init__(message)
        self.channel = channel
        self.setting = setting
        self.message = message
