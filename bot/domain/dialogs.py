"""A member's open multi-step flow: an answer being written to a relayed question, a broadcast
being composed, a rain call. At most one per member; it expires, so a flow abandoned on Friday
does not swallow Monday's question."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

LIFETIME = timedelta(minutes=30)
"""How long a flow waits for its next step. Organisers answer a relay or compose an
announcement in one sitting; a member's next question after this is a question again."""

TOKEN_CHARS = 6


def new_token() -> str:
    """A short random id that a dialog's buttons carry (Telegram allows 64 bytes of button
    data): a button from an earlier dialog, or one typed by hand, does not match it."""
    return secrets.token_hex(TOKEN_CHARS // 2)


@dataclass(frozen=True)
class Dialog:
    """`name` says which flow; `data` holds what the flow has gathered so far (JSON values)."""

    name: str
    token: str
    started_at: datetime
    expires_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        name: str,
        now: datetime,
        data: Mapping[str, Any] | None = None,
        *,
        lifetime: timedelta = LIFETIME,
    ) -> Dialog:
        return cls(name, new_token(), now, now + lifetime, dict(data or {}))

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def advanced(
        self,
        now: datetime,
        data: Mapping[str, Any] | None = None,
        *,
        lifetime: timedelta = LIFETIME,
    ) -> Dialog:
        """The next step: `data` added, the expiry pushed back. The token stays, so the
        buttons of the dialog's earlier messages still count (a 戻る on the preview)."""
        return replace(self, expires_at=now + lifetime, data={**self.data, **(data or {})})
