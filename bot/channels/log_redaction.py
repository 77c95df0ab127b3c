"""Secrets never reach a log: every record is scrubbed of them as it is made.

python-telegram-bot and httpx put the bot token in what they log (request URLs, "Set Bot API
URL: .../bot<token>", `InvalidToken("The token `<token>` was rejected")` in tracebacks), and
the token is what lets anyone act as the bot. Scrubbing at the record factory, not in one
handler's filter, covers every handler, pytest's capture and handlers added later (uvicorn's)
alike, and the message, the traceback and the stack alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

REDACTED = "[redacted]"

MIN_SECRET = 6
"""Shorter values are not taken for secrets: replacing them everywhere would garble logs."""

_SECRET_PART = 16
"""A token's part after its colon is scrubbed on its own when at least this long, whatever
encodes the colon (`%3A`, `%3a`); Telegram's are 35 characters."""

_formatter = logging.Formatter()


class Redactor:
    """Replaces each of `secrets` (and its URL-encoded form) with `[redacted]` in text."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < MIN_SECRET:
                continue
            forms.update({secret, quote(secret, safe=""), quote(secret)})
            _, colon, after = secret.partition(":")
            if colon and len(after) >= _SECRET_PART:
                forms.add(after)
        # Longest first, so a whole token goes before the part of it that is also listed.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)

    def scrub(self, record: logging.LogRecord) -> None:
        """Rewrite `record` in place: its message, traceback and stack without the secrets."""
        if self._pattern is None:
            return
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: the handler reports it
            message = None
        if message is not None:
            clean = self(message)
            if clean != message:
                record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Handlers use `exc_text` when it is set instead of formatting the exception again.
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self(record.exc_text)
        if record.stack_info:
            record.stack_info = self(record.stack_info)


class _ScrubbingFactory:
    """A log record factory that scrubs what the factory before it makes."""

    def __init__(self, previous: Any, redactor: Redactor) -> None:
        self.previous = previous
        self.redactor = redactor

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.previous(*args, **kwargs)
        self.redactor.scrub(record)
        return record


def install(redactor: Redactor) -> None:
    """Scrub every log record made from now on. Installing again replaces the secrets instead
    of stacking a second factory (the command line's `main` runs many times in tests)."""
    current = logging.getLogRecordFactory()
    base = current.previous if isinstance(current, _ScrubbingFactory) else current
    logging.setLogRecordFactory(_ScrubbingFactory(base, redactor))


def uninstall() -> None:
    """Make records as before `install`."""
    current = logging.getLogRecordFactory()
    if isinstance(current, _ScrubbingFactory):
        logging.setLogRecordFactory(current.previous)
