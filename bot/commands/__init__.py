"""The organisers' command-line tools, one module per subject; cli.py parses and dispatches.

They read and change things through the same services as the chat, and take every word they
print from the message catalogues (`cli.*`), in the campaign's default language.
"""

from __future__ import annotations

from bot.config import Settings
from bot.texts import Catalogues, Texts


def texts_for(settings: Settings) -> Texts:
    """The catalogue organisers read: the campaign's default language."""
    return Catalogues.load()[settings.config.default_language]
