"""The dispatcher: send due outbox rows through their channel, paced, and record each outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ParamSpec, Protocol, TypeVar

from bot.delivery.model import (
    Claim,
    ClaimedDelivery,
    DeliveryQueue,
    Messenger,
    PermanentFailure,
    RateLimited,
    Rendered,
    Renderer,
    TemporaryFailure,
    Unreachable,
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


@dataclass(frozen=True)
class _Rest:
    """What becomes of a member's remaining rows in the batch after one could not be sent.

    `skip`: skip them for this reason. Otherwise put them back, untried, due at `due_at`
    (None: when they were due before).
    """

    skip: str | None = None
    due_at: datetime | None = None


class Dispatcher:
    """Sends what the outbox holds, channel by channel, within each channel's flood limits.

    A member's rows go out one after another, in the order they were due; different members
    are served concurrently (at most `concurrency` at a time). Rows of channels without a
    messenger stay queued.
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
    ) -> None:
        """`renderer` writes each claimed row's message at send time (None: rows carry fixed
        messages only). `batch` rows are claimed at a time: about half a second of sending, so
        that a higher lane overtakes a running broadcast quickly. `lease`: how long a claimed
        row is ours; it is renewed while we still hold it, and after a crash another process
        takes the row once it runs out. `concurrency`: members served at once (most of them
        wait for their chat's pace); `in_flight`: sends awaiting the platform's answer at once,
        which bounds the messages a crash can leave sent but unrecorded (each sent again once
        its lease runs out). `longest_wait`: a chat the platform asks us to leave alone for
        longer than this has its rows put back in the queue rather than held."""
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
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def attach(self, channel: str, messenger: Messenger, pacer: Pacer | None = None) -> None:
        """Start serving `channel` (e.g. once its connection is up); its queued rows go out
        from the next round on."""
        self._messengers[channel] = messenger
        self._pacers[channel] = pacer or self._pacers.get(channel) or Pacer()

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
        if not self._messengers:
            return DispatchReport()
        now = self._clock.now()
        reach = {
            channel: getattr(messenger, "audience", None)
            for channel, messenger in self._messengers.items()
        }
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
            by_member: dict[int, list[ClaimedDelivery]] = {}
            for delivery in claimed:
                if delivery.id in messages:
                    by_member.setdefault(delivery.member_id, []).append(delivery)
            slots = asyncio.Semaphore(self._concurrency)

            async def serve(rows: list[ClaimedDelivery]) -> None:
                async with slots:
                    await self._deliver_all(rows, messages, round_)

            results = await asyncio.gather(
                *(serve(rows) for rows in by_member.values()), return_exceptions=True
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
        messages: dict[int, Outgoing] = {}
        skipped: dict[Claim, str] = {}
        for row in claimed:
            result = rendered.get(row.id)
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
            if not await self._paced(pacer, chat, parts, row.lane):
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

    async def _paced(self, pacer: Pacer, chat: str, count: int, lane: int) -> bool:
        """Wait for the pacer; False if the dispatcher was told to stop meanwhile."""
        stop = self._stop
        if stop is None:
            await pacer.acquire(chat, count, priority=lane)
            return True
        if stop.is_set():
            return False
        acquiring = asyncio.ensure_future(pacer.acquire(chat, count, priority=lane))
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
        log.info(
            "member %s (%s %s) is unreachable: %s",
            row.member_id,
            row.channel,
            row.external_id,
            reason,
        )
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
