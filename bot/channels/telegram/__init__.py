"""The Telegram channel, on python-telegram-bot: the only place that imports `telegram`."""
