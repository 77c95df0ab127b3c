"""LINE multicasts from the outbox (issue 13): one message to up to 500 members a call, each
multicast's retry key written before it goes, so that a retry after a crash delivers nobody
twice and loses nobody. Real queue (SQLite and PostgreSQL), real broadcasts and renderer, an
in-memory LINE that honours retry keys as LINE does (tests/delivery/line_fakes.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from bot.config import Settings
from bot.delivery.dispatcher import Dispatcher, DispatchReport
from bot.delivery.model import RateLimited, Rendered, TemporaryFailure
from bot.delivery.pacing import Pacer
from bot.domain.broadcasts import Target
from bot.domain.deliveries import REMINDER, Audience, Later, Pending, lane_of, message_payload
from bot.domain.messages import Outgoing
from bot.domain.reminders import QuietHours
from bot.services import broadcasts
from bot.services.broadcasts import Draft
from bot.services.deliveries import DeliveryContent
from bot.services.screens import Screens
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.tables import DeliveryRow, MemberRow
from bot.texts import Catalogues
from tests.delivery.conftest import LEASE, Outbox
from tests.delivery.fakes import FakeMessenger, FakeTime, direct
from tests.delivery.line_fakes import Call, Crash, FakeLineMessenger, line_id, seed_members
from tests.fakes.clock import FakeClock

TEXT = "12月7日(日)の新宿駅西口での署名行動に、ぜひご参加ください。"


@dataclass
class Bench:
    dispatcher: Dispatcher
    line: FakeLineMessenger
    telegram: FakeMessenger
    time: FakeTime

    async def run_once(self) -> DispatchReport:
        return await self.time.run(self.dispatcher.run_once())

    async def drain(self) -> DispatchReport:
        """`run_once` until nothing is claimed; the reports added up."""
        total = DispatchReport()
        while (report := await self.run_once()).claimed:
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(report, name))
        return total


def make_bench(
    database: Database,
    clock: FakeClock,
    settings: Settings,
    line: FakeLineMessenger | None = None,
    **options: Any,
) -> Bench:
    """A dispatcher for LINE and Telegram on fake time, rendering as the app does."""
    time = FakeTime()
    telegram = FakeMessenger(time.monotonic)
    line = line or FakeLineMessenger()
    quiet = settings.config.reminders.quiet_hours
    renderer = DeliveryContent(
        database.unit_of_work,
        Screens(settings.campaign(), Catalogues.load()),
        clock,
        quiet=QuietHours(quiet.start, quiet.end),
    )
    dispatcher = Dispatcher(
        SqlDeliveryQueue(database.sessions),
        {"line": line, "telegram": telegram},
        clock,
        run_blocking=direct,
        pacers={
            channel: Pacer(monotonic=time.monotonic, sleep=time.sleep)
            for channel in ("line", "telegram")
        },
        renderer=renderer,
        lease=LEASE,
        timezone=settings.zone,
        **options,
    )
    return Bench(dispatcher, line, telegram, time)


def broadcast(database: Database, now: datetime, text: str = TEXT) -> None:
    """An everyone broadcast, made as the product makes it."""
    with database.unit_of_work() as uow:
        broadcasts.send(uow, Draft(Target(), text), None, "test", now)
        uow.commit()


def states(database: Database) -> dict[str, int]:
    with database.session() as session:
        counted = session.execute(
            select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)
        )
        return {state: int(number) for state, number in counted}


def got_it_once(line: FakeLineMessenger, users: list[str]) -> bool:
    """Every one of `users` got one message from LINE, and nobody else got any."""
    per_user = Counter(user for user, _ in line.received.elements())
    return per_user == Counter(users)


def sizes(calls: list[Call]) -> list[int]:
    return [len(call.to) for call in calls]


@pytest.fixture
def line_users(database: Database, clock: FakeClock) -> list[str]:
    users = [line_id(n) for n in range(1, 1201)]
    seed_members(database, users, clock.now())
    return users


async def test_a_broadcast_to_1200_line_members_takes_three_multicasts(
    database: Database, clock: FakeClock, settings: Settings, line_users: list[str]
) -> None:
    chats = ["7001", "7002", "7003"]
    seed_members(database, chats, clock.now(), channel="telegram")
    broadcast(database, clock.now())
    bench = make_bench(database, clock, settings)

    report = await bench.drain()

    assert sizes(bench.line.requests("multicast")) == [500, 500, 200]
    assert bench.line.requests("push") == []
    assert len(bench.line.calls) == 3, "no call was refused or repeated"
    assert got_it_once(bench.line, line_users)
    texts = {text for _, text in bench.line.received}
    assert len(texts) == 1
    assert TEXT in texts.pop()
    assert sorted(sent.external_id for sent in bench.telegram.sent) == chats
    assert (report.multicasts, report.sent) == (3, 1203)
    assert states(database) == {"sent": 1203}
    # Each multicast's rows carry its key: the one LINE accepted.
    with database.session() as session:
        keys = Counter(
            session.scalars(
                select(DeliveryRow.retry_key)
                .join(MemberRow, MemberRow.id == DeliveryRow.member_id)
                .where(MemberRow.channel == "line")
            )
        )
    assert sorted(keys.values()) == [200, 500, 500]
    assert set(keys) == set(bench.line.accepted)


async def test_a_reminder_to_1200_line_members_takes_three_multicasts(
    database: Database, clock: FakeClock, settings: Settings, line_users: list[str]
) -> None:
    with database.unit_of_work() as uow:
        uow.outbox.enqueue_audience(
            REMINDER,
            "day_before:7",
            Audience(everyone=True),
            message_payload(Outgoing("明日10:00 新宿駅西口で署名行動です")),
            clock.now(),
            now=clock.now(),
        )
        uow.commit()
    bench = make_bench(database, clock, settings)

    report = await bench.drain()

    assert sizes(bench.line.requests("multicast")) == [500, 500, 200]
    assert len(bench.line.calls) == 3
    assert got_it_once(bench.line, line_users)
    assert (report.multicasts, report.sent) == (3, 1200)


async def test_rows_that_render_alike_go_together_and_a_lone_one_is_pushed(
    database: Database, clock: FakeClock, settings: Settings
) -> None:
    """A reminder in two languages is two multicasts; a relay to one member is a push."""
    japanese = [line_id(n) for n in range(1, 6)]
    english = [line_id(n) for n in range(11, 14)]
    seed_members(database, japanese, clock.now())
    ids = seed_members(database, english, clock.now(), language="en")
    with database.sessions.begin() as session:
        rows = session.execute(select(MemberRow.id, MemberRow.language)).all()
        now = clock.now()
        session.execute(
            insert(DeliveryRow),
            [
                {
                    "purpose": "reminder",
                    "reference": "reminder:1:day_before",
                    "member_id": member_id,
                    "payload": message_payload(
                        Outgoing("明日は集会です" if language == "ja" else "The rally is tomorrow")
                    ),
                    "lane": int(lane_of("reminder")),
                    "state": "queued",
                    "due_at": now,
                    "attempts": 0,
                    "created_at": now,
                }
                for member_id, language in rows
            ]
            + [
                {
                    "purpose": "relay_answer",
                    "reference": "relay:9",
                    "member_id": ids[0],
                    "payload": message_payload(Outgoing("お問い合わせへの回答です")),
                    "lane": int(lane_of("relay_answer")),
                    "state": "queued",
                    "due_at": now,
                    "attempts": 0,
                    "created_at": now,
                }
            ],
        )
    bench = make_bench(database, clock, settings)

    report = await bench.drain()

    multicasts = {call.text: set(call.to) for call in bench.line.requests("multicast")}
    assert multicasts == {"明日は集会です": set(japanese), "The rally is tomorrow": set(english)}
    assert [(call.to, call.text) for call in bench.line.requests("push")] == [
        ((english[0],), "お問い合わせへの回答です")
    ]
    assert (report.multicasts, report.sent) == (2, 9)
    assert states(database) == {"sent": 9}


async def test_a_crash_after_a_multicast_and_a_restart_deliver_nobody_twice(
    database: Database, clock: FakeClock, settings: Settings, line_users: list[str]
) -> None:
    """The first multicast reaches LINE, then the process dies before recording it: its rows
    stay sending. After their lease the next process sends them again with the same key
    (LINE: already accepted) and the rest as new multicasts."""
    broadcast(database, clock.now())
    line = FakeLineMessenger()

    def crash(call: Call) -> None:
        raise Crash

    line.after_accepted = crash
    first = make_bench(database, clock, settings, line)
    await first.run_once()
    assert sizes(line.requests("multicast")) == [500]
    assert states(database) == {"sending": 500, "queued": 700}

    clock.advance(LEASE + timedelta(seconds=1))
    line.after_accepted = lambda call: None
    restarted = make_bench(database, clock, settings, line)
    report = await restarted.drain()

    assert got_it_once(line, line_users), "everyone got it, nobody twice"
    assert sizes(line.requests("multicast")) == [500, 500, 200]
    repeats = line.requests("multicast", "repeat")
    assert len(repeats) == 1
    assert repeats[0].retry_key == line.calls[0].retry_key
    assert set(repeats[0].to) == set(line.calls[0].to), "the same request again"
    assert report.sent == 1200
    assert states(database) == {"sent": 1200}


async def test_a_crash_before_line_got_the_multicast_loses_nobody(
    database: Database, clock: FakeClock, settings: Settings, line_users: list[str]
) -> None:
    """The key is written, then the process dies before the call: the retry is the first
    request with that key, and it reaches every one of its members."""
    broadcast(database, clock.now())
    line = FakeLineMessenger()

    def crash(call: Call) -> None:
        raise Crash

    line.before_call = crash
    await make_bench(database, clock, settings, line).run_once()
    assert line.calls == []
    with database.session() as session:
        written = Counter(
            session.scalars(select(DeliveryRow.retry_key).where(DeliveryRow.state == "sending"))
        )
    assert list(written.values()) == [500], "one key in the 500 rows, before the call"

    clock.advance(LEASE + timedelta(seconds=1))
    line.before_call = lambda call: None
    await make_bench(database, clock, settings, line).drain()

    assert got_it_once(line, line_users)
    assert sizes(line.requests("multicast")) == [500, 500, 200]
    assert line.requests("multicast")[0].retry_key == next(iter(written))
    assert line.requests("multicast", "repeat") == []


async def test_a_member_who_left_after_the_crash_is_not_sent_it_again(
    database: Database, clock: FakeClock, settings: Settings, line_users: list[str]
) -> None:
    broadcast(database, clock.now())
    line = FakeLineMessenger()

    def crash(call: Call) -> None:
        raise Crash

    line.after_accepted = crash
    await make_bench(database, clock, settings, line).run_once()
    gone = line.calls[0].to[7]
    with database.sessions.begin() as session:
        session.execute(
            update(MemberRow)
            .where(MemberRow.external_id == gone)
            .values(unreachable_at=clock.now(), unreachable_reason="unfollow")
        )

    clock.advance(LEASE + timedelta(seconds=1))
    line.after_accepted = lambda call: None
    await make_bench(database, clock, settings, line).drain()

    repeat = line.requests("multicast", "repeat")
    assert [len(call.to) for call in repeat] == [499]
    assert gone not in repeat[0].to
    assert got_it_once(line, line_users), "the member who left got it before leaving"
    assert states(database) == {"sent": 1199, "skipped": 1}


async def test_a_multicast_lost_on_the_way_back_goes_again_with_its_key(
    database: Database, clock: FakeClock, settings: Settings
) -> None:
    """LINE accepted it but the answer was lost (a timeout): the rows wait their backoff and
    go again, all of them, with the same key; LINE drops the repeat."""
    users = [line_id(n) for n in range(1, 31)]
    seed_members(database, users, clock.now())
    broadcast(database, clock.now())
    line = FakeLineMessenger()
    failures = [TemporaryFailure("timed out")]

    def lost(call: Call) -> None:
        if failures:
            raise failures.pop()

    line.after_accepted = lost
    bench = make_bench(database, clock, settings, line)

    first = await bench.drain()
    assert (first.multicasts, first.retried) == (0, 30)
    with database.session() as session:
        waiting = session.execute(select(DeliveryRow.attempts, DeliveryRow.due_at)).all()
    assert len(set(waiting)) == 1, "one attempt and one due time for the whole multicast"

    clock.advance(timedelta(minutes=5))
    second = await bench.drain()

    assert (second.multicasts, second.sent) == (1, 30)
    assert [call.outcome for call in line.calls] == ["accepted", "repeat"]
    assert line.calls[0].retry_key == line.calls[1].retry_key
    assert set(line.calls[1].to) == set(users)
    assert got_it_once(line, users)


async def test_a_rate_limited_multicast_waits_and_goes(
    database: Database, clock: FakeClock, settings: Settings
) -> None:
    users = [line_id(n) for n in range(1, 21)]
    seed_members(database, users, clock.now())
    broadcast(database, clock.now())
    line = FakeLineMessenger()
    limited = [RateLimited(2.0, everything=True)]

    def refuse(call: Call) -> None:
        if limited:
            raise limited.pop()

    line.before_call = refuse
    bench = make_bench(database, clock, settings, line)

    report = await bench.drain()

    assert (report.multicasts, report.sent, report.retried) == (1, 20, 0)
    assert sizes(line.requests("multicast")) == [20]
    assert bench.time.now >= 2.0, "it waited as LINE asked"
    assert got_it_once(line, users)


class HoldBack:
    """Renders fixed messages, but one member's rows may not go before `until`."""

    def __init__(self, clock: FakeClock, member_id: int, until: datetime) -> None:
        self._clock = clock
        self._member_id = member_id
        self._until = until

    def render(self, batch: Sequence[Pending]) -> Mapping[int, Rendered]:
        if self._clock.now() >= self._until:
            return {}
        return {
            pending.id: Later(self._until, "quiet hours")
            for pending in batch
            if pending.member_id == self._member_id
        }


async def test_a_multicast_sent_again_waits_for_all_of_its_members(
    database: Database, outbox: Outbox, clock: FakeClock, settings: Settings
) -> None:
    """Its key went nowhere yet (a crash before the call), and one member's row may not go
    for an hour: none goes. Sent without that member, the key would be used up, and that
    member's copy, sent with it later, dropped by LINE as a repeat."""
    users = [line_id(n) for n in range(1, 4)]
    members = [outbox.member(user, channel="line") for user in users]
    for member in members:
        outbox.enqueue(member, "明日10:00 新宿駅西口", purpose=REMINDER, reference="day_before:7")
    line = FakeLineMessenger()

    def crash(call: Call) -> None:
        raise Crash

    line.before_call = crash
    await make_bench(database, clock, settings, line).run_once()
    clock.advance(LEASE + timedelta(seconds=1))
    line.before_call = lambda call: None
    assert members[1].id is not None
    later = clock.now() + timedelta(hours=1)
    time = FakeTime()
    dispatcher = Dispatcher(
        SqlDeliveryQueue(database.sessions),
        {"line": line},
        clock,
        run_blocking=direct,
        pacers={"line": Pacer(monotonic=time.monotonic, sleep=time.sleep)},
        renderer=HoldBack(clock, members[1].id, later),
        lease=LEASE,
    )

    held = await time.run(dispatcher.run_once())

    assert (held.claimed, held.deferred, held.sent) == (3, 3, 0)
    assert line.calls == []

    clock.set(later)
    sent = await time.run(dispatcher.run_once())

    assert (sent.multicasts, sent.sent) == (1, 3)
    assert got_it_once(line, users)
