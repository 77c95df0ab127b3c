"""The fake Telegram Bot API, as tests/telegram use it."""

from __future__ import annotations

from tests.telegram.conftest import fake

__all__ = ["fake"]
