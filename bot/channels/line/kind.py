"""LINE's entry in the registry of channels (bot/channels/all.py).

This module imports no SDK: the registry lists LINE whether or not line-bot-sdk (the `line`
extra) is installed, and says what is missing when LINE is turned on without it.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from bot.channels.registry import ChannelContext, ChannelKind, ChannelRefused
from bot.config import Settings

if TYPE_CHECKING:
    from bot.channels.line.channel import LineChannel

CHANNEL = "line"
SECRET_SETTING = "LINE_CHANNEL_SECRET"
TOKEN_SETTING = "LINE_CHANNEL_ACCESS_TOKEN"
HOST_SETTING = "channels.line.api_host"
EXTRA = "line-bot-sdk"


class LineKind:
    name = CHANNEL

    def enabled(self, settings: Settings) -> bool:
        return settings.config.channels.line.enabled

    def missing(self, settings: Settings) -> str | None:
        """The secrets the environment lacks (named, never shown), or the SDK."""
        secrets = settings.secrets
        absent = [
            name
            for name, value in (
                (SECRET_SETTING, secrets.line_channel_secret),
                (TOKEN_SETTING, secrets.line_channel_access_token),
            )
            if not value
        ]
        if absent:
            verb = "is" if len(absent) == 1 else "are"
            return (
                f"{' and '.join(absent)} {verb} not set; export them from the LINE Developers "
                "console, or set channels.line.enabled: false"
            )
        if importlib.util.find_spec("linebot") is None:
            return f"{EXTRA} is not installed; install the line extra: pip install '.[line]'"
        return None

    def build(self, context: ChannelContext) -> LineChannel:
        settings = context.settings
        problem = self.missing(settings)
        secret = settings.secrets.line_channel_secret
        token = settings.secrets.line_channel_access_token
        if problem or not secret or not token:
            setting = SECRET_SETTING if not secret else TOKEN_SETTING if not token else EXTRA
            raise ChannelRefused(CHANNEL, setting, problem or f"{setting} is not set")
        from bot.channels.line.channel import LineChannel  # the SDK, only once LINE is on

        return LineChannel(
            settings.config.channels.line,
            secret,
            token,
            context.inbound,
            context.catalogues[settings.config.default_language],
            context.pacer,
        )


KIND: ChannelKind = LineKind()  # typed so that mypy checks LineKind and LineChannel fit
