"""Every channel a bot process can serve: one line per channel package under bot/channels/.

The composition root (bot/app.py) starts those the config enables, in this order, and stops
them in the reverse order. A new channel is a package exposing a `ChannelKind` (see
bot/channels/registry.py) and one line here.
"""

from __future__ import annotations

from bot.channels.line import KIND as LINE
from bot.channels.registry import ChannelKind
from bot.channels.telegram.channel import KIND as TELEGRAM

REGISTRY: tuple[ChannelKind, ...] = (
    TELEGRAM,
    LINE,
)
