"""End to end: the outbox through the dispatcher, python-telegram-bot and the fake Bot API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest

from bot.channels.core_worker import CoreWorker
from bot.channels.telegram.messenger import TelegramMessenger
from bot.delivery.dispatcher import Dispatcher, DispatchReport
from bot.delivery.pacing import Pacer
from bot.domain.messages import Action, Button, Outgoing
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from tests.delivery.conftest import Outbox
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import FakeTelegram, RateLimits
from tests.fakes.telegram_errors import BLOCKED, CANT_INITIATE, DEACTIVATED

TOKEN = "123456:TEST-TOKEN"
HANAKO, TARO, JIRO = 1001, 1002, 1003


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        for user_id in (HANAKO, TARO, JIRO):
            server.add_user(user_id, started=True)
        yield server
    assert server.internal_errors == []


@pytest.fixture
async def messenger(fake: FakeTelegram) -> AsyncIterator[TelegramMessenger]:
    messenger = TelegramMessenger(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url)
    await messenger.initialize()
    yield messenger
    await messenger.shutdown()


@pytest.fixture
def core() -> Iterator[CoreWorker]:
    worker = CoreWorker()
    worker.start()
    yield worker
    worker.stop()


def dispatcher(
    database: Database,
    messenger: TelegramMessenger,
    core: CoreWorker,
    clock: FakeClock,
    pacer: Pacer | None = None,
) -> Dispatcher:
    """Wired as the app wires it: the store on the core's worker thread."""
    return Dispatcher(
        SqlDeliveryQueue(database.sessions),
        {"telegram": messenger},
        clock,
        run_blocking=core.run,
        pacers={"telegram": pacer} if pacer else None,
    )


@pytest.fixture
def telegram(
    database: Database, messenger: TelegramMessenger, core: CoreWorker, clock: FakeClock
) -> Dispatcher:
    """Paced for Telegram overall, but quick per chat: a retry need not wait a real second."""
    return dispatcher(database, messenger, core, clock, Pacer(per_chat_per_second=100.0))


def send_attempts(fake: FakeTelegram, chat_id: int) -> list[int]:
    """The HTTP status of every sendMessage to `chat_id` (0: connection dropped)."""
    return [r.status for r in fake.requests("sendMessage") if r.params.get("chat_id") == chat_id]


async def drain(dispatcher: Dispatcher) -> DispatchReport:
    total = DispatchReport()
    while (report := await dispatcher.run_once()).claimed:
        total.sent += report.sent
        total.claimed += report.claimed
    return total


async def test_deliveries_reach_the_right_chats(
    telegram: Dispatcher, fake: FakeTelegram, outbox: Outbox
) -> None:
    hanako, taro = outbox.member(str(HANAKO)), outbox.member(str(TARO))
    card = Outgoing(
        "12月7日(月) 13:00 集会の場所が変わりました",
        buttons=((Button("参加する", Action("rsvp", ("7", "going"))),),),
    )
    to_hanako = outbox.enqueue(hanako, "変更", purpose="event_change", message=card)
    to_taro = outbox.enqueue(taro, "<b>保険証</b>を残そう & 署名を")

    report = await telegram.run_once()

    assert report.sent == 2
    (received,) = fake.messages(HANAKO)
    assert received.text == card.text
    assert received.button_labels == ["参加する"]
    assert outbox.row(to_hanako).channel_message_id == str(received.message_id)
    (received,) = fake.messages(TARO)
    assert received.text == "<b>保険証</b>を残そう & 署名を"  # escaped, shown as typed
    assert outbox.row(to_taro).state == "sent"
    assert fake.messages(JIRO) == []


@pytest.mark.parametrize(
    ("gone", "reason"),
    [
        (lambda fake: fake.block(HANAKO), BLOCKED),
        (lambda fake: fake.deactivate(HANAKO), DEACTIVATED),
        (lambda fake: fake.add_user(HANAKO + 10_000), CANT_INITIATE),
        (lambda fake: None, "Chat not found"),  # PTB drops "Bad Request: " from the text
    ],
    ids=["blocked", "deactivated", "never-started", "unknown-chat"],
)
async def test_a_member_telegram_refuses_is_marked_unreachable_and_skipped(
    telegram: Dispatcher,
    fake: FakeTelegram,
    outbox: Outbox,
    clock: FakeClock,
    gone: object,
    reason: str,
) -> None:
    chat = HANAKO if reason in (BLOCKED, DEACTIVATED) else HANAKO + 10_000
    gone(fake)  # type: ignore[operator]
    member, taro = outbox.member(str(chat)), outbox.member(str(TARO))
    theirs = [outbox.enqueue(member, f"お知らせ {n}") for n in range(3)]
    outbox.enqueue(taro, "お知らせ")

    report = await telegram.run_once()

    assert (report.sent, report.skipped) == (1, 3)
    assert send_attempts(fake, chat) == [400 if reason == "Chat not found" else 403]
    stored = outbox.stored_member(member)
    assert stored.unreachable_reason == reason
    assert [outbox.row(d).skip_reason for d in theirs] == ["unreachable"] * 3
    assert len(fake.messages(TARO)) == 1

    outbox.enqueue(member, "変更のお知らせ", purpose="event_change")
    clock.advance(timedelta(minutes=1))
    await telegram.run_once()
    assert len(send_attempts(fake, chat)) == 1, "nothing more is sent to them"


async def test_a_429_is_waited_out_and_the_message_arrives_exactly_once(
    telegram: Dispatcher, fake: FakeTelegram, outbox: Outbox
) -> None:
    # Our pacer allows more than the fake does, so Telegram's flood control has to step in.
    fake.set_rate_limits(RateLimits(private_per_second=1.0, private_burst=1))
    hanako = outbox.member(str(HANAKO))
    ids = [outbox.enqueue(hanako, f"お知らせ {n}") for n in range(2)]

    report = await telegram.run_once()

    assert report.sent == 2
    assert fake.stats.rate_limited == 1
    assert send_attempts(fake, HANAKO) == [200, 429, 200]
    assert [m.text for m in fake.messages(HANAKO)] == ["お知らせ 0", "お知らせ 1"]
    assert [outbox.row(d).attempts for d in ids] == [1, 1]


@pytest.mark.parametrize(
    "outage",
    [
        lambda fake: fake.fail_next(1, status=502, methods="sendMessage", html=True),
        lambda fake: fake.fail_next(1, status=500, methods="sendMessage"),
        lambda fake: fake.drop_next(1, methods="sendMessage"),
    ],
    ids=["502-nginx", "500", "dropped"],
)
async def test_server_errors_and_dropped_connections_are_retried(
    telegram: Dispatcher, fake: FakeTelegram, outbox: Outbox, clock: FakeClock, outage: object
) -> None:
    delivery = outbox.enqueue(outbox.member(str(HANAKO)), "お知らせ")
    outage(fake)  # type: ignore[operator]

    first = await telegram.run_once()
    row = outbox.row(delivery)
    clock.advance(row.due_at - clock.now())
    second = await telegram.run_once()

    assert (first.retried, second.sent) == (1, 1)
    assert row.last_error
    assert outbox.row(delivery).state == "sent"
    assert [m.text for m in fake.messages(HANAKO)] == ["お知らせ"]


async def test_a_message_telegram_refuses_fails_without_retrying(
    telegram: Dispatcher, fake: FakeTelegram, outbox: Outbox
) -> None:
    # A blank button label: Telegram answers 400 BUTTON_TEXT_INVALID, and would every time.
    blank = ((Button(" ", Action("menu")),),)
    refused = outbox.enqueue(
        outbox.member(str(HANAKO)), "選んでください", message=Outgoing("選んでください", blank)
    )

    report = await telegram.run_once()

    assert report.failed == 1
    row = outbox.row(refused)
    assert (row.state, row.attempts) == ("failed", 1)
    assert row.last_error == "Button_text_invalid"  # as PTB words Telegram's 400
    assert send_attempts(fake, HANAKO) == [400]


async def test_an_answer_lost_after_telegram_took_the_message_costs_one_duplicate_at_most(
    telegram: Dispatcher, fake: FakeTelegram, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member(str(HANAKO)), "お知らせ")
    fake.drop_next(1, methods="sendMessage", after=True)

    await telegram.run_once()
    clock.advance(outbox.row(delivery).due_at - clock.now())
    await telegram.run_once()

    assert outbox.row(delivery).state == "sent"
    assert [m.text for m in fake.messages(HANAKO)] == ["お知らせ", "お知らせ"]


async def test_a_broadcast_to_300_members_under_realistic_limits_gets_no_429(
    database: Database,
    messenger: TelegramMessenger,
    core: CoreWorker,
    clock: FakeClock,
    fake: FakeTelegram,
    outbox: Outbox,
) -> None:
    telegram = dispatcher(database, messenger, core, clock)  # the default pacing
    members = list(range(20_000, 20_300))
    for user_id in members:
        fake.add_user(user_id, started=True)
    outbox.broadcast([str(user_id) for user_id in members], "12月7日 日比谷で大集会")
    fake.set_rate_limits(RateLimits())  # 30/s overall, 1/s per chat, Telegram's bursts

    started = time.monotonic()
    report = await drain(telegram)
    elapsed = time.monotonic() - started

    print(f"\n300-message broadcast: {elapsed:.1f} s, {fake.stats.rate_limited} x 429")
    assert report.sent == 300
    assert fake.stats.rate_limited == 0
    assert all(len(fake.messages(user_id)) == 1 for user_id in members)
    assert set(outbox.states().values()) == {"sent"}
    assert elapsed < 30  # 299 gaps of 1/30 s take 10 s; a busy machine may be slower
