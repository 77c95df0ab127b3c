"""What the dispatcher works with: claimed deliveries, the queue and messenger ports, outcomes.

Pure Python, so the dispatcher (and anything else in the core) can use them without SQLAlchemy
or a platform SDK.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.capabilities import Capabilities
from bot.domain.deliveries import Lane, Later, Pending, Skip
from bot.domain.messages import Outgoing


@dataclass(frozen=True)
class Claim:
    """One claim of one outbox row: the fencing token every outcome of that claim carries.

    A claim counts an attempt, so `attempt` (the row's `attempts` once claimed) tells this claim
    from any later one: once our lease has run out and another process has claimed the row, its
    `attempts` has moved on and an outcome we record late changes nothing. Giving the attempt
    back (`count_attempt=False`) ends the claim, so a later claim reusing the number belongs to
    someone who took the row after we let it go.
    """

    delivery_id: int
    attempt: int


@dataclass(frozen=True, kw_only=True)
class ClaimedDelivery(Pending):
    """One outbox row the dispatcher now owns until its lease runs out, with its recipient.

    `attempts` already counts the attempt this claim is for. `retry_key` is the same on every
    attempt at this row, so a platform that deduplicates (LINE's X-Line-Retry-Key) can drop a
    second copy sent after a crash.
    """

    lane: Lane = Lane.BULK
    channel: str
    external_id: str
    attempts: int
    retry_key: str
    shared_key: bool = False
    """`retry_key` may have gone out in one multicast with other rows (an earlier attempt at
    it was not recorded): it goes again only in one multicast with every row of that key still
    to be sent, so the platform recognises the request and delivers it to nobody twice.
    Always False on the first attempt (`attempts == 1`): no key of such a row has gone out."""

    @property
    def claim(self) -> Claim:
        """The token the outcomes of this claim are recorded with."""
        return Claim(self.id, self.attempts)


Rendered = Outgoing | Skip | Later
"""A message to send now, a reason not to send it ever, or a time before which it may not go."""


class Renderer(Protocol):
    """Turns claimed deliveries into messages at send time, says why they are stale, or when
    they may go (quiet hours)."""

    def render(self, batch: Sequence[Pending]) -> Mapping[int, Rendered]: ...


class DeliveryQueue(Protocol):
    """The outbox as the dispatcher sees it; every call is its own committed transaction.

    Every outcome names the `Claim` it is for and is recorded only while that claim still holds
    the row (state sending, same attempt): it returns False, changing nothing, when the lease
    ran out and another process claimed the row meanwhile (its outcome, not ours, counts).
    """

    def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        channels: Channels = None,
        batches: Mapping[str, int] | None = None,
    ) -> list[ClaimedDelivery]:
        """Take up to `limit` due rows (of `channels`, None: all) and mark them sending.

        Rows left sending by a crash count as due once their lease has run out. Rows whose
        member cannot or should not get them are marked skipped instead of being returned.

        `batches`: channels that send one message to many members at once, with how many a
        call takes. A due row of such a channel brings the due rows of the same purpose and
        reference with it (up to that many), and a row whose key is shared (`shared_key`)
        comes only with every row of its key still to be sent, or not at all.
        """
        ...

    def share_key(self, claims: Collection[Claim], retry_key: str) -> set[int]:
        """Write one retry key into the rows of `claims` still ours, before they go out in one
        multicast; returns the ids of those rows (only they may be sent with the key)."""
        ...

    def mark_sent_many(
        self, claims: Collection[Claim], channel_message_id: str, now: datetime
    ) -> set[int]:
        """`mark_sent` for the rows of one multicast; returns the ids still ours."""
        ...

    def mark_retry_many(
        self,
        claims: Collection[Claim],
        error: str | None,
        due_at: datetime,
        *,
        count_attempt: bool = True,
    ) -> set[int]:
        """`mark_retry` for the rows of one multicast; returns the ids still ours."""
        ...

    def mark_failed_many(self, claims: Collection[Claim], error: str) -> set[int]:
        """`mark_failed` for the rows of one multicast; returns the ids still ours."""
        ...

    def renew(self, claims: Collection[Claim], until: datetime) -> set[int]:
        """Extend the lease of claims still ours; returns the ids of their rows."""
        ...

    def mark_sent(self, claim: Claim, channel_message_id: str, now: datetime) -> bool: ...

    def mark_retry(
        self,
        claim: Claim,
        error: str | None,
        due_at: datetime,
        *,
        count_attempt: bool = True,
    ) -> bool:
        """Back to queued, due at `due_at`; `count_attempt=False` gives back the claim's attempt
        (the row was not tried, or the platform only asked us to wait)."""
        ...

    def mark_failed(self, claim: Claim, error: str) -> bool: ...

    def mark_skipped(self, claim: Claim, reason: str) -> bool: ...

    def mark_skipped_many(self, reasons: Mapping[Claim, str]) -> int:
        """Skip several claimed rows, each for its reason; returns how many were still ours."""
        ...

    def mark_member_unreachable(self, member_id: int, reason: str, now: datetime) -> int:
        """Record that the member cannot be reached and skip their queued rows (how many)."""
        ...


Channels = Collection[str] | Mapping[str, Collection[str] | None] | None
"""Which rows a claim may take: channels, or channels mapped to the ids they can reach."""


class Messenger(Protocol):
    """Sends one message to one member on one channel (Telegram, LINE, console).

    A messenger may have an `audience` attribute: the external ids it can reach (the console
    reaches only the person at the terminal). Without one it reaches everyone on its channel.
    `capabilities` says what its channel can show and send; pass each message through
    `bot.domain.capabilities.adapt` with them before `parts` and `send`.
    """

    capabilities: Capabilities

    def parts(self, message: Outgoing) -> int:
        """How many platform messages `send` uses for `message` (long texts are split)."""
        ...

    async def send(self, external_id: str, message: Outgoing, *, retry_key: str) -> str:
        """Send and return the platform's message id.

        Raises `Unreachable`, `RateLimited`, `QuotaExhausted`, `TemporaryFailure` or
        `PermanentFailure`.
        """
        ...


class BatchMessenger(Messenger, Protocol):
    """A messenger that can also send one message to many members in one call (LINE's
    multicast), up to `capabilities.batch_send` of them.

    The platform tells no per-member outcome of such a call: it went to all, or to none.
    """

    async def send_many(
        self, external_ids: Sequence[str], message: Outgoing, *, retry_key: str
    ) -> str:
        """Send `message` to every one of `external_ids` in one call and return the platform's
        id for the request. A `retry_key` the platform has accepted before counts as sent
        (LINE's 409), so repeating a call after a crash delivers nothing twice.

        Raises `RateLimited`, `QuotaExhausted`, `TemporaryFailure` or `PermanentFailure`.
        """
        ...


def batch_size(messenger: Messenger) -> int:
    """How many members one call of `messenger` reaches: its channel's `batch_send` when it
    is a `BatchMessenger`, else 1."""
    if not callable(getattr(messenger, "send_many", None)):
        return 1
    return max(1, messenger.capabilities.batch_send)


class DeliveryError(Exception):
    """Why a messenger could not send a message."""


class Unreachable(DeliveryError):
    """The member will never get it: they blocked the bot, left, or the chat does not exist."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(DeliveryError):
    """The platform asked us to wait `retry_after` seconds (HTTP 429).

    `everything` says the wait applies to every chat of the channel, not just this one.
    """

    def __init__(self, retry_after: float, *, everything: bool = False) -> None:
        super().__init__(f"rate limited: retry after {retry_after:g} s")
        self.retry_after = retry_after
        self.everything = everything


class TemporaryFailure(DeliveryError):
    """Worth trying again later: network trouble, timeouts, 5xx answers."""


class QuotaExhausted(DeliveryError):
    """The channel's messages for the month are used up (LINE: 429 "You have reached your
    monthly limit."): nothing more goes out on it until the next month or a bigger plan."""


class PermanentFailure(DeliveryError):
    """Trying again would fail the same way (e.g. the platform refused the message itself)."""
