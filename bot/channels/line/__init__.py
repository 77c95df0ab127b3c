"""The LINE channel: a webhook on the shared web application, replies and pushes with
line-bot-sdk v3. `KIND` is its entry in the registry (bot/channels/all.py); it imports no SDK
until the channel is built."""

from bot.channels.line.kind import KIND

__all__ = ["KIND"]
