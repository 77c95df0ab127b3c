"""`Later`: a renderer may say a claimed row may not go yet (quiet hours); the dispatcher puts
it back untried, due when it may go, and sends it then. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot.delivery.dispatcher import Dispatcher
from bot.delivery.model import Rendered, Renderer
from bot.delivery.pacing import Pacer
from bot.domain.deliveries import REMINDER, Later, Pending
from bot.domain.messages import Outgoing
from bot.store.deliveries import SqlDeliveryQueue
from tests.delivery.conftest import Outbox
from tests.delivery.fakes import FakeMessenger, FakeTime, direct
from tests.fakes.clock import FakeClock

QUIET = "quiet hours"


class QuietHours:
    """A renderer that holds reminders back until `ends`, then writes them from the payload."""

    def __init__(self, clock: FakeClock, ends: datetime) -> None:
        self._clock = clock
        self.ends = ends
        self.seen: list[int] = []

    def render(self, batch: Sequence[Pending]) -> Mapping[int, Rendered]:
        self.seen += [pending.id for pending in batch]
        rendered: dict[int, Rendered] = {}
        for pending in batch:
            if pending.purpose == REMINDER and self._clock.now() < self.ends:
                rendered[pending.id] = Later(self.ends, QUIET)
            else:
                rendered[pending.id] = Outgoing(pending.payload["message"]["text"])
        return rendered


def dispatcher(
    queue: SqlDeliveryQueue, clock: FakeClock, renderer: Renderer
) -> tuple[Dispatcher, FakeMessenger, FakeTime]:
    time = FakeTime()
    messenger = FakeMessenger(time.monotonic)
    return (
        Dispatcher(
            queue,
            {"telegram": messenger},
            clock,
            run_blocking=direct,
            pacers={"telegram": Pacer(monotonic=time.monotonic, sleep=time.sleep)},
            renderer=renderer,
        ),
        messenger,
        time,
    )


async def test_a_row_the_renderer_holds_back_is_queued_untried_until_it_may_go(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    hanako = outbox.member("1001")
    reminder = outbox.enqueue(hanako, "明日は集会です", purpose=REMINDER)
    notice = outbox.enqueue(hanako, "会場が変わりました", purpose="event_change")
    renderer = QuietHours(clock, ends=clock.now() + timedelta(hours=9))
    bot, messenger, time = dispatcher(queue, clock, renderer)

    report = await time.run(bot.run_once())

    assert (report.claimed, report.sent, report.deferred, report.retried) == (2, 1, 1, 0)
    assert messenger.texts("1001") == ["会場が変わりました"]
    row = outbox.row(reminder)
    assert (row.state, row.attempts, row.due_at, row.lease_until) == (
        "queued",
        0,
        renderer.ends,
        None,
    )
    assert row.last_error is None
    assert outbox.row(notice).state == "sent"


async def test_a_held_back_row_goes_out_once_its_time_has_come_and_not_before(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    reminder = outbox.enqueue(outbox.member("1001"), "明日は集会です", purpose=REMINDER)
    renderer = QuietHours(clock, ends=clock.now() + timedelta(hours=9))
    bot, messenger, time = dispatcher(queue, clock, renderer)
    await time.run(bot.run_once())

    clock.set(renderer.ends - timedelta(seconds=1))
    assert (await time.run(bot.run_once())).claimed == 0
    clock.set(renderer.ends)
    report = await time.run(bot.run_once())

    assert report.sent == 1
    assert messenger.texts("1001") == ["明日は集会です"]
    row = outbox.row(reminder)
    assert (row.state, row.attempts, row.sent_at) == ("sent", 1, renderer.ends)


async def test_holding_back_never_uses_up_attempts(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    """Held back night after night (more often than max_attempts), it is still sent."""
    reminder = outbox.enqueue(outbox.member("1001"), "明日は集会です", purpose=REMINDER)
    renderer = QuietHours(clock, ends=clock.now() + timedelta(minutes=1))
    bot, messenger, time = dispatcher(queue, clock, renderer)

    for _ in range(10):
        renderer.ends = clock.now() + timedelta(minutes=1)
        assert (await time.run(bot.run_once())).deferred == 1
        clock.set(renderer.ends)
    renderer.ends = clock.now()
    await time.run(bot.run_once())

    row = outbox.row(reminder)
    assert (row.state, row.attempts) == ("sent", 1)
    assert messenger.texts("1001") == ["明日は集会です"]


async def test_a_time_already_past_waits_a_moment_rather_than_spinning(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    reminder = outbox.enqueue(outbox.member("1001"), "明日は集会です", purpose=REMINDER)

    class Confused:
        def render(self, batch: Sequence[Pending]) -> Mapping[int, Rendered]:
            return {pending.id: Later(clock.now() - timedelta(hours=1), QUIET) for pending in batch}

    bot, _, time = dispatcher(queue, clock, Confused())

    await time.run(bot.run_once())

    row = outbox.row(reminder)
    assert row.state == "queued"
    assert row.due_at > clock.now()
    assert (await time.run(bot.run_once())).claimed == 0
