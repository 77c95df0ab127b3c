"""Issue 11: an organiser's 一斉送信, end to end, through the real bot and the fake Bot API.

300 members of 練馬区 (and 30 of 江東区, who must get nothing) are stored as registered; 20 of
them stop notifications through the chat (/stop or 配信停止) before the broadcast, and 15 had
blocked the bot while it was offline for longer than Telegram keeps updates (their blocks never
reached it: the fake answers 403 when the bot writes to them). The organiser (the configured
Telegram organiser) composes the broadcast by pressing the buttons the bot sent, and the
outbox sends it; `BroadcastMonitor.tick` (the app's `watch_broadcasts` job) follows it.

What arrived is read from the fake: every recipient once, nobody else; the blocked members are
marked unreachable; the organiser's report counts what the fake saw; the progress message is
edited in place (the fake supports editMessageText as Telegram does).

The first test runs the bot as `campaign-bot run` does (the outbox sent as it fills, the job
run until the report comes). The second sends the outbox one dispatcher round at a time, the
job ticking between rounds, so that the progress is updated several times whatever the
machine's speed; in it 10 more members stop after the organiser pressed 送信.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import func, insert, select

from bot.app import App, build, telegram_channel, telegram_service
from bot.channels.telegram.messenger import TelegramMessenger
from bot.config import BroadcastsConfig, Settings
from bot.delivery.policy import SKIP_UNREACHABLE, SKIP_UNSUBSCRIBED
from bot.domain.deliveries import BROADCAST, BROADCAST_PROGRESS
from bot.domain.members import Subscription
from bot.faq.matcher import FaqEngine
from bot.store.database import Database
from bot.store.tables import DeliveryRow, MemberRegionRow, MemberRow
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.telegram.conftest import ORGANISER_ID, QUICK_PACING, telegram_settings
from tests.telegram.test_journey import register, reply_to

REGION, REGION_NAME = "nerima", "練馬区"
ELSEWHERE = "koto"
FIRST_CHAT = 610_000
MEMBERS = 300
OUTSIDERS = 30
STOPPED = 20
"""Stopped notifications before the broadcast: half with /stop, half with 配信停止."""
BLOCKED = 15
LATE = 10
"""Stopped notifications after the organiser pressed 送信, before their copy went."""
BLOCKED_REASON = "Forbidden: bot was blocked by the user"
TEXT = (
    "12月6日(土) 14:00から練馬駅北口で街頭宣伝をします。\n"
    "マイナ保険証だけにしないで、の署名にご協力ください。"
)
RECEIVED_TEXT = f"【お知らせ】\n{TEXT}"
# Quick per-chat pacing (as the other Telegram tests) and a high overall rate: 300 messages
# in well under a second of pacing; batches of 40 so that a broadcast takes several rounds.
DELIVERY: dict[str, object] = {**QUICK_PACING, "per_second": 1000.0, "batch": 40}
FOLLOW_SECONDS = 30.0


@dataclass(frozen=True)
class Crowd:
    region: list[int]
    """The 練馬区 members' chats (and Telegram user ids), stopped and blocked ones included."""
    stopped: list[int]
    blocked: list[int]
    late: list[int]
    outsiders: list[int]

    @property
    def reachable(self) -> list[int]:
        """Who should get the broadcast when nobody stops late."""
        left_out = {*self.stopped, *self.blocked}
        return [chat for chat in self.region if chat not in left_out]


def seed(database_url: str, crowd: Crowd, now: datetime) -> None:
    """Registered, subscribed members (in bulk: registering 330 through the chat would take the
    test's whole budget), each in their region."""
    database = Database(database_url)
    try:
        regions = dict.fromkeys(crowd.region, REGION) | dict.fromkeys(crowd.outsiders, ELSEWHERE)
        with database.sessions.begin() as session:
            session.execute(
                insert(MemberRow),
                [
                    {
                        "channel": "telegram",
                        "external_id": str(chat),
                        "display_name": f"会員{chat}",
                        "language": "ja",
                        "role": "member",
                        "subscription": "subscribed",
                        "consent_at": now,
                        "created_at": now,
                        "last_seen_at": now,
                    }
                    for chat in regions
                ],
            )
            ids = dict(session.execute(select(MemberRow.external_id, MemberRow.id)).all())
            session.execute(
                insert(MemberRegionRow),
                [{"member_id": ids[str(chat)], "region": code} for chat, code in regions.items()],
            )
    finally:
        database.dispose()


@pytest.fixture
def crowd(fake: FakeTelegram, database_url: str, clock: FakeClock) -> Crowd:
    region = list(range(FIRST_CHAT, FIRST_CHAT + MEMBERS))
    found = Crowd(
        region=region,
        stopped=region[:STOPPED],
        blocked=region[STOPPED : STOPPED + BLOCKED],
        late=region[STOPPED + BLOCKED : STOPPED + BLOCKED + LATE],
        outsiders=list(range(FIRST_CHAT + MEMBERS, FIRST_CHAT + MEMBERS + OUTSIDERS)),
    )
    seed(database_url, found, clock.now())
    for chat in [*found.region, *found.outsiders]:
        fake.add_user(chat, f"会員{chat}", started=True)
    for chat in found.blocked:
        fake.block(chat)
    # Telegram keeps updates for 24 hours: blocks made while the bot was offline longer than
    # that never reach it. The bot has not started yet; its updates go as Telegram's would.
    urllib.request.urlopen(
        fake.api_url("deleteWebhook"), data=b"drop_pending_updates=true", timeout=5
    ).close()
    assert fake.updates_pending() == 0
    assert {fake.user_status(chat) for chat in found.blocked} == {"blocked"}
    return found


def broadcast_settings(
    settings: Settings, fake: FakeTelegram, database_url: str, *, confirm_above: int
) -> Settings:
    configured = telegram_settings(settings, fake, database_url, delivery=DELIVERY)
    config = configured.config.model_copy(
        update={"broadcasts": BroadcastsConfig(confirm_above=confirm_above)}
    )
    return dataclasses.replace(configured, config=config)


@pytest.fixture
async def sending(
    crowd: Crowd,
    settings: Settings,
    fake: FakeTelegram,
    database_url: str,
    clock: FakeClock,
    shipped_engine: FaqEngine,
) -> AsyncIterator[App]:
    """The bot as `campaign-bot run` serves it (replies, and the outbox sent as it fills),
    asking for a second confirmation above 100 recipients."""
    app = build(broadcast_settings(settings, fake, database_url, confirm_above=100), clock=clock)
    app.library.engine = shipped_engine
    try:
        async with telegram_service(app):
            yield app
    finally:
        app.close()


@pytest.fixture
async def stepwise(
    crowd: Crowd,
    settings: Settings,
    fake: FakeTelegram,
    database_url: str,
    clock: FakeClock,
    shipped_engine: FaqEngine,
) -> AsyncIterator[App]:
    """The bot replying to members, its outbox sent only when the test says (one dispatcher
    round at a time, through the real TelegramMessenger); the shipped confirmation (500)."""
    app = build(broadcast_settings(settings, fake, database_url, confirm_above=500), clock=clock)
    app.library.engine = shipped_engine
    channel = telegram_channel(app)
    await channel.start()
    messenger = TelegramMessenger.from_config(app.settings.config.channels.telegram, channel.token)
    await messenger.initialize()
    app.dispatcher.attach("telegram", messenger, channel.pacer)
    try:
        yield app
    finally:
        app.dispatcher.detach("telegram")
        await messenger.shutdown()
        await channel.stop()
        app.close()


# --- the chat ---------------------------------------------------------------------------------


async def stop_notices(fake: FakeTelegram, chats: list[int]) -> None:
    """Each member stops notifications (/stop or 配信停止, in turn) and is answered."""
    for index, chat in enumerate(chats):
        fake.send_text(chat, ("/stop", "配信停止")[index % 2])
    await fake.until(
        lambda: all(any("止めました" in m.text for m in fake.messages(c)) for c in chats),
        timeout=15,
        description="every member told their notifications are stopped",
    )


async def compose(fake: FakeTelegram, *, reach: int, stopped: int) -> SentMessage:
    """一斉送信 -> 地域をえらぶ -> 練馬区 -> the text: returns the preview with its buttons."""
    organiser = ORGANISER_ID
    (question,) = await reply_to(fake, organiser, lambda: fake.send_text(organiser, "一斉送信"))
    assert question.button_labels == ["全員", "地域をえらぶ", "予定に返事をした人", "やめる"]
    (regions,) = await reply_to(
        fake,
        organiser,
        lambda: fake.press_button(organiser, question.message_id, label="地域をえらぶ"),
    )
    assert "どの地域" in regions.text
    (write,) = await reply_to(
        fake,
        organiser,
        lambda: fake.press_button(organiser, regions.message_id, label=REGION_NAME),
    )
    assert f"あて先: {REGION_NAME}の人" in write.text
    shown, preview = await reply_to(fake, organiser, lambda: fake.send_text(organiser, TEXT), 2)
    assert shown.text == RECEIVED_TEXT, "the preview shows the message as members get it"
    assert f"届く人: {reach}人" in preview.text
    assert f"お知らせを止めた人{stopped}人、届かない人0人" in preview.text
    return preview


def started_id(message: SentMessage, recipients: int) -> int:
    found = re.search(r"送信を始めました（番号(\d+)、([\d,]+)人）", message.text)
    assert found is not None, message.text
    assert found.group(2) == f"{recipients:,}"
    return int(found.group(1))


def report_of(fake: FakeTelegram, broadcast_id: int) -> list[SentMessage]:
    heading = f"番号{broadcast_id}の一斉送信が終わりました。"
    return [m for m in fake.messages(ORGANISER_ID) if m.text.startswith(heading)]


def progress_messages(fake: FakeTelegram, broadcast_id: int) -> list[SentMessage]:
    heading = f"番号{broadcast_id}の一斉送信: 送信中"
    return [m for m in fake.messages(ORGANISER_ID) if m.text.startswith(heading)]


def progress_edits(fake: FakeTelegram, broadcast_id: int) -> int:
    """editMessageText calls for the progress message (the registration edits others)."""
    shown = {m.message_id for m in progress_messages(fake, broadcast_id)}
    return sum(
        1
        for r in fake.requests("editMessageText")
        if int(r.params["chat_id"]) == ORGANISER_ID and int(r.params["message_id"]) in shown
    )


# --- what arrived ----------------------------------------------------------------------------


def received(fake: FakeTelegram, chats: list[int]) -> dict[int, list[str]]:
    """The broadcast as each chat got it (a list: twice would show)."""
    return {
        chat: [m.text for m in fake.messages(chat) if m.text == RECEIVED_TEXT] for chat in chats
    }


def refused(fake: FakeTelegram) -> list[int]:
    """Chats the fake answered 403 to a sendMessage for, once per refusal."""
    return [int(r.params["chat_id"]) for r in fake.requests("sendMessage") if r.status == 403]


def counts(database: Database, purpose: str) -> dict[tuple[str, str | None], int]:
    """Rows of `purpose` by (state, skip reason)."""
    with database.session() as session:
        found = session.execute(
            select(DeliveryRow.state, DeliveryRow.skip_reason, func.count())
            .where(DeliveryRow.purpose == purpose)
            .group_by(DeliveryRow.state, DeliveryRow.skip_reason)
        )
        return {(state, reason): int(number) for state, reason, number in found}


def members(database: Database, chats: list[int]) -> dict[int, MemberRow]:
    with database.session() as session:
        rows = session.scalars(
            select(MemberRow).where(MemberRow.external_id.in_([str(c) for c in chats]))
        )
        return {int(row.external_id): row for row in rows}


def check_reached(fake: FakeTelegram, database: Database, crowd: Crowd, got: list[int]) -> None:
    """`got` had it once, the others in the region and every outsider nothing; the blocked
    members were tried once (403) and are marked unreachable; the stopped ones stay stopped."""
    everyone = received(fake, [*crowd.region, *crowd.outsiders])
    assert {chat for chat, texts in everyone.items() if texts} == set(got)
    twice = {chat: len(texts) for chat, texts in everyone.items() if len(texts) > 1}
    assert twice == {}, "a member got the broadcast more than once"
    for chat in crowd.outsiders:
        assert fake.messages(chat) == [], f"{chat} is not in {REGION_NAME}"
    for chat in crowd.blocked:
        assert fake.messages(chat) == []
    assert sorted(refused(fake)) == crowd.blocked, "each blocked member was tried once"
    stored = members(database, crowd.region)
    unreachable = {c: row.unreachable_reason for c, row in stored.items() if row.unreachable_at}
    assert unreachable == dict.fromkeys(crowd.blocked, BLOCKED_REASON)
    for chat in crowd.stopped:
        assert stored[chat].subscription == Subscription.UNSUBSCRIBED.value
        # Their only message is the answer to their /stop.
        assert [m.text for m in fake.messages(chat) if m.text == RECEIVED_TEXT] == []
        assert len(fake.messages(chat)) == 1


# --- the tests --------------------------------------------------------------------------------


async def follow(app: App, fake: FakeTelegram, broadcast_id: int) -> int:
    """Run the app's broadcast job (every 3 s in production; here as often as the test likes)
    until the organiser has the report; returns how many times it ran."""
    deadline = time.monotonic() + FOLLOW_SECONDS
    ticks = 0
    while not report_of(fake, broadcast_id):
        if time.monotonic() > deadline:
            raise AssertionError(f"no report after {FOLLOW_SECONDS:g} s:\n{fake.transcript()}")
        await asyncio.to_thread(app.watch_broadcasts)
        ticks += 1
        await next_message_or_a_moment(fake)
    return ticks


async def next_message_or_a_moment(fake: FakeTelegram) -> None:
    """Until the organiser's next message, or 0.2 s: the next tick then counts again."""
    before = len(fake.messages(ORGANISER_ID))
    with contextlib.suppress(TimeoutError):
        await fake.until(lambda: len(fake.messages(ORGANISER_ID)) > before, timeout=0.2)


async def test_a_region_broadcast_reaches_exactly_those_who_can_get_it(
    sending: App, fake: FakeTelegram, crowd: Crowd
) -> None:
    app = sending
    await register(fake, ORGANISER_ID, region="都全体")
    await stop_notices(fake, crowd.stopped)
    reach = MEMBERS - STOPPED  # the blocked ones too: the bot does not know yet
    preview = await compose(fake, reach=reach, stopped=STOPPED)

    # Above confirm_above (100 here) the organiser is asked once more.
    (confirm,) = await reply_to(
        fake,
        ORGANISER_ID,
        lambda: fake.press_button(ORGANISER_ID, preview.message_id, label="送信する"),
    )
    assert confirm.text == f"{reach}人に送ります。本当によろしいですか？"
    (started,) = await reply_to(
        fake,
        ORGANISER_ID,
        lambda: fake.press_button(ORGANISER_ID, confirm.message_id, label="はい、送ります"),
    )
    broadcast_id = started_id(started, reach)

    await follow(app, fake, broadcast_id)

    got = [chat for chat, texts in received(fake, crowd.region).items() if texts]
    assert sorted(got) == crowd.reachable
    check_reached(fake, app.database, crowd, got)
    [report] = report_of(fake, broadcast_id)
    # The report counts the copies that were queued: those who had stopped before were never
    # queued (the preview counted them), so it has no line for them.
    assert report.text.splitlines() == [
        f"番号{broadcast_id}の一斉送信が終わりました。",
        f"届いた人: {len(got)}人",
        f"届かなかった人（ブロックなど）: {len(set(refused(fake)))}人",
    ]
    assert counts(app.database, BROADCAST) == {
        ("sent", None): len(got),
        ("skipped", SKIP_UNREACHABLE): BLOCKED,
    }
    # However many progress messages went, the organiser has one: the later ones edited it.
    sent_progress = counts(app.database, BROADCAST_PROGRESS).get(("sent", None), 0)
    assert len(progress_messages(fake, broadcast_id)) == min(1, sent_progress)
    assert progress_edits(fake, broadcast_id) == max(0, sent_progress - 1)


async def test_the_progress_is_edited_in_place_and_late_stops_are_reported(
    stepwise: App, fake: FakeTelegram, crowd: Crowd
) -> None:
    """The outbox goes one dispatcher round (40 rows) at a time, the monitor ticking between
    rounds as its job would: several progress updates, one message; members who stop after
    the organiser pressed 送信 get nothing, and the report says so."""
    app = stepwise
    await register(fake, ORGANISER_ID, region="都全体")
    await stop_notices(fake, crowd.stopped)
    reach = MEMBERS - STOPPED
    preview = await compose(fake, reach=reach, stopped=STOPPED)
    (started,) = await reply_to(
        fake,
        ORGANISER_ID,
        lambda: fake.press_button(ORGANISER_ID, preview.message_id, label="送信する"),
    )
    broadcast_id = started_id(started, reach)  # below 500: no second question
    await stop_notices(fake, crowd.late)
    assert received(fake, crowd.region) == {chat: [] for chat in crowd.region}, "nothing yet"

    rounds = 0
    while True:
        still_open = await asyncio.to_thread(app.broadcasts.tick)
        report = await app.dispatcher.run_once()
        rounds += 1
        if still_open == 0 and report.claimed == 0:
            break
        assert rounds < 50, "the broadcast does not end"

    late = set(crowd.late)
    got = [chat for chat in crowd.reachable if chat not in late]
    check_reached(fake, app.database, crowd, got)
    for chat in crowd.late:
        assert len(fake.messages(chat)) == 1, "only the answer to their /stop"
    assert counts(app.database, BROADCAST) == {
        ("sent", None): len(got),
        ("skipped", SKIP_UNSUBSCRIBED): LATE,
        ("skipped", SKIP_UNREACHABLE): BLOCKED,
    }
    [report_message] = report_of(fake, broadcast_id)
    assert report_message.text.splitlines() == [
        f"番号{broadcast_id}の一斉送信が終わりました。",
        f"届いた人: {len(got)}人",
        f"お知らせを止めていた人（送らず）: {LATE}人",
        f"届かなかった人（ブロックなど）: {BLOCKED}人",
    ]
    assert len(got) == reach - LATE - BLOCKED

    sent_progress = counts(app.database, BROADCAST_PROGRESS).get(("sent", None), 0)
    assert sent_progress >= 3, f"{rounds} rounds gave {sent_progress} progress updates"
    [progress] = progress_messages(fake, broadcast_id)
    assert len(progress.edits) == sent_progress - 1 == progress_edits(fake, broadcast_id)
    versions = [*(m.text for m in progress.edits), progress.text]
    done = [int(re.sub(r"\D", "", v.split("送信中")[1].split("/")[0])) for v in versions]
    assert done == sorted(set(done)), f"the count only grows: {done}"
    assert all(v.endswith(f"/ {reach}") for v in versions)
    # The organiser's chat: the started message, one progress message, the report.
    later = fake.messages(ORGANISER_ID)[-3:]
    assert [m.message_id for m in later] == [
        started.message_id,
        progress.message_id,
        report_message.message_id,
    ]
