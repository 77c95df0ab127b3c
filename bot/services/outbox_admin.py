"""`campaign-bot outbox`: what the outbox holds, and an organiser's hand on rows that went wrong.

Organisers see how many deliveries wait, are being sent, failed or were skipped, for which
purpose and why; they can put failed or skipped rows back in the queue (`retry`) or give up
on queued or failed ones (`drop`). Which states allow which action is decided here; the store
(`bot/store/outbox_admin.py`) applies it in one transaction per command, guarded by the state
each row had, and records the action in the audit log.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.ports import Clock

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
STATES = (QUEUED, SENDING, SENT, FAILED, SKIPPED)
OPEN_STATES = (QUEUED, SENDING, FAILED, SKIPPED)
"""What the overview counts and the list shows by default: everything but the sent rows,
which are the bulk of the table and need no one's attention."""

RETRYABLE = frozenset({FAILED, SKIPPED})
DROPPABLE = frozenset({QUEUED, FAILED})
DROPPED_REASON = "dropped by organiser"
RETRY_ACTION = "outbox.retry"
DROP_ACTION = "outbox.drop"
DEFAULT_LIMIT = 50
REASON_GROUPS = 15
"""How many (state, purpose, reason) groups the overview lists, most frequent first."""


@dataclass(frozen=True)
class Reason:
    """Rows of one state and purpose that share a skip reason or last error."""

    state: str
    purpose: str
    reason: str
    count: int


@dataclass(frozen=True)
class Tally:
    """The outbox at a glance."""

    counts: Mapping[tuple[str, str], int]
    """(purpose, state) -> rows, for the open states only."""
    reasons: Sequence[Reason]
    """The most frequent reasons, at most the number asked for."""
    more_reasons: int
    """How many groups of reasons were left out."""
    next_due: datetime | None
    """When the earliest queued row is due."""
    due_now: int
    """Queued rows already due: normally sent within seconds, so many means no dispatcher."""


@dataclass(frozen=True)
class Entry:
    """One row of the outbox, as the list shows it."""

    id: int
    purpose: str
    state: str
    due_at: datetime
    attempts: int
    reason: str | None
    member_id: int
    member_name: str | None
    channel: str


@dataclass(frozen=True)
class Found:
    """What one id named: the state it had before the command, and whether it was changed."""

    state: str
    changed: bool
    message_kept: bool = True
    """False when its words were emptied by retention (`delivery.keep_message_days`)."""


class OutboxAdminStore(Protocol):
    """The outbox for organisers; each method is one transaction and commits."""

    def tally(self, now: datetime, *, states: Collection[str], reasons: int) -> Tally: ...

    def entries(
        self, *, states: Collection[str], purpose: str | None, limit: int
    ) -> tuple[list[Entry], int]:
        """The newest rows (by due time) in `states` (and of `purpose`), and how many match."""
        ...

    def requeue(
        self, ids: Collection[int], *, from_states: Collection[str], now: datetime, action: str
    ) -> dict[int, Found]:
        """Queue again, due `now`, attempts and reasons cleared, the rows in `from_states`
        whose message is still kept; audit what was changed. Unknown ids are left out."""
        ...

    def skip(
        self,
        ids: Collection[int],
        *,
        from_states: Collection[str],
        reason: str,
        now: datetime,
        action: str,
    ) -> dict[int, Found]:
        """Mark the rows in `from_states` skipped with `reason`; audit what was changed.
        Unknown ids are left out."""
        ...


class Outcome(enum.Enum):
    """What became of one id an organiser named."""

    DONE = "done"
    UNKNOWN = "unknown"
    WRONG_STATE = "wrong_state"
    FORGOTTEN = "forgotten"


@dataclass(frozen=True)
class Result:
    id: int
    outcome: Outcome
    state: str | None = None
    """The state the row had (None for an unknown id)."""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DONE


def _results(
    ids: Sequence[int], found: Mapping[int, Found], allowed: Collection[str]
) -> list[Result]:
    results = []
    for delivery_id in dict.fromkeys(ids):  # each id once, in the order given
        row = found.get(delivery_id)
        if row is None:
            results.append(Result(delivery_id, Outcome.UNKNOWN))
        elif row.changed:
            results.append(Result(delivery_id, Outcome.DONE, row.state))
        elif row.state in allowed and not row.message_kept:
            results.append(Result(delivery_id, Outcome.FORGOTTEN, row.state))
        else:
            # Its state does not allow it (or another process changed it meanwhile).
            results.append(Result(delivery_id, Outcome.WRONG_STATE, row.state))
    return results


class OutboxAdmin:
    """The organisers' outbox commands."""

    def __init__(self, store: OutboxAdminStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def tally(self, *, reasons: int = REASON_GROUPS) -> Tally:
        return self._store.tally(self._clock.now(), states=OPEN_STATES, reasons=reasons)

    def entries(
        self, *, state: str | None = None, purpose: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> tuple[list[Entry], int]:
        """Rows in `state` (default: every state but sent), newest first, at most `limit`."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        states = OPEN_STATES if state is None else (state,)
        return self._store.entries(states=states, purpose=purpose, limit=max(limit, 0))

    def retry(self, ids: Sequence[int]) -> list[Result]:
        """Put failed or skipped rows back in the queue, due now, with their attempts reset.

        The dispatcher checks them again when it takes them (event still on, answer
        unchanged, member reachable), so a retried row that is stale is skipped again.
        """
        found = self._store.requeue(
            ids, from_states=RETRYABLE, now=self._clock.now(), action=RETRY_ACTION
        )
        return _results(ids, found, RETRYABLE)

    def drop(self, ids: Sequence[int]) -> list[Result]:
        """Give up on queued or failed rows: skipped, with the reason "dropped by organiser"."""
        found = self._store.skip(
            ids,
            from_states=DROPPABLE,
            reason=DROPPED_REASON,
            now=self._clock.now(),
            action=DROP_ACTION,
        )
        return _results(ids, found, DROPPABLE)
