"""一斉送信 in the chat: an organiser composes, targets, previews and sends; members get it once,
at a decent hour unless it is urgent; the organiser follows it and can stop it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.domain.broadcasts import BroadcastStatus, Target
from bot.domain.deliveries import (
    BROADCAST,
    BROADCAST_PROGRESS,
    BROADCAST_REPORT,
    Later,
    Skip,
)
from bot.domain.messages import Outgoing
from bot.domain.reminders import QuietHours
from bot.services import broadcasts as broadcasts_service
from bot.services.broadcasts import BroadcastMonitor, Draft
from bot.services.conversation import Conversation
from bot.store.database import Database
from bot.store.tables import AuditRow, BroadcastRow, DeliveryRow
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.events.conftest import at
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered

Member = Callable[..., Chat]


def rows(database: Database, purpose: str = BROADCAST) -> list[DeliveryRow]:
    with database.session() as session:
        return list(
            session.scalars(
                select(DeliveryRow).where(DeliveryRow.purpose == purpose).order_by(DeliveryRow.id)
            )
        )


def broadcasts(database: Database) -> list[BroadcastRow]:
    with database.session() as session:
        return list(session.scalars(select(BroadcastRow).order_by(BroadcastRow.id)))


def audit(database: Database, action: str) -> list[AuditRow]:
    with database.session() as session:
        return list(session.scalars(select(AuditRow).where(AuditRow.action == action)))


def compose(organiser: Chat, text: str, *, region: str | None = None) -> None:
    organiser.say("一斉送信")
    if region is None:
        organiser.press("全員")
    else:
        organiser.press("地域をえらぶ")
        organiser.press(region)
    assert "送る文章を書いて" in organiser.text
    organiser.say(text)


def render(
    database: Database, conversation: Conversation, clock: FakeClock, purpose: str = BROADCAST
) -> dict[int, Outgoing | Skip | Later]:
    """What the dispatcher would send now for every queued row of `purpose` (the rows are
    left as they are: nothing is claimed)."""
    quiet = QuietHours(time(21, 0), time(8, 0))
    found = rendered(database, conversation.screens, clock, purpose, quiet=quiet, queued_only=True)
    return {row.id: message for row, message in found}


def test_an_announcement_to_a_region_reaches_its_members_as_previewed(
    member: Member, database: Database
) -> None:
    toshima = [member(f"t{i}", "豊島区") for i in range(3)]
    member("n1", "練馬区")
    stopped = member("t-stopped", "豊島区")
    stopped.say("配信停止")
    organiser = member("console-organiser", "都全体")

    compose(organiser, "4日の巣鴨宣伝は雨でも行います。", region="豊島区")

    preview = organiser.reply_with("会員にはこのように届きます")
    assert "あて先: 豊島区の人" in preview.text
    assert "届く人: 3人" in preview.text
    assert "お知らせを止めた人1人" in preview.text
    assert "送り終わるまで: 約1秒" in preview.text
    assert organiser.replies[0].text == "【お知らせ】\n4日の巣鴨宣伝は雨でも行います。"
    assert not broadcasts(database), "nothing is stored before 送信"

    organiser.press("送信する")
    assert "送信を始めました（番号1、3人）" in organiser.text
    queued = rows(database)
    assert sorted(r.member_id for r in queued) == sorted(m_id(database, c) for c in toshima)
    assert {r.lane for r in queued} == {3}, "the bulk lane: replies never wait behind it"
    (record,) = audit(database, "broadcast.sent")
    assert record.detail["audience"] == "region:toshima"
    assert record.detail["text"] == "4日の巣鴨宣伝は雨でも行います。"
    assert record.detail["recipients"] == 3


def m_id(database: Database, chat: Chat) -> int:
    with database.unit_of_work() as uow:
        found = uow.members.get(chat.member.channel, chat.member.external_id)
    assert found is not None
    assert found.id is not None
    return found.id


def test_members_get_exactly_what_the_preview_showed(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    member("t1", "豊島区")
    organiser = member("console-organiser", "都全体")
    compose(organiser, "<b>集会</b> & 宣伝のお知らせ", region="豊島区")
    shown = organiser.replies[0]
    organiser.press("送信する")

    (sent,) = render(database, conversation, clock).values()
    assert sent == shown


def test_a_normal_announcement_waits_for_the_morning_and_an_urgent_one_does_not(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    member("t1", "豊島区")
    organiser = member("console-organiser", "都全体")
    clock.set(at("2026-12-01", "22:30"))
    compose(organiser, "明日の集会のお知らせです。", region="豊島区")
    assert "夜21:00から朝8:00までは、朝になってから送ります" in organiser.text
    organiser.press("送信する")
    (waiting,) = render(database, conversation, clock).values()
    assert waiting == Later(at("2026-12-02", "08:00"), "quiet hours")

    compose(organiser, "雨天のため本日の宣伝は中止です。", region="豊島区")
    organiser.press("緊急にする")
    assert "緊急: 夜でもすぐに送ります" in organiser.text
    assert organiser.replies[0].text.startswith("【緊急のお知らせ】")
    organiser.press("送信する")
    rendered = render(database, conversation, clock)
    urgent = [r for r in rendered.values() if isinstance(r, Outgoing)]
    assert [r.text for r in urgent] == ["【緊急のお知らせ】\n雨天のため本日の宣伝は中止です。"]


def test_a_scheduled_announcement_goes_at_its_time(
    member: Member, database: Database, clock: FakeClock
) -> None:
    member("t1", "豊島区")
    organiser = member("console-organiser", "都全体")
    compose(organiser, "年末大集会のお知らせ", region="豊島区")
    organiser.press("日時を決めて予約")
    organiser.say("12月3日 9時")
    assert "送る日時: 12月3日(木) 9:00" in organiser.text
    organiser.press("予約する")
    assert "12月3日(木) 9:00に送ります（番号1" in organiser.text

    (row,) = rows(database)
    assert row.due_at == at("2026-12-03", "09:00")
    (stored,) = broadcasts(database)
    assert stored.status == BroadcastStatus.SCHEDULED


def test_a_time_that_cannot_be_read_or_has_passed_is_asked_again(member: Member) -> None:
    member("t1", "豊島区")
    organiser = member("console-organiser", "都全体")
    compose(organiser, "お知らせ", region="豊島区")
    organiser.press("日時を決めて予約")
    organiser.say("そのうち")
    assert "日時が読み取れませんでした" in organiser.text
    organiser.say("11/29 9:00")
    assert "その日時はもう過ぎています" in organiser.text
    organiser.say("12/2 10:00")
    assert "送る日時: 12月2日(水) 10:00" in organiser.text


def test_a_large_audience_needs_a_second_confirmation(
    member: Member,
    conversation: Conversation,
    database: Database,
    settings_with: Callable[..., Conversation],
) -> None:
    small_limit = settings_with(confirm_above=1)
    for i in range(2):
        member(f"t{i}", "豊島区")
    organiser = Chat(small_limit, member("console-organiser", "都全体").member)
    compose(organiser, "お知らせ", region="豊島区")
    organiser.press("送信する")
    assert "2人に送ります。本当によろしいですか？" in organiser.text
    assert not broadcasts(database)
    organiser.press("はい、送ります")
    assert "送信を始めました" in organiser.text
    assert len(rows(database)) == 2


def test_an_event_card_with_its_answer_buttons_can_go_under_the_text(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    member("t1", "豊島区")
    organiser = member("console-organiser", "都全体")
    compose(organiser, "ぜひご参加ください。", region="豊島区")
    organiser.press("予定の案内をつける")
    organiser.press(next(label for label in organiser.labels() if "12.7大集会" in label))
    shown = organiser.replies[0]
    assert "保険証を残せ 12.7大集会" in shown.text
    assert "参加する" in [b.label for b in shown.all_buttons()]
    organiser.press("送信する")
    (sent,) = render(database, conversation, clock).values()
    assert isinstance(sent, Outgoing)
    assert "ぜひご参加ください。" in sent.text
    assert "12.7大集会" in sent.text
    assert "参加する" in [b.label for b in sent.all_buttons()]


def test_an_answer_list_of_an_event_can_be_the_audience(member: Member, database: Database) -> None:
    alice, bob = member("alice", "豊島区"), member("bob", "豊島区")
    alice.open_event("12.7大集会")
    alice.press("参加する")
    bob.open_event("12.7大集会")
    bob.press("行けない")
    organiser = member("console-organiser", "都全体")
    organiser.say("一斉送信")
    organiser.press("予定に返事をした人")
    organiser.press(next(label for label in organiser.labels() if "12.7大集会" in label))
    organiser.press("参加と未定の人")
    organiser.say("集合場所が変わりました。")
    assert "届く人: 1人" in organiser.text
    organiser.press("送信する")
    assert [r.member_id for r in rows(database)] == [m_id(database, alice)]


def test_quitting_sends_nothing_and_a_menu_word_ends_the_dialog(
    member: Member, database: Database
) -> None:
    member("t1", "豊島区")
    organiser = member("console-organiser", "都全体")
    compose(organiser, "お知らせ", region="豊島区")
    organiser.press("やめる")
    assert "一斉送信をやめました" in organiser.text

    organiser.say("一斉送信")
    organiser.press("全員")
    organiser.say("予定")  # a menu word: the member wanted the calendar, not a broadcast
    assert "これからの予定です" in organiser.text
    organiser.say("保険証はいつまで使えますか")
    assert "会員にはこのように届きます" not in organiser.text
    assert not broadcasts(database)


def test_a_dialog_left_open_expires(member: Member, database: Database, clock: FakeClock) -> None:
    member("t1", "豊島区")
    organiser = member("console-organiser", "都全体")
    organiser.say("一斉送信")
    organiser.press("全員")
    send_all = organiser.button("やめる")
    clock.advance(timedelta(hours=1))
    organiser.say("年末大集会のお知らせ")
    assert "会員にはこのように届きます" not in organiser.text
    organiser.press_raw(send_all.action.encode())
    assert "このボタンはもう使えません" in organiser.text


def test_progress_is_one_edited_message_and_a_report_closes_it(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    for i in range(3):
        member(f"t{i}", "豊島区")
    organiser = member("console-organiser", "都全体")
    compose(organiser, "お知らせ", region="豊島区")
    organiser.press("送信する")
    monitor = BroadcastMonitor(database.unit_of_work, clock)

    assert monitor.tick() == 1
    (progress,) = render(database, conversation, clock, BROADCAST_PROGRESS).values()
    assert isinstance(progress, Outgoing)
    assert progress.text == "番号1の一斉送信: 送信中 0 / 3"
    assert progress.edit_of is None, "the first progress message is a new one"

    with database.session() as session:
        first = session.scalars(
            select(DeliveryRow).where(DeliveryRow.purpose == BROADCAST_PROGRESS)
        ).one()
        first.state, first.channel_message_id = "sent", "777"
        for row in session.scalars(
            select(DeliveryRow).where(DeliveryRow.purpose == BROADCAST)
        ).all()[:2]:
            row.state = "sent"
        session.commit()
    assert monitor.tick() == 1
    (progress,) = render(database, conversation, clock, BROADCAST_PROGRESS).values()
    assert isinstance(progress, Outgoing)
    assert progress.text == "番号1の一斉送信: 送信中 2 / 3"
    assert progress.edit_of == "777", "later counts edit the first message"

    with database.session() as session:
        last = session.scalars(
            select(DeliveryRow).where(
                DeliveryRow.purpose == BROADCAST, DeliveryRow.state == "queued"
            )
        ).one()
        last.state, last.skip_reason = "skipped", "unreachable"
        session.commit()
    assert monitor.tick() == 0
    (report,) = render(database, conversation, clock, BROADCAST_REPORT).values()
    assert isinstance(report, Outgoing)
    assert report.text == (
        "番号1の一斉送信が終わりました。\n届いた人: 2人\n届かなかった人（ブロックなど）: 1人"
    )
    assert broadcasts(database)[0].status == BroadcastStatus.DONE
    assert monitor.tick() == 0
    assert len(rows(database, BROADCAST_REPORT)) == 1, "one report"


def test_a_running_broadcast_can_be_stopped_from_the_list(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    for i in range(3):
        member(f"t{i}", "豊島区")
    organiser = member("console-organiser", "都全体")
    compose(organiser, "お知らせ", region="豊島区")
    organiser.press("送信する")
    with database.session() as session:
        first = session.scalars(select(DeliveryRow).where(DeliveryRow.purpose == BROADCAST)).first()
        assert first is not None
        first.state = "sent"
        session.commit()

    organiser.say("送信一覧")
    assert "番号1【送信中】" in organiser.text
    organiser.press("番号1を取り消す")
    assert "取り消しますか" in organiser.text
    assert broadcasts(database)[0].status == BroadcastStatus.SENDING, "asked, not done yet"
    organiser.press("はい、番号1を取り消します")
    assert "2人には送りません" in organiser.text

    states = sorted((r.state, r.skip_reason or "") for r in rows(database))
    assert states == [
        ("sent", ""),
        ("skipped", "broadcast cancelled"),
        ("skipped", "broadcast cancelled"),
    ]
    assert broadcasts(database)[0].status == BroadcastStatus.CANCELLED
    assert len(audit(database, "broadcast.cancelled")) == 1
    organiser.say("送信一覧")
    assert "番号1【取り消し】" in organiser.text
    assert "番号1を取り消す" not in organiser.labels()


def test_a_long_text_goes_in_parts_queued_in_order(member: Member, database: Database) -> None:
    member("t1", "豊島区")
    organiser = member("console-organiser", "都全体")
    compose(organiser, "短い文です。" * 10, region="豊島区")
    organiser.press("送信する")
    assert len(rows(database)) == 1
    with database.session() as session:
        assert session.scalar(select(func.max(BroadcastRow.parts))) == 1


@pytest.fixture
def settings_with(
    settings: Settings, database: Database, clock: FakeClock
) -> Callable[..., Conversation]:
    """A conversation with broadcast settings changed."""

    def make(**changes: object) -> Conversation:
        campaign = settings.campaign()
        campaign = replace(campaign, broadcasts=replace(campaign.broadcasts, **changes))
        return Conversation(database.unit_of_work, campaign, Catalogues.load(), clock)

    return make


def test_a_cancelled_broadcast_reports_to_its_author_and_counts_people_not_messages(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    for i in range(3):
        member(f"t{i}", "豊島区")
    organiser = member("console-organiser", "都全体")
    with database.unit_of_work() as uow:
        author = uow.members.get("console", "console-organiser")
        sent = broadcasts_service.send(
            uow,
            Draft(Target(region="toshima"), "長いお知らせです。" * 600),
            author,
            "o",
            clock.now(),
        )
        uow.commit()
    assert sent.parts == 2
    assert len(rows(database)) == 6, "two parts for each of three members"
    organiser.say("送信一覧")
    organiser.press("番号1を取り消す")
    organiser.press("はい、番号1を取り消します")
    assert "3人には送りません" in organiser.text

    clock.advance(timedelta(seconds=31))
    (report,) = render(database, conversation, clock, BROADCAST_REPORT).values()
    assert isinstance(report, Outgoing)
    assert report.text.startswith("番号1の一斉送信は取り消されました。")
    assert "取り消しで送らなかった人: 3人" in report.text


def test_sending_wakes_the_dispatcher_when_it_commits(
    member: Member, database: Database, clock: FakeClock
) -> None:
    member("t1", "豊島区")
    woken: list[bool] = []
    database.when_enqueued(lambda: woken.append(True))
    with database.unit_of_work() as uow:
        broadcasts_service.send(uow, Draft(Target(), "お知らせ"), None, "cli", clock.now())
        assert woken == [], "not before the commit"
        uow.commit()
    assert woken == [True]


def test_a_number_written_as_the_announcement_is_the_announcement(
    member: Member, database: Database
) -> None:
    member("t1", "豊島区")
    organiser = member("console-organiser", "都全体")
    organiser.say("一斉送信")
    organiser.press("地域をえらぶ")
    organiser.press("豊島区")
    organiser.say("1")  # the one button on screen is やめる: a number is text here
    assert "会員にはこのように届きます" in organiser.text
    assert organiser.replies[0].text == "【お知らせ】\n1"
