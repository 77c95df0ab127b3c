"""Secrets never reach a log, nor do members' words or ids: every record is scrubbed as it
is made.

python-telegram-bot and httpx put the bot token in what they log (request URLs, "Set Bot API
URL: .../bot<token>", `InvalidToken("The token `<token>` was rejected")` in tracebacks), and
the token is what lets anyone act as the bot. Scrubbing at the record factory, not in one
handler's filter, covers every handler, pytest's capture and handlers added later (uvicorn's)
alike, and the message, the traceback and the stack alike.

Members are kept out the same way, whatever logs them: a member (`MemberRef`, `Member`) given
to a log call appears as a pseudonym (the same one for the same person while the process
runs, nothing that leads back to their chat), a message (`Incoming`) as its kind, and anything
else that may hold what members wrote (the Bot API's parameters and answers, a whole update, a
dict) as its type only. `logging.member_texts: true` in the config lets DEBUG records (-v)
show those, with members still as pseudonyms; INFO and above never do. LINE user ids in any
message are replaced by their pseudonym too.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from bot.domain.members import Member
from bot.domain.messages import Incoming, MemberRef

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


_LINE_USER = re.compile(r"\bU[0-9a-f]{32}\b")
_DATABASE_DETAIL = re.compile(r"^(DETAIL:\s*).*$", re.MULTILINE)
"""PostgreSQL's detail of a failed statement repeats the row's values ("Failing row contains
(... Hanako ...)", "Key (channel, external_id)=(telegram, 123) already exists")."""
_PLAIN = (str, int, float, bool, type(None), datetime, date, time, timedelta, enum.Enum, PurePath)
_SHOWN_AS_TEXT = frozenset({"URL", "Address"})
"""Types shown by their text: httpx's request URL (the token in it is redacted), a client's
address."""


class MemberHider:
    """Rewrites a record's arguments so that no member's id, name or words are in it."""

    def __init__(self, *, member_texts: bool = False) -> None:
        self.member_texts = member_texts
        # A key of this process only: pseudonyms cannot be turned back into chat ids.
        self._key = os.urandom(16)

    def pseudonym(self, channel: str, external_id: str) -> str:
        digest = hmac.new(self._key, f"{channel}:{external_id}".encode(), hashlib.sha256)
        return f"{channel}#{digest.hexdigest()[:8]}"

    def safe(self, value: Any, *, texts: bool) -> Any:
        """`value` as a log may show it."""
        if isinstance(value, MemberRef):
            return self.pseudonym(value.channel, value.external_id)
        if isinstance(value, Member):
            return self.pseudonym(value.channel, value.external_id)
        if isinstance(value, Incoming):
            return self._incoming(value, texts=texts)
        if isinstance(value, BaseException):
            return _DATABASE_DETAIL.sub(r"\1[hidden]", str(value))
        if isinstance(value, str):
            return _LINE_USER.sub(lambda m: self.pseudonym("line", m.group(0)), value)
        if isinstance(value, _PLAIN):
            return value
        if type(value).__name__ in _SHOWN_AS_TEXT:
            return str(value)
        if isinstance(value, list | tuple | set | frozenset) and all(
            isinstance(item, _PLAIN) and not isinstance(item, str) for item in value
        ):
            return value  # numbers (update ids, row ids), not words
        if texts:
            return value
        return f"[{type(value).__name__}]"

    def _incoming(self, incoming: Incoming, *, texts: bool) -> str:
        who = self.pseudonym(incoming.member.channel, incoming.member.external_id)
        if incoming.command is not None:
            kind = f"command /{incoming.command[:32]}"
        elif incoming.action is not None or incoming.raw_action is not None:
            kind = "button"
        elif incoming.media is not None:
            kind = f"media {incoming.media[:16]}"
        else:
            kind = f"text {incoming.text!r}" if texts else f"text of {len(incoming.text or '')}"
        return f"<{kind} from {who}>"

    def hide(self, record: logging.LogRecord) -> None:
        """Rewrite `record` in place: its arguments (and a message that is not text)."""
        texts = self.member_texts and record.levelno <= logging.DEBUG
        if not isinstance(record.msg, str):
            record.msg = str(self.safe(record.msg, texts=texts))
        args = record.args
        if isinstance(args, Mapping) and "%(" in str(record.msg):
            record.args = {key: self.safe(value, texts=texts) for key, value in args.items()}
        elif isinstance(args, Mapping):
            # `log.info("%s", a_dict)`: logging keeps a lone mapping argument as the args.
            record.args = (self.safe(args, texts=texts),)
        elif isinstance(args, tuple):
            record.args = tuple(self.safe(value, texts=texts) for value in args)
        record.msg = self.safe(record.msg, texts=True)
        if record.exc_info and not record.exc_text:
            # Handlers use `exc_text` when it is set instead of formatting the exception again.
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            text = _DATABASE_DETAIL.sub(r"\1[hidden]", record.exc_text)
            record.exc_text = self.safe(text, texts=True)


class _ScrubbingFactory:
    """A log record factory that scrubs what the factory before it makes."""

    def __init__(self, previous: Any, redactor: Redactor, hider: MemberHider) -> None:
        self.previous = previous
        self.redactor = redactor
        self.hider = hider

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.previous(*args, **kwargs)
        self.hider.hide(record)
        self.redactor.scrub(record)
        return record


def install(redactor: Redactor) -> None:
    """Scrub every log record made from now on. Installing again replaces the secrets instead
    of stacking a second factory (the command line's `main` runs many times in tests)."""
    current = logging.getLogRecordFactory()
    base = current.previous if isinstance(current, _ScrubbingFactory) else current
    logging.setLogRecordFactory(_ScrubbingFactory(base, redactor, MemberHider()))


def allow_member_texts(allowed: bool) -> None:
    """`logging.member_texts`: whether DEBUG records may show what members wrote (members'
    ids stay pseudonyms; INFO and above never show their words)."""
    current = logging.getLogRecordFactory()
    if isinstance(current, _ScrubbingFactory):
        current.hider.member_texts = allowed


def uninstall() -> None:
    """Make records as before `install`."""
    current = logging.getLogRecordFactory()
    if isinstance(current, _ScrubbingFactory):
        logging.setLogRecordFactory(current.previous)
