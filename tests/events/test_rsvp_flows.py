"""Events as members see them, and their answers: 参加 / 未定 / 不参加, guests, waitlist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from icalendar import Calendar as ICalendar
from sqlalchemy import select

from bot.domain.events import RsvpStatus
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.events import PAGE
from bot.store.database import Database
from bot.store.tables import RsvpRow
from tests.dialogs.chat import Chat
from tests.events.conftest import CALENDAR, HIBIYA, RALLY, STUDY, at, called_off, with_changes
from tests.fakes.clock import FakeClock
from tests.outbox_text import texts_of

Member = Callable[..., Chat]


def answers(database: Database) -> list[tuple[str, int]]:
    with database.session() as session:
        rows = session.scalars(select(RsvpRow).order_by(RsvpRow.member_id)).all()
        return [(row.status, row.guests) for row in rows]


@pytest.fixture
def deliveries(
    database: Database, conversation: Conversation, clock: FakeClock
) -> Callable[[str], list[tuple[int, str]]]:
    """(member id, text) of each queued delivery of a purpose, as it would be sent now."""
    return lambda purpose: texts_of(database, conversation.screens, clock, purpose)


def test_events_show_the_members_regions_and_tokyo_wide_ones(member: Member) -> None:
    chat = member("alice", "板橋区")
    chat.say("予定")

    (listing,) = chat.replies
    assert listing.text.startswith("これからの予定です。\n\n")
    assert "・12月7日(月) 13:00 保険証を残せ 12.7大集会（日比谷野外音楽堂）\n" in listing.text, (
        "Tokyo-wide events are for everyone"
    )
    assert "・12月10日(木) 18:30 マイナ保険証 学習会（板橋区立グリーンホール）" in listing.text
    assert "巣鴨駅宣伝" not in listing.text, "another ward's street action is not shown"
    assert "予定はここまでです。" in listing.text
    assert [b.label for b in listing.all_buttons()] == [
        "12月7日 保険証を残せ 12.7大集会",
        "12月10日 マイナ保険証 学習会",
        "予定",
        "質問",
        "通知設定",
        "ヘルプ",
    ], "a button per event, and the menu at the end of the list"

    (rally,) = chat.open_event("12.7大集会")
    assert rally.text.startswith("【集会】保険証を残せ 12.7大集会\n12月7日(月) 13:00〜15:00\n")
    assert "場所: 日比谷野外音楽堂（東京都千代田区日比谷公園1-5）" in rally.text
    assert "http" not in rally.text, "the map is a named link"
    assert "%E" not in rally.text
    assert [(link.label, link.url) for link in rally.links] == [("地図を開く", HIBIYA.map_url)]
    assert [b.label for b in rally.all_buttons()] == ["参加する", "未定", "行けない"]


def test_more_events_page_by_page(member: Member) -> None:
    chat = member("toshima-member", "豊島区")
    chat.say("予定")
    (first_page,) = chat.replies
    assert first_page.text.count("\n・") == PAGE
    assert len(first_page.buttons) == PAGE + 1, "a button per event, and 「もっと見る」"
    assert first_page.text.startswith(
        "これからの予定です。\n\n・12月4日(金) 12:00 4の日 巣鴨駅宣伝"
    )
    assert "ほかの予定は「もっと見る」を押すと出ます。" in first_page.text
    assert not first_page.menu, "the list goes on: its buttons stay the choices"

    chat.press("もっと見る")
    (second_page,) = chat.replies
    assert "12月4日(金)" not in second_page.text
    assert "これからの予定です" not in second_page.text
    assert second_page.text.startswith("・1月14日(木) 12:00 4の日 巣鴨駅宣伝（巣鴨駅前）")
    assert "予定はここまでです。" in second_page.text
    chat.press("2月4日 4の日 巣鴨駅宣伝")
    assert chat.text.startswith("【街頭宣伝】4の日 巣鴨駅宣伝\n2月4日(木) 12:00〜13:00")


def test_going_asks_for_guests_then_confirms_with_a_calendar_button(
    member: Member, database: Database
) -> None:
    chat = member("alice", "板橋区")
    chat.open_event("12.7大集会")
    chat.press("参加する")

    assert answers(database) == [("going", 0)], "stored in the turn of the press"
    card, question = chat.replies
    assert card.replace, "the card pressed is redrawn in place"
    assert "あなたの返事: 参加" in card.text
    assert question.text.startswith("ご一緒に来る方は何人ですか？")
    assert [b.label for b in question.all_buttons()] == ["ひとりで行く", "1人", "2人"]
    assert not [a for reply in chat.replies for a in reply.attachments], "no file in the answer"

    chat.press("2人")
    (confirmation,) = chat.replies
    assert confirmation.replace, "the question becomes the confirmation"
    assert confirmation.text == (
        "12月7日(月)の「保険証を残せ 12.7大集会」に、同行の方2人と参加で受け付けました。"
    )
    assert confirmation.all_buttons()[0].label == "カレンダーに追加"
    assert confirmation.attachments == ()
    assert answers(database) == [("going", 2)]

    chat.press("カレンダーに追加")
    (sent,) = chat.replies
    (ics,) = sent.attachments
    assert ics.filename == "rally-1207-once.ics"
    event = ICalendar.from_ical(ics.content).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "保険証を残せ 12.7大集会"
    assert event.decoded("DTSTART") == at("2026-12-07", "13:00")
    assert "日比谷野外音楽堂" in str(event["LOCATION"])
    assert answers(database) == [("going", 2)], "the file changes no answer"


def test_an_answer_can_change_and_is_stored_once(member: Member, database: Database) -> None:
    chat = member("alice", "板橋区")
    chat.open_event("12.7大集会")
    chat.press("参加する")
    maybe = chat.button("未定", on="12.7大集会")  # on the redrawn card, still on her screen
    chat.press("1人")
    chat.press_raw(maybe.action.encode())
    assert "未定で受け付けました" in chat.text
    assert "あなたの返事: 未定" in chat.replies[0].text
    assert answers(database) == [("maybe", 0)]
    chat.open_event("12.7大集会")
    chat.press("行けない")
    assert "不参加で受け付けました" in chat.text
    assert answers(database) == [("no", 0)]
    chat.say("予定")
    assert "12.7大集会（日比谷野外音楽堂） ［返事: 不参加］" in chat.text, "marked in the list"
    assert "学習会（板橋区立グリーンホール）\n" in chat.text, "nothing said, nothing marked"
    chat.open_event("12.7大集会")
    assert "あなたの返事: 不参加" in chat.text


def test_a_full_event_takes_the_next_ones_on_a_waiting_list(
    deliveries: Callable[[str], list[tuple[int, str]]], member: Member, database: Database
) -> None:
    alice, bob, chie = (member(n, "板橋区", name=n) for n in ("alice", "bob", "chie"))
    for chat in (alice, bob, chie):
        chat.open_event("12.7大集会")
        chat.press("参加する")
        if chat is alice:
            chat.press("1人")  # alice + 1 guest + bob = 3 = capacity

    assert "キャンセル待ちで受け付けました" in chie.text
    assert [s for s, _ in answers(database)] == ["going", "going", "waitlist"]
    chie.say("予定")
    assert "［返事: キャンセル待ち］" in chie.text
    chie.open_event("12.7大集会")
    assert "満席です" in chie.text
    assert "あなたの返事: キャンセル待ち" in chie.text

    bob.open_event("12.7大集会")
    bob.press("行けない")

    assert [s for s, _ in answers(database)] == ["going", "no", "going"]
    promoted = deliveries("waitlist_promoted")
    assert len(promoted) == 1
    assert "空きが出ました" in promoted[0][1]


def test_answers_close_at_the_deadline(
    member: Member, clock: FakeClock, database: Database
) -> None:
    chat = member("alice", "板橋区")
    chat.open_event("学習会")
    assert "返事の受付: 12月9日(水) 18:30まで" in chat.text
    clock.set(at("2026-12-09", "19:00"))
    chat.press("参加する")
    assert "受付は終わりました" in chat.text
    assert answers(database) == []
    assert "参加する" not in [b.label for b in chat.reply_with("【学習会】").all_buttons()]


def test_answers_close_when_the_event_starts(
    member: Member, clock: FakeClock, database: Database
) -> None:
    chat = member("alice", "板橋区")
    chat.open_event("12.7大集会")
    clock.set(RALLY.starts_at + timedelta(minutes=1))
    chat.press("参加する")
    assert "受付は終わりました" in chat.text
    assert answers(database) == []


def test_a_cancelled_event_refuses_answers_and_tells_those_who_answered(
    deliveries: Callable[[str], list[tuple[int, str]]],
    member: Member,
    calendar_sync: CalendarSync,
    database: Database,
) -> None:
    alice, bob, chie = member("alice", "板橋区"), member("bob", "板橋区"), member("chie", "板橋区")
    for chat, button in ((alice, "参加する"), (bob, "未定"), (chie, "行けない")):
        chat.open_event("12.7大集会")
        chat.press(button)
    alice.open_event("12.7大集会")
    old_button = alice.button("未定")
    rain = called_off(RALLY, "雨天のため中止")
    calendar = CALENDAR.__class__(events=(rain, *CALENDAR.events[1:]))

    report = calendar_sync.sync(calendar)
    again = calendar_sync.sync(calendar)

    assert report.occurrences_cancelled == 1
    assert report.notices_queued == 2
    assert again.notices_queued == 0, "syncing twice never tells anyone twice"
    notices = deliveries("event_change")
    assert len(notices) == 2
    assert all("中止になりました" in text and "雨天のため中止" in text for _, text in notices)
    alice.press_raw(old_button.action.encode())  # a card sent before the cancellation
    assert "中止になりました" in alice.text
    alice.say("予定")
    assert "・12月7日(月) 13:00 【中止】保険証を残せ 12.7大集会" in alice.text
    assert "12月7日 【中止】保険証を残せ…" in alice.labels()
    alice.open_event("12.7大集会")
    assert "【中止】【集会】保険証を残せ 12.7大集会" in alice.text
    assert "参加する" not in alice.labels()
    assert [s for s, _ in answers(database)] == ["going", "maybe", "no"], "answers are kept"


def test_a_new_time_keeps_answers_and_tells_each_member_once(
    deliveries: Callable[[str], list[tuple[int, str]]],
    member: Member,
    calendar_sync: CalendarSync,
    database: Database,
) -> None:
    alice = member("alice", "板橋区")
    alice.open_event("学習会")
    alice.press("参加する")
    alice.press("1人")
    later = with_changes(
        STUDY, starts_at=at("2026-12-10", "19:00"), ends_at=at("2026-12-10", "21:00")
    )
    calendar = CALENDAR.__class__(events=(RALLY, CALENDAR.events[1], later))

    calendar_sync.sync(calendar)
    calendar_sync.sync(calendar)

    (notice,) = deliveries("event_change")
    assert "【予定の変更】" in notice[1]
    assert "12月10日(木) 18:30〜20:30 → 12月10日(木) 19:00〜21:00" in notice[1]
    assert answers(database) == [("going", 1)]
    alice.say("予定")
    assert "・12月10日(木) 19:00 マイナ保険証 学習会" in alice.text
    alice.open_event("学習会")
    assert "12月10日(木) 19:00〜21:00" in alice.text


def test_a_removed_event_disappears_and_the_report_warns(
    deliveries: Callable[[str], list[tuple[int, str]]],
    member: Member,
    calendar_sync: CalendarSync,
    database: Database,
) -> None:
    alice = member("alice", "板橋区")
    alice.open_event("学習会")
    alice.press("参加する")

    report = calendar_sync.sync(CALENDAR.__class__(events=(RALLY, CALENDAR.events[1])))

    assert report.events_removed == ("itabashi-study-1210",)
    assert report.removed_with_answers == ("itabashi-study-1210",)
    assert deliveries("event_change") == []
    alice.say("予定")
    assert "学習会" not in alice.text


def test_a_flyer_link_opens_the_event(member: Member) -> None:
    chat = member("alice", "板橋区")
    chat.say("/start ev_rally-1207")
    assert "【集会】保険証を残せ 12.7大集会" in chat.text, "the card itself, not the list"
    assert [link.label for reply in chat.replies for link in reply.links] == ["地図を開く"]
    chat.say("/start ev_no-such-event")
    assert "見つかりませんでした" in chat.text


def test_a_new_member_from_a_flyer_gets_the_welcome_and_the_event(
    conversation: object, calendar_sync: CalendarSync
) -> None:
    from bot.domain.messages import MemberRef
    from bot.services.conversation import Conversation

    assert isinstance(conversation, Conversation)
    chat = Chat(conversation, MemberRef("console", "newcomer"))
    chat.say("/start ev_sugamo-4nohi")
    assert "東京社保協" in chat.text
    assert "受け取りますか" in chat.text
    assert "4の日 巣鴨駅宣伝" in chat.text


def test_organisers_see_counts_and_names_members_do_not(
    member: Member, settings: object, database: Database
) -> None:
    alice = member("alice", "板橋区", name="山田花子")
    alice.open_event("12.7大集会")
    alice.press("参加する")
    alice.press("2人")
    bob = member("bob", "板橋区", name="佐藤")
    bob.open_event("12.7大集会")
    bob.press("未定")
    assert "参加状況" not in bob.labels()
    bob.press_raw(f"1:attendees:{_rally_id(database)}")
    assert "世話人だけ" in bob.text
    assert "山田花子" not in bob.text

    organiser = member("console-organiser", "都全体")
    organiser.say("参加状況")
    assert "保険証を残せ 12.7大集会: 参加3人・未定1人" in organiser.text
    organiser.press(next(label for label in organiser.labels() if "12.7大集会" in label))
    assert "参加: 1人（同行2人、合計3人）" in organiser.text
    assert "未定: 1人" in organiser.text
    organiser.press("名前を見る")
    assert "・山田花子（参加（同行2人））" in organiser.text
    assert "・佐藤（未定）" in organiser.text


def test_forged_answers_are_refused(member: Member, database: Database) -> None:
    chat = member("alice", "板橋区")
    for payload in ("1:rsvp:999999:going", "1:rsvp:abc:going", "1:rsvp:1:waitlist", "1:guests:1:9"):
        chat.press_raw(payload)
        assert "申し訳ありません" not in chat.text
    assert answers(database) == []
    assert RsvpStatus.WAITLIST.value == "waitlist"


def _rally_id(database: Database) -> int:
    from bot.store.tables import EventRow, OccurrenceRow

    with database.session() as session:
        return session.scalars(
            select(OccurrenceRow.id).join(EventRow).where(EventRow.slug == "rally-1207")
        ).one()
