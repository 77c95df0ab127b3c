"""LINE's monthly quota used up (issue 13): LINE pushes stop until the next month in the
campaign's timezone (or a restart), their rows wait in the queue untried, the organisers are
told once a month, and Telegram goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.config import Settings
from bot.domain.deliveries import ORGANISER_ALERT, RELAY_ANSWER
from bot.domain.members import Role
from bot.domain.messages import Outgoing
from bot.services.organiser_alerts import OrganiserAlerts
from bot.store.database import Database
from bot.store.tables import DeliveryRow, MemberRow
from bot.texts import Catalogues
from tests.conftest import TOKYO
from tests.delivery.conftest import Outbox
from tests.delivery.line_fakes import FakeLineMessenger, line_id, seed_members
from tests.delivery.test_multicast import broadcast, got_it_once, make_bench, sizes
from tests.fakes.clock import FakeClock

ORGANISER = "9001"


def line_rows(database: Database) -> list[tuple[str, int]]:
    """(state, attempts) of every row for a LINE member."""
    with database.session() as session:
        found = session.execute(
            select(DeliveryRow.state, DeliveryRow.attempts)
            .join(MemberRow, MemberRow.id == DeliveryRow.member_id)
            .where(MemberRow.channel == "line")
        )
        return [(state, attempts) for state, attempts in found]


def alerts(database: Database) -> list[str]:
    with database.session() as session:
        return list(
            session.scalars(
                select(DeliveryRow.reference).where(DeliveryRow.purpose == ORGANISER_ALERT)
            )
        )


async def test_a_used_up_quota_stops_line_until_next_month_and_organisers_hear_once(
    database: Database, clock: FakeClock, settings: Settings
) -> None:
    users = [line_id(n) for n in range(1, 1201)]
    seed_members(database, users, clock.now())
    seed_members(database, ["7001", "7002"], clock.now(), channel="telegram")
    seed_members(database, [ORGANISER], clock.now(), channel="telegram", role=Role.ORGANISER)
    broadcast(database, clock.now())
    line = FakeLineMessenger(quota=600)
    told = OrganiserAlerts(database.unit_of_work, Catalogues.load(), clock)
    bench = make_bench(database, clock, settings, line, on_quota_exhausted=told.quota_exhausted)

    report = await bench.drain()

    assert sizes(line.requests("multicast")) == [500]
    assert sizes(line.requests("multicast", "QuotaExhausted")) == [500]
    waiting = line_rows(database)
    assert waiting.count(("sent", 1)) == 500
    assert waiting.count(("queued", 0)) == 700, "put back untried, not failed"
    assert report.failed == 0
    assert sorted(sent.external_id for sent in bench.telegram.sent) == [
        "7001",
        "7002",
        ORGANISER,
        ORGANISER,
    ], "Telegram gets the broadcast, and the organiser the news"
    assert alerts(database) == ["alert:quota-exhausted:line:2026-11"]
    news = [text for text in bench.telegram.texts(ORGANISER) if "LINE" in text]
    assert len(news) == 1
    assert "12月1日" in news[0]

    # The same month: LINE is left alone, even when something new is queued for it.
    clock.advance(timedelta(hours=3))
    await bench.drain()
    assert len(line.calls) == 2

    # A restart tries again; still used up, and the organisers are not told twice.
    restarted = make_bench(database, clock, settings, line, on_quota_exhausted=told.quota_exhausted)
    await restarted.drain()
    assert sizes(line.requests("multicast", "QuotaExhausted")) == [500, 500]
    assert alerts(database) == ["alert:quota-exhausted:line:2026-11"]
    assert line_rows(database).count(("queued", 0)) == 700

    # December in Tokyo (after the quiet hours, for a broadcast): the quota is back and the
    # rest goes, once each.
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=TOKYO))
    line.quota = 30_000
    await bench.drain()
    assert sizes(line.requests("multicast")) == [500, 500, 200]
    assert got_it_once(line, users)
    assert line_rows(database).count(("sent", 1)) == 1200


async def test_the_month_is_the_campaigns_and_a_push_waits_too(
    database: Database, outbox: Outbox, clock: FakeClock, settings: Settings
) -> None:
    """At 23:30 UTC on 30 November it is already December in Tokyo: the news is December's
    and LINE waits until 1 January, Tokyo time. A lone push stops as a multicast does."""
    clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    seed_members(database, [ORGANISER], clock.now(), channel="telegram", role=Role.ORGANISER)
    member = outbox.member(line_id(1), channel="line")
    relay = outbox.enqueue(
        member, "", purpose=RELAY_ANSWER, message=Outgoing("回答です"), reference="relay:1"
    )
    line = FakeLineMessenger(quota=0)
    told = OrganiserAlerts(database.unit_of_work, Catalogues.load(), clock)
    bench = make_bench(database, clock, settings, line, on_quota_exhausted=told.quota_exhausted)

    report = await bench.drain()

    assert [(call.kind, call.outcome) for call in line.calls] == [("push", "QuotaExhausted")]
    assert (report.deferred, report.failed, report.retried) == (1, 0, 0)
    row = outbox.row(relay)
    assert (row.state, row.attempts) == ("queued", 0)
    assert alerts(database) == ["alert:quota-exhausted:line:2026-12"]
    assert any("1月1日" in text for text in bench.telegram.texts(ORGANISER))

    clock.set(datetime(2026, 12, 31, 23, 59, tzinfo=TOKYO))
    line.quota = 10
    await bench.drain()
    assert len(line.calls) == 1, "still December in Tokyo"

    clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=TOKYO))
    await bench.drain()
    assert [(call.kind, call.outcome) for call in line.calls][1:] == [("push", "accepted")]
    assert outbox.row(relay).state == "sent"
