"""The dispatcher: send due outbox rows through their channel, paced, and record each outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import ParamSpec, Protocol, TypeVar, cast

from bot.delivery.model import (
    BatchMessenger,
    Claim,
    ClaimedDelivery,
    DeliveryQueue,
    Messenger,
    PermanentFailure,
    QuotaExhausted,
    RateLimited,
    Rendered,
    Renderer,
    TemporaryFailure,
    Unreachable,
    batch_size,
)
from bot.delivery.pacing import Pacer
from bot.delivery.policy import SKIP_UNREACHABLE, exponential_backoff
from bot.domain.deliveries import SKIP_UNKNOWN_KIND, Later, Skip, fixed_message
from bot.domain.messages import Outgoing
from bot.domain.ports import Clock

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# A row rate-limited this many times in a row goes back to the queue instead of waiting again.
_RATE_LIMITED_TRIES = 3
# A row whose lease has less than this part left is renewed (and found still ours) before it is
# sent; normally the renewing task keeps every lease well above it.
_LEASE_MARGIN = 1 / 3

BATCH_REQUESTS_PER_SECOND = 200.0
"""LINE's limit on multicast requests; each also counts its recipients' messages against
the channel's budget."""
_BATCH_REQUESTS = "multicast"
"""The one "chat" of a request pacer: its limit is on calls, whoever they reach."""

QuotaAlert = Callable[[str, str, datetime], object]
"""Tells the organisers that a channel's monthly quota is used up: (channel, month as
`YYYY-MM` in the campaign's timezone, when sending resumes). Called off the event loop."""


class RunBlocking(Protocol):
    """Runs a blocking call off the event loop (`CoreWorker.run`, `asyncio.to_thread`)."""

    def __call__(
        self, function: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[R]: ...


@dataclass
class DispatchReport:
    """What one `run_once` did with the rows it claimed."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    """Failed for now; queued again with a backoff."""
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    """Put back untried: their chat is rate-limited for a while, the dispatcher is stopping, or
    the renderer said they may not go yet (`Later`)."""
    taken_over: int = 0
    """Not ours any more: our lease ran out and another process claimed the row, so it was not
    sent, or its outcome was not recorded (the other process's counts)."""
    multicasts: int = 0
    """Calls that sent one message to many members (each of their rows counts in `sent`)."""


@dataclass
class _Round:
    """What one `run_once` holds: its report, and the claims not yet done with, each with the
    lease as last written (so a row is never sent on a lease that may have run out)."""

    report: DispatchReport
    held: dict[int, ClaimedDelivery]
    leases: dict[int, datetime]
    sending: asyncio.Semaphore
    """Sends awaiting the platform's answer: what a crash may leave sent but not recorded."""

    def done(self, row: ClaimedDelivery) -> None:
        """Its outcome is recorded (or it was found to be another process's): stop renewing."""
        self.held.pop(row.id, None)
        self.leases.pop(row.id, None)


@dataclass
class _Multicast:
    """Rows of one channel that go out in one call: one message to all their members.

    `shared`: the rows' key may have gone out already with exactly these rows (a retry after a
    crash); they go with it, as they are. Otherwise they get a new key of their own first.
    """

    channel: str
    rows: list[ClaimedDelivery]
    message: Outgoing
    shared: bool


@dataclass(frozen=True)
class _Rest:
    """What becomes of a member's remaining rows in the batch after one could not be sent.

    `skip`: skip them for this reason. Otherwise put them back, untried, due at `due_at`
    (None: when they were due before).
    """

    skip: str | None = None
    due_at: datetime | None = None


def _multicasts(
    claimed: Sequence[ClaimedDelivery],
    messages: Mapping[int, Outgoing],
    batches: Mapping[str, int],
) -> tuple[list[_Multicast], set[int]]:
    """Which rows go in multicasts, and which (ids) one by one.

    Rows whose key may have gone out in a multicast go again as that multicast, all of them,
    whatever they render to now (the message of the first: if the request went, the platform
    drops it anyway). Rows never tried before, of one purpose and reference, that render to the
    same message go together, at most `batches[channel]` a call. A row tried before with a key
    of its own goes alone: that key may have gone out in a push.
    """
    shared: dict[tuple[str, str], list[ClaimedDelivery]] = {}
    fresh: dict[tuple[str, str, str], list[tuple[Outgoing, list[ClaimedDelivery]]]] = {}
    alone: set[int] = set()
    for row in claimed:
        message = messages.get(row.id)
        if message is None:
            continue
        if batches.get(row.channel, 1) < 2 or (row.attempts > 1 and not row.shared_key):
            alone.add(row.id)
        elif row.shared_key:
            shared.setdefault((row.channel, row.retry_key), []).append(row)
        else:
            groups = fresh.setdefault((row.channel, row.purpose, row.reference), [])
            for known, rows in groups:
                if known == message:
                    rows.append(row)
                    break
            else:
                groups.append((message, [row]))
    units = []
    for (channel, _), rows in shared.items():
        first = messages[rows[0].id]
        if any(messages[row.id] != first for row in rows):
            log.info("the %d rows of a multicast render apart now; all get the first's", len(rows))
        units.append(_Multicast(channel, rows, first, shared=True))
    for (channel, _, _), groups in fresh.items():
        size = batches[channel]
        for message, rows in groups:
            for start in range(0, len(rows), size):
                chunk = rows[start : start + size]
                if len(chunk) == 1:
                    alone.add(chunk[0].id)
                else:
                    units.append(_Multicast(channel, chunk, message, shared=False))
    order = {row.id: index for index, row in enumerate(claimed)}
    units.sort(key=lambda unit: min(order[row.id] for row in unit.rows))
    return units, alone


class Dispatcher:
    """Sends what the outbox holds, channel by channel, within each channel's flood limits.

    A member's rows go out one after another, in the order they were due; different members
    are served concurrently (at most `concurrency` at a time). Rows of channels without a
    messenger stay queued.

    On a channel whose messenger is a `BatchMessenger` (LINE), rows of one purpose and
    reference that render to the same message go in multicasts, one after another, of at most
    `capabilities.batch_send` members (beside, not after, their members' other rows). The rows
    of a multicast share one retry key, written before it goes, so that a retry after a crash
    is the same request and reaches nobody twice. A channel whose monthly quota is used up
    (`QuotaExhausted`) sends nothing more until the next month in `timezone` begins, or the
    dispatcher is made again (a restart); its rows wait in the queue, and
    `on_quota_exhausted` tells the organisers.
    """

    def __init__(
        self,
        queue: DeliveryQueue,
        messengers: Mapping[str, Messenger],
        clock: Clock,
        *,
        run_blocking: RunBlocking,
        pacers: Mapping[str, Pacer] | None = None,
        renderer: Renderer | None = None,
        batch: int = 15,
        lease: timedelta = timedelta(seconds=30),
        max_attempts: int = 8,
        backoff: Callable[[int], timedelta] = exponential_backoff,
        concurrency: int = 16,
        in_flight: int = 16,
        longest_wait: timedelta = timedelta(minutes=1),
        request_pacers: Mapping[str, Pacer] | None = None,
        timezone: tzinfo = UTC,
        on_quota_exhausted: QuotaAlert | None = None,
    ) -> None:
        """`renderer` writes each claimed row's message at send time (None: rows carry fixed
        messages only). `batch` rows are claimed at a time: about half a second of sending, so
        that a higher lane overtakes a running broadcast quickly. `lease`: how long a claimed
        row is ours; it is renewed while we still hold it, and after a crash another process
        takes the row once it runs out. `concurrency`: members served at once (most of them
        wait for their chat's pace); `in_flight`: sends awaiting the platform's answer at once,
        which bounds the messages a crash can leave sent but unrecorded (each sent again once
        its lease runs out). `longest_wait`: a chat the platform asks us to leave alone for
        longer than this has its rows put back in the queue rather than held.
        `request_pacers`: a multicast channel's limit on calls (default: its pacer's clock at
        `BATCH_REQUESTS_PER_SECOND`). `timezone`: the campaign's, whose months the quota
        follows."""
        if batch < 1 or max_attempts < 1 or concurrency < 1 or in_flight < 1:
            raise ValueError("batch, max_attempts, concurrency and in_flight must be at least 1")
        self._queue = queue
        self._renderer = renderer
        self._messengers = dict(messengers)
        self._clock = clock
        self._run_blocking = run_blocking
        self._pacers = dict(pacers or {})
        for channel in self._messengers:
            self._pacers.setdefault(channel, Pacer())
        self._batch = batch
        self._lease = lease
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._concurrency = concurrency
        self._in_flight = in_flight
        self._longest_wait = longest_wait.total_seconds()
        self._request_pacers = dict(request_pacers or {})
        self._timezone = timezone
        self._on_quota_exhausted = on_quota_exhausted
        self._quota_until: dict[str, datetime] = {}
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def attach(self, channel: str, messenger: Messenger, pacer: Pacer | None = None) -> None:
        """Start serving `channel` (e.g. once its connection is up); its queued rows go out
        from the next round on."""
        self._messengers[channel] = messenger
        self._pacers[channel] = pacer or self._pacers.get(channel) or Pacer()
        if pacer is not None:
            self._request_pacers.pop(channel, None)

    def detach(self, channel: str) -> None:
        """Stop serving `channel`; its rows claimed but not yet sent go back to the queue."""
        self._messengers.pop(channel, None)

    # --- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, idle: float = 2.0) -> None:
        """Dispatch until `stop` is set, pausing `idle` seconds whenever nothing was due.

        Once `stop` is set, messages already on their way finish and every row not yet sent
        goes back to the queue untried.
        """
        self._loop = asyncio.get_running_loop()
        self._stop = stop
        try:
            while not stop.is_set():
                # Cleared before claiming: a wake() during the batch means another round.
                self._wakeup.clear()
                try:
                    report = await self.run_once()
                except Exception:
                    log.exception("dispatching failed; trying again in %g s", idle)
                    report = DispatchReport()
                if report.claimed >= self._batch:
                    continue  # a full batch: more may be due already
                await self._pause(stop, idle)
        finally:
            self._stop = None
            self._loop = None

    def wake(self) -> None:
        """Run the loop now instead of after its pause (something was just queued).

        Safe to call from any thread, such as the core's worker threads; does nothing while
        `run` is not running (it looks at the queue as soon as it starts).
        """
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has just closed
            loop.call_soon_threadsafe(self._wakeup.set)

    async def _pause(self, stop: asyncio.Event, idle: float) -> None:
        if self._wakeup.is_set():
            return
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wakeup.wait())]
        try:
            await asyncio.wait(waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    @property
    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    # --- one round ----------------------------------------------------------------------------

    async def run_once(self) -> DispatchReport:
        """Claim what is due, send it, record every outcome; returns what happened."""
        now = self._clock.now()
        serving = {
            channel: messenger
            for channel, messenger in self._messengers.items()
            if not self._quota_used_up(channel, now)
        }
        if not serving:
            return DispatchReport()
        reach = {
            channel: getattr(messenger, "audience", None) for channel, messenger in serving.items()
        }
        batches = {
            channel: batch_size(messenger)
            for channel, messenger in serving.items()
            if batch_size(messenger) > 1
        }
        if batches:
            claimed = await self._run_blocking(
                self._queue.claim, now, self._batch, self._lease, channels=reach, batches=batches
            )
        else:  # a queue that knows nothing of multicasts will do
            claimed = await self._run_blocking(
                self._queue.claim, now, self._batch, self._lease, channels=reach
            )
        round_ = _Round(
            DispatchReport(claimed=len(claimed)),
            {row.id: row for row in claimed},
            dict.fromkeys((row.id for row in claimed), now + self._lease),
            asyncio.Semaphore(self._in_flight),
        )
        renewing = asyncio.ensure_future(self._renew_while(round_))
        try:
            messages = await self._render(claimed, round_)
            multicasts, alone = _multicasts(claimed, messages, batches)
            by_member: dict[int, list[ClaimedDelivery]] = {}
            for delivery in claimed:
                if delivery.id in alone:
                    by_member.setdefault(delivery.member_id, []).append(delivery)
            slots = asyncio.Semaphore(self._concurrency)

            async def serve(rows: list[ClaimedDelivery]) -> None:
                async with slots:
                    await self._deliver_all(rows, messages, round_)

            async def multicast(units: list[_Multicast]) -> None:
                for unit in units:
                    try:
                        await self._multicast(unit, round_)
                    finally:
                        for row in unit.rows:
                            round_.done(row)

            by_channel: dict[str, list[_Multicast]] = {}
            for unit in multicasts:
                by_channel.setdefault(unit.channel, []).append(unit)
            results = await asyncio.gather(
                *(multicast(units) for units in by_channel.values()),
                *(serve(rows) for rows in by_member.values()),
                return_exceptions=True,
            )
        finally:
            renewing.cancel()
        for result in results:
            if isinstance(result, BaseException):  # a bug: the rows wait for their lease
                log.error("delivering to a member failed", exc_info=result)
        return round_.report

    async def _render(self, claimed: list[ClaimedDelivery], round_: _Round) -> dict[int, Outgoing]:
        """Each row's message as of now; stale rows are recorded as skipped, undecodable ones
        as failed (whatever is wrong with them will not get better), rows that may not go yet
        are put back untried, due when they may."""
        report = round_.report
        rendered: Mapping[int, Rendered]
        if self._renderer is not None and claimed:
            rendered = await self._run_blocking(self._renderer.render, claimed)
        else:
            rendered = {}
        # The rows of a shared key go together or not at all: one that may not go yet holds
        # back the others (one stale for good is left out: it will never go with another key).
        held_back: dict[str, Later] = {}
        for row in claimed:
            later = rendered.get(row.id)
            if row.shared_key and isinstance(later, Later):
                known = held_back.get(row.retry_key)
                if known is None or later.until > known.until:
                    held_back[row.retry_key] = later
        messages: dict[int, Outgoing] = {}
        skipped: dict[Claim, str] = {}
        for row in claimed:
            result = rendered.get(row.id)
            if row.shared_key and row.retry_key in held_back and not isinstance(result, Skip):
                result = held_back[row.retry_key]
            if result is None:
                try:
                    result = fixed_message(row.payload) or Skip(SKIP_UNKNOWN_KIND)
                except Exception as exc:
                    log.warning("delivery %s has an undecodable payload: %r", row.id, exc)
                    if await self._record(
                        row, self._queue.mark_failed, row.claim, f"undecodable payload: {exc!r}"
                    ):
                        report.failed += 1
                    else:
                        report.taken_over += 1
                    round_.done(row)
                    continue
            if isinstance(result, Skip):
                skipped[row.claim] = result.reason
                round_.done(row)
            elif isinstance(result, Later):
                await self._later(row, result, round_)
            else:
                messages[row.id] = result
        if skipped:
            ours = await self._record_many(self._queue.mark_skipped_many, skipped)
            report.skipped += ours
            report.taken_over += len(skipped) - ours
        return messages

    async def _later(self, row: ClaimedDelivery, later: Later, round_: _Round) -> None:
        """Put a row the renderer holds back (quiet hours) in the queue again, untried, due
        when it may go; at least a moment from now, so a renderer's mistake cannot spin."""
        due_at = max(later.until, self._clock.now() + timedelta(seconds=1))
        log.debug("delivery %s waits until %s: %s", row.id, due_at, later.reason)
        if await self._record(
            row, self._queue.mark_retry, row.claim, None, due_at, count_attempt=False
        ):
            round_.report.deferred += 1
        else:
            round_.report.taken_over += 1
        round_.done(row)

    async def _renew_while(self, round_: _Round) -> None:
        """Keep the lease of rows we still hold (waiting for their turn, or being sent) from
        running out; a row found to be another process's is not sent."""
        every = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            if round_.held:
                await self._renew(round_, list(round_.held.values()))

    async def _renew(self, round_: _Round, rows: list[ClaimedDelivery]) -> None:
        until = self._clock.now() + self._lease
        try:
            ours = await self._run_blocking(self._queue.renew, [row.claim for row in rows], until)
        except Exception:
            log.exception("could not renew the lease of %d deliveries", len(rows))
            return
        for row in rows:
            if row.id in ours:
                if row.id in round_.leases:
                    round_.leases[row.id] = until
            elif row.id in round_.held:
                log.warning("delivery %s: our lease ran out and another process claimed it", row.id)
                round_.done(row)

    async def _still_ours(self, row: ClaimedDelivery, round_: _Round) -> bool:
        """Whether the row may be sent now: still held, with a lease that will not run out
        while the platform answers (renewed first if it might)."""
        lease = round_.leases.get(row.id)
        if lease is None:
            return False
        if lease - self._clock.now() < self._lease * _LEASE_MARGIN:
            await self._renew(round_, [row])
        return row.id in round_.held

    async def _deliver_all(
        self,
        rows: list[ClaimedDelivery],
        messages: Mapping[int, Outgoing],
        round_: _Round,
    ) -> None:
        """One member's rows, in order; stop early when the rest cannot go now."""
        report = round_.report
        try:
            for index, row in enumerate(rows):
                if self._stopping:
                    await self._defer(rows[index:], None, round_)
                    return
                rest = await self._deliver(row, messages[row.id], round_)
                round_.done(row)
                if rest is None:
                    continue
                remaining = rows[index + 1 :]
                if rest.skip is not None:
                    for other in remaining:
                        if await self._record(
                            other, self._queue.mark_skipped, other.claim, rest.skip
                        ):
                            report.skipped += 1
                        else:
                            report.taken_over += 1
                else:
                    await self._defer(remaining, rest.due_at, round_)
                return
        finally:
            for row in rows:
                round_.done(row)

    async def _deliver(
        self, row: ClaimedDelivery, message: Outgoing, round_: _Round
    ) -> _Rest | None:
        """Send one row and record the outcome; returns what to do with the member's rest."""
        report = round_.report
        messenger = self._messengers.get(row.channel)
        if messenger is None:  # detached while this batch was under way
            await self._defer([row], None, round_)
            return _Rest()
        parts = messenger.parts(message)
        pacer = self._pacers[row.channel]
        chat = row.external_id
        error = ""
        for _ in range(_RATE_LIMITED_TRIES):
            held = pacer.held_for(chat)
            if held > self._longest_wait:
                return await self._put_back(row, error or "rate limited", held, report)
            if not await self._paced(lambda: pacer.acquire(chat, parts, priority=row.lane)):
                await self._defer([row], None, round_)
                return _Rest()
            if self._quota_used_up(row.channel):  # found by another send meanwhile
                await self._defer([row], None, round_)
                return _Rest()
            if not await self._still_ours(row, round_):
                report.taken_over += 1  # its new owner sends it: sending too would duplicate
                return None
            try:
                async with round_.sending:
                    message_id = await messenger.send(chat, message, retry_key=row.retry_key)
            except RateLimited as exc:
                log.info("%s chat %s: %s", row.channel, chat, exc)
                pacer.hold(exc.retry_after, None if exc.everything else chat)
                error = str(exc)
                continue
            except Unreachable as exc:
                return await self._unreachable(row, exc.reason, report)
            except QuotaExhausted:
                await self._quota_exhausted(row.channel)
                await self._defer([row], None, round_)
                return _Rest()
            except PermanentFailure as exc:
                log.warning("delivery %s failed for good: %s", row.id, exc)
                if await self._record(
                    row, self._queue.mark_failed, row.claim, str(exc) or repr(exc)
                ):
                    report.failed += 1
                else:
                    report.taken_over += 1
                return None
            except Exception as exc:
                if not isinstance(exc, TemporaryFailure):
                    log.exception("delivery %s: unexpected error from the messenger", row.id)
                await self._attempt_failed(row, str(exc) or repr(exc), report)
                return None
            if await self._record(
                row, self._queue.mark_sent, row.claim, message_id, self._clock.now()
            ):
                report.sent += 1
            else:
                report.taken_over += 1
            return None
        return await self._put_back(row, error, pacer.held_for(chat), report)

    # --- multicasts ---------------------------------------------------------------------------

    async def _multicast(self, unit: _Multicast, round_: _Round) -> None:
        """Send one message to the members of `unit.rows` in one call and record the outcome
        of every row; a new group first gets its key, written before anything goes."""
        report = round_.report
        channel, message = unit.channel, unit.message
        messenger = self._messengers.get(channel)
        if messenger is None or batch_size(messenger) < 2 or self._quota_used_up(channel):
            await self._defer(unit.rows, None, round_)
            return
        if self._stopping:
            await self._defer(unit.rows, None, round_)
            return
        rows = unit.rows
        if not unit.shared:
            rows = await self._share_key(rows, round_)
            if len(rows) == 1:  # the others were taken over: its key is its own, a push
                await self._deliver(rows[0], message, round_)
                return
            if not rows:
                return
        sender = cast(BatchMessenger, messenger)
        key = rows[0].retry_key
        chats = [row.external_id for row in rows]
        parts = messenger.parts(message)
        lane = min(row.lane for row in rows)
        pacer = self._pacers[channel]
        requests = self._request_pacer(channel)
        error = ""
        for _ in range(_RATE_LIMITED_TRIES):
            held = requests.held_for(_BATCH_REQUESTS)
            if held > self._longest_wait:
                await self._put_back_many(rows, error or "rate limited", held, report)
                return

            async def acquire() -> None:
                await requests.acquire(_BATCH_REQUESTS, priority=lane)
                await pacer.acquire_many(chats, parts, priority=lane)

            if not await self._paced(acquire) or self._quota_used_up(channel):
                await self._defer(rows, None, round_)
                return
            if not await self._all_ours(rows, round_):
                # Another process holds some: it sends them, with the key, once ours are
                # given back (a part of them sent now would have the rest dropped).
                still = [row for row in rows if row.id in round_.held]
                report.taken_over += len(rows) - len(still)
                await self._defer(still, None, round_)
                return
            try:
                async with round_.sending:
                    request_id = await sender.send_many(chats, message, retry_key=key)
            except RateLimited as exc:
                log.info("%s multicast to %d: %s", channel, len(rows), exc)
                requests.hold(exc.retry_after)
                if exc.everything:
                    pacer.hold(exc.retry_after)
                error = str(exc)
                continue
            except QuotaExhausted:
                await self._quota_exhausted(channel)
                await self._defer(rows, None, round_)
                return
            except (PermanentFailure, Unreachable) as exc:
                # A multicast tells no member apart: the request itself was refused.
                log.warning("a multicast of %d deliveries failed for good: %s", len(rows), exc)
                ours = await self._record_many_of(
                    rows, self._queue.mark_failed_many, str(exc) or repr(exc)
                )
                report.failed += len(ours)
                report.taken_over += len(rows) - len(ours)
                return
            except Exception as exc:
                if not isinstance(exc, TemporaryFailure):
                    log.exception("a multicast of %d: the messenger failed unexpectedly", len(rows))
                await self._multicast_failed(rows, str(exc) or repr(exc), report)
                return
            ours = await self._record_many_of(
                rows, self._queue.mark_sent_many, request_id, self._clock.now()
            )
            report.multicasts += 1
            report.sent += len(ours)
            report.taken_over += len(rows) - len(ours)
            return
        await self._put_back_many(rows, error, requests.held_for(_BATCH_REQUESTS), report)

    async def _share_key(
        self, rows: list[ClaimedDelivery], round_: _Round
    ) -> list[ClaimedDelivery]:
        """Write one new key into the rows (those still ours); returns them with it."""
        key = str(uuid.uuid4())
        try:
            ours = await self._run_blocking(self._queue.share_key, [row.claim for row in rows], key)
        except Exception:
            # Not written, so not sent: the rows go again once their lease runs out.
            log.exception("could not write the key of a multicast of %d deliveries", len(rows))
            for row in rows:
                round_.done(row)
            return []
        for row in rows:
            if row.id not in ours:
                round_.report.taken_over += 1
                round_.done(row)
        return [replace(row, retry_key=key) for row in rows if row.id in ours]

    def _request_pacer(self, channel: str) -> Pacer:
        pacer = self._request_pacers.get(channel)
        if pacer is None:
            pacer = self._request_pacers[channel] = self._pacers[channel].like(
                per_second=BATCH_REQUESTS_PER_SECOND
            )
        return pacer

    async def _all_ours(self, rows: list[ClaimedDelivery], round_: _Round) -> bool:
        """`_still_ours` for the rows of a multicast, renewed together."""
        now = self._clock.now()
        leases = [round_.leases.get(row.id) for row in rows]
        if any(lease is None for lease in leases):
            return False
        if any(lease - now < self._lease * _LEASE_MARGIN for lease in leases if lease):
            await self._renew(round_, rows)
        return all(row.id in round_.held for row in rows)

    async def _multicast_failed(
        self, rows: list[ClaimedDelivery], error: str, report: DispatchReport
    ) -> None:
        """`_attempt_failed` for the rows of a multicast: all due again at the same moment,
        so that they are claimed (and sent, with their key) together."""
        attempts = max(row.attempts for row in rows)
        if attempts >= self._max_attempts:
            log.warning("a multicast failed %d times; giving up: %s", attempts, error)
            ours = await self._record_many_of(
                rows, self._queue.mark_failed_many, f"gave up after {attempts} attempts: {error}"
            )
            report.failed += len(ours)
        else:
            due_at = self._clock.now() + self._backoff(attempts)
            log.info(
                "a multicast of %d failed (attempt %d), retrying at %s: %s",
                len(rows),
                attempts,
                due_at,
                error,
            )
            ours = await self._record_many_of(rows, self._queue.mark_retry_many, error, due_at)
            report.retried += len(ours)
        report.taken_over += len(rows) - len(ours)

    async def _put_back_many(
        self, rows: list[ClaimedDelivery], error: str, wait: float, report: DispatchReport
    ) -> None:
        """`_put_back` for the rows of a multicast."""
        due_at = self._clock.now() + timedelta(seconds=max(wait, 1.0))
        ours = await self._record_many_of(
            rows, self._queue.mark_retry_many, error, due_at, count_attempt=False
        )
        report.deferred += len(ours)
        report.taken_over += len(rows) - len(ours)

    async def _record_many_of(
        self,
        rows: Sequence[ClaimedDelivery],
        function: Callable[..., set[int]],
        *args: object,
        **kwargs: object,
    ) -> set[int]:
        """Write one outcome for the claims of `rows`; returns the ids still ours (all, if the
        database failed: the rows are retried, together, once their lease ends)."""
        name = getattr(function, "__name__", function)
        try:
            ours: set[int] = await self._run_blocking(
                function, [row.claim for row in rows], *args, **kwargs
            )
        except Exception:
            log.exception("could not record %s for %d deliveries", name, len(rows))
            return {row.id for row in rows}
        if len(ours) < len(rows):
            log.warning(
                "%d of %d deliveries: %s not recorded, another process claimed them",
                len(rows) - len(ours),
                len(rows),
                name,
            )
        return ours

    # --- the monthly quota ----------------------------------------------------------------------

    def _quota_used_up(self, channel: str, now: datetime | None = None) -> bool:
        until = self._quota_until.get(channel)
        if until is None:
            return False
        if (now or self._clock.now()) < until:
            return True
        del self._quota_until[channel]
        log.info("%s: a new month, sending again", channel)
        return False

    async def _quota_exhausted(self, channel: str) -> None:
        """Stop sending on `channel` until the next month begins and tell the organisers
        (once per month: what they are told names the month)."""
        now = self._clock.now()
        if self._quota_used_up(channel, now):
            return  # another send found it first
        local = now.astimezone(self._timezone)
        month = f"{local.year:04d}-{local.month:02d}"
        year, index = divmod(local.year * 12 + local.month, 12)
        resumes = datetime(year, index + 1, 1, tzinfo=self._timezone)
        self._quota_until[channel] = resumes
        log.error(
            "%s: the month's message quota is used up; nothing more is sent on it until %s "
            "(or a restart), its deliveries wait in the queue",
            channel,
            resumes.isoformat(),
        )
        if self._on_quota_exhausted is None:
            return
        try:
            await self._run_blocking(self._on_quota_exhausted, channel, month, resumes)
        except Exception:
            log.exception("could not tell the organisers that %s's quota is used up", channel)

    # --- pacing -------------------------------------------------------------------------------

    async def _paced(self, acquire: Callable[[], Awaitable[None]]) -> bool:
        """Wait for the pacer (`acquire`); False if the dispatcher was told to stop meanwhile."""
        stop = self._stop
        if stop is None:
            await acquire()
            return True
        if stop.is_set():
            return False
        acquiring = asyncio.ensure_future(acquire())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not acquiring.done():
                acquiring.cancel()
        if acquiring.cancelled() or not acquiring.done():
            return False
        acquiring.result()
        return True

    # --- outcomes -----------------------------------------------------------------------------

    async def _unreachable(
        self, row: ClaimedDelivery, reason: str, report: DispatchReport
    ) -> _Rest:
        log.info("member %s (%s) is unreachable: %s", row.member_id, row.channel, reason)
        if await self._record(row, self._queue.mark_skipped, row.claim, SKIP_UNREACHABLE):
            report.skipped += 1
        else:
            report.taken_over += 1
        # The member's standing is a fact whoever holds the row: recorded either way.
        await self._record(
            row, self._queue.mark_member_unreachable, row.member_id, reason, self._clock.now()
        )
        return _Rest(skip=SKIP_UNREACHABLE)

    async def _attempt_failed(
        self, row: ClaimedDelivery, error: str, report: DispatchReport
    ) -> None:
        if row.attempts >= self._max_attempts:
            log.warning("delivery %s failed %d times; giving up: %s", row.id, row.attempts, error)
            if await self._record(
                row,
                self._queue.mark_failed,
                row.claim,
                f"gave up after {row.attempts} attempts: {error}",
            ):
                report.failed += 1
            else:
                report.taken_over += 1
            return
        due_at = self._clock.now() + self._backoff(row.attempts)
        log.info(
            "delivery %s failed (attempt %d), retrying at %s: %s",
            row.id,
            row.attempts,
            due_at,
            error,
        )
        if await self._record(row, self._queue.mark_retry, row.claim, error, due_at):
            report.retried += 1
        else:
            report.taken_over += 1

    async def _put_back(
        self, row: ClaimedDelivery, error: str, wait: float, report: DispatchReport
    ) -> _Rest:
        """The chat is held for long: requeue without counting it as an attempt (it was not
        the message's fault), and the member's other rows with it."""
        due_at = self._clock.now() + timedelta(seconds=max(wait, 1.0))
        if await self._record(
            row, self._queue.mark_retry, row.claim, error, due_at, count_attempt=False
        ):
            report.deferred += 1
        else:
            report.taken_over += 1
        return _Rest(due_at=due_at)

    async def _defer(
        self, rows: list[ClaimedDelivery], due_at: datetime | None, round_: _Round
    ) -> None:
        for row in rows:
            if await self._record(
                row,
                self._queue.mark_retry,
                row.claim,
                None,
                due_at or row.due_at or self._clock.now(),
                count_attempt=False,
            ):
                round_.report.deferred += 1
            else:
                round_.report.taken_over += 1
            round_.done(row)

    async def _record(
        self,
        row: ClaimedDelivery,
        function: Callable[P, object],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> bool:
        """Write an outcome of `row`'s claim; False if the row was no longer ours (nothing was
        written: another process claimed it once our lease ran out, and its outcome counts).

        If the database fails, True: the row is retried once its lease ends.
        """
        name = getattr(function, "__name__", function)
        try:
            result = await self._run_blocking(function, *args, **kwargs)
        except Exception:
            log.exception("could not record a delivery outcome (%s)", name)
            return True
        if result is False:
            log.warning(
                "delivery %s: %s not recorded, another process claimed it after our lease ran out",
                row.id,
                name,
            )
            return False
        return True

    async def _record_many(
        self, function: Callable[[Mapping[Claim, str]], int], outcomes: Mapping[Claim, str]
    ) -> int:
        """Write the outcomes of several claims at once; returns how many were still ours (all,
        if the database failed: the rows are retried once their lease ends)."""
        try:
            ours = await self._run_blocking(function, outcomes)
        except Exception:
            log.exception("could not record %d delivery outcomes", len(outcomes))
            return len(outcomes)
        if ours < len(outcomes):
            log.warning(
                "%d of %d deliveries were claimed by another process after our lease ran out",
                len(outcomes) - ours,
                len(outcomes),
            )
        return ours
