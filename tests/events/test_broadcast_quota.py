"""一斉送信 and LINE's monthly quota: the preview shows the LINE messages an announcement uses
(its recipients on LINE, once per part: a text typed in the chat is always one part; the
command line's longer ones are counted in tests/cli/test_broadcast_quota_cli.py) against what
is left this month, and 送信 beyond that needs 「それでも送る」. The quota is a fake of the port
(`MessageQuota`); the real one, reading LINE through the SDK, is tested in tests/line_admin/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.domain.messages import Action, Incoming, MemberRef
from bot.services.conversation import Conversation
from bot.store.database import Database
from bot.store.tables import BroadcastRow
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.events.conftest import at
from tests.events.test_broadcast_flow import compose
from tests.fakes.clock import FakeClock

Member = Callable[..., Chat]


@dataclass
class FakeQuota:
    """What LINE would say is left this month (None: no limit, or LINE did not answer)."""

    left: int | None
    channel: str = "line"
    asked: int = 0

    def remaining(self) -> int | None:
        self.asked += 1
        return self.left


@pytest.fixture
def quota() -> FakeQuota:
    return FakeQuota(left=100)


@pytest.fixture
def conversation(
    settings: Settings, database: Database, clock: FakeClock, quota: FakeQuota
) -> Conversation:
    return Conversation(
        database.unit_of_work, settings.campaign(), Catalogues.load(), clock, quota=quota
    )


@pytest.fixture
def on_line(conversation: Conversation, member: Member) -> Member:
    """A registered member on LINE with the given regions."""

    def make(external_id: str, *regions: str) -> Chat:
        chat = Chat(conversation, MemberRef("line", "U" + external_id.rjust(32, "0")))
        chat.say("/start")
        chat.press("はい、受け取ります")
        for region in regions:
            chat.press(region)
        chat.press("決定")
        return chat

    return make


def stored(database: Database) -> list[BroadcastRow]:
    with database.session() as session:
        return list(session.scalars(select(BroadcastRow)))


@pytest.fixture
def toshima(member: Member, on_line: Member) -> None:
    """豊島区: three members on LINE and two elsewhere."""
    for name in ("a", "b", "c"):
        on_line(name, "豊島区")
    member("t1", "豊島区")
    member("t2", "豊島区")


@pytest.fixture
def organiser(member: Member) -> Chat:
    return member("console-organiser", "都全体")


def test_the_preview_counts_line_recipients_against_what_is_left(
    toshima: None, organiser: Chat, quota: FakeQuota, database: Database
) -> None:
    compose(organiser, "巣鴨宣伝は雨でも行います。", region="豊島区")

    preview = organiser.reply_with("会員にはこのように届きます")
    assert "届く人: 5人" in preview.text
    assert "LINE: 3通使います（今月の残り 100通）" in preview.text
    assert "届かない人が出ます" not in preview.text
    assert quota.asked == 1

    organiser.press("送信する")
    assert "送信を始めました（番号1、5人）" in organiser.text


def test_beyond_what_is_left_sending_needs_send_anyway(
    toshima: None, organiser: Chat, quota: FakeQuota, database: Database
) -> None:
    quota.left = 2
    compose(organiser, "巣鴨宣伝は雨でも行います。", region="豊島区")
    preview = organiser.reply_with("会員にはこのように届きます")
    assert "LINE: 3通使います（今月の残り 2通）" in preview.text
    assert "⚠ LINEの今月の残り（2通）より1通多いので、届かない人が出ます。" in preview.text

    organiser.press("送信する")

    assert organiser.text.startswith(
        "LINEの今月の残り（2通）では、このお知らせ（3通）を送りきれません。"
    )
    assert organiser.labels() == ["それでも送る", "戻る", "やめる"]
    assert stored(database) == []

    organiser.press("それでも送る")

    assert "送信を始めました（番号1、5人）" in organiser.text
    assert [b.recipients for b in stored(database)] == [5]


def test_back_from_the_warning_is_the_preview_and_nothing_is_sent(
    toshima: None, organiser: Chat, quota: FakeQuota, database: Database
) -> None:
    quota.left = 0
    compose(organiser, "巣鴨宣伝は雨でも行います。", region="豊島区")
    organiser.press("送信する")

    organiser.press("戻る")

    assert "LINE: 3通使います（今月の残り 0通）" in organiser.text
    assert "送信する" in organiser.labels()
    organiser.press("やめる")
    assert stored(database) == []


def test_send_anyway_outside_the_warning_does_nothing(
    toshima: None, organiser: Chat, quota: FakeQuota, database: Database
) -> None:
    quota.left = 0
    compose(organiser, "巣鴨宣伝は雨でも行います。", region="豊島区")
    token = organiser.button("送信する").action.args[0]

    organiser._send(Incoming(organiser.member, action=Action("bc_force", (token,))))

    assert stored(database) == []
    assert "送信を始めました" not in organiser.text


def test_without_line_recipients_line_is_not_asked(
    member: Member, organiser: Chat, quota: FakeQuota
) -> None:
    member("t1", "豊島区")
    quota.left = 0
    compose(organiser, "巣鴨宣伝は雨でも行います。", region="豊島区")

    preview = organiser.reply_with("会員にはこのように届きます")
    assert "LINE" not in preview.text
    assert quota.asked == 0
    organiser.press("送信する")
    assert "送信を始めました（番号1、1人）" in organiser.text


def test_an_unknown_or_unlimited_quota_shows_the_use_and_refuses_nothing(
    toshima: None, organiser: Chat, quota: FakeQuota
) -> None:
    quota.left = None
    compose(organiser, "巣鴨宣伝は雨でも行います。", region="豊島区")

    preview = organiser.reply_with("会員にはこのように届きます")
    assert "LINE: 3通使います\n" in preview.text + "\n"
    assert "残り" not in preview.text
    organiser.press("送信する")
    assert "送信を始めました（番号1、5人）" in organiser.text


def test_scheduled_for_next_month_is_not_held_against_this_months_quota(
    toshima: None, organiser: Chat, quota: FakeQuota, clock: FakeClock, database: Database
) -> None:
    clock.set(at("2026-11-30", "10:00"))
    quota.left = 0
    compose(organiser, "12月の集会のお知らせです。", region="豊島区")
    organiser.press("日時を決めて予約")
    organiser.say("12/1 9:00")
    asked = quota.asked

    preview = organiser.reply_with("会員にはこのように届きます")
    assert "LINE: 3通使います" in preview.text
    assert "残り" not in preview.text
    organiser.press("予約する")
    assert [(b.recipients, b.status) for b in stored(database)] == [(5, "scheduled")]
    assert quota.asked == asked, "next month's allowance is not this month's"


def test_a_large_audience_beyond_the_quota_is_asked_twice(
    settings: Settings,
    database: Database,
    clock: FakeClock,
    quota: FakeQuota,
    toshima: None,
) -> None:
    campaign = settings.campaign()
    campaign = replace(campaign, broadcasts=replace(campaign.broadcasts, confirm_above=4))
    conversation = Conversation(
        database.unit_of_work, campaign, Catalogues.load(), clock, quota=quota
    )
    organiser = Chat(conversation, MemberRef("console", "console-organiser"))
    organiser.say("/start")
    organiser.press("はい、受け取ります")
    organiser.press("都全体")
    organiser.press("決定")
    quota.left = 1
    compose(organiser, "巣鴨宣伝は雨でも行います。", region="豊島区")
    organiser.press("送信する")
    organiser.press("それでも送る")

    assert "5人に送ります。本当によろしいですか？" in organiser.text
    assert stored(database) == []
    organiser.press("はい、送ります")
    assert [b.recipients for b in stored(database)] == [5]
