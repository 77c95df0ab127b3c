"""Updates python-telegram-bot cannot read are acknowledged and skipped, never retried for ever.

PTB parses a whole getUpdates batch at once (`Update.de_list`): one update it cannot read (a
field shaped as it does not expect, say after a Bot API change) makes the batch fail, the
offset never advances, the same batch comes back on every poll, and each failure is logged
with the raw batch, members' texts included. Here each update is checked on its own: the
unreadable ones are logged once (their id and kind, never their content) and confirmed with
the next poll's offset, so the updates after them are answered.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import ExtBot

log = logging.getLogger(__name__)


class TolerantBot(ExtBot[None]):
    """An `ExtBot` whose getUpdates drops the updates it cannot parse and confirms them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._skip_to = 0
        """The offset that confirms every unreadable update seen so far (0: none)."""

    async def _post(self, endpoint: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        # `_post` is the one seam that sees getUpdates' raw JSON before PTB parses it: the
        # public `get_updates` would parse the whole batch and fail on its first bad update.
        if endpoint != "getUpdates":
            return await super()._post(endpoint, data, **kwargs)
        data = dict(data or {})
        if self._skip_to and int(data.get("offset") or 0) < self._skip_to:
            data["offset"] = self._skip_to  # confirms the unreadable ones, the last of a batch too
        result = await super()._post(endpoint, data, **kwargs)
        if not isinstance(result, list):
            return result
        return [update for update in result if self._readable(update)]

    def _readable(self, raw: object) -> bool:
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        try:
            Update.de_json(raw, self)  # type: ignore[arg-type]  # checked just below if not
            if not isinstance(update_id, int):
                raise TypeError("update without an update_id")
        except Exception as exc:
            if isinstance(update_id, int):
                self._skip_to = max(self._skip_to, update_id + 1)
            kinds = sorted(k for k in raw if k != "update_id") if isinstance(raw, dict) else []
            # No content: members' texts must not reach the log (and the exception's message
            # may quote them).
            log.warning(
                "skipped update %s (%s) that python-telegram-bot cannot read: %s",
                update_id,
                ",".join(kinds) or "empty",
                type(exc).__name__,
            )
            return False
        return True
