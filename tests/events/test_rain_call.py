"""中止連絡: an organiser calls an occurrence off from the chat; everyone who said they would
come hears it at once with the reason, whatever the hour; reminders for it stop; the
schedule file stays as written and does not undo it; it can be taken back until the start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

from sqlalchemy import select

from bot.domain.deliveries import (
    EVENT_CHANGE,
    REMINDER,
    SKIP_EVENT_RESTORED,
    About,
    Later,
    Outgoing,
    Skip,
)
from bot.domain.reminders import QuietHours
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.store.database import Database
from bot.store.tables import AuditRow, DeliveryRow, MemberRow
from tests import outbox_text
from tests.dialogs.chat import Chat
from tests.events.conftest import CALENDAR, at, occurrence_id
from tests.fakes.clock import FakeClock

Member = Callable[..., Chat]
RALLY_LABEL = "12月7日(月) 13:00 保険証を残せ 12.7大集会"


def queued(database: Database, purpose: str) -> list[tuple[DeliveryRow, MemberRow]]:
    with database.session() as session:
        return [
            (row, member)
            for row, member in session.execute(
                select(DeliveryRow, MemberRow)
                .join(MemberRow, MemberRow.id == DeliveryRow.member_id)
                .where(DeliveryRow.purpose == purpose)
                .order_by(DeliveryRow.id)
            ).all()
        ]


def rendered(
    database: Database, conversation: Conversation, clock: FakeClock, purpose: str
) -> list[Outgoing | Skip]:
    """What the queued rows of `purpose` would say now, quiet hours as shipped."""
    found = outbox_text.rendered(
        database,
        conversation.screens,
        clock,
        purpose,
        quiet=QuietHours(time(21), time(8)),
        queued_only=True,
    )
    return [message for _, message in found if not isinstance(message, Later)]


def answered(member: Member) -> dict[str, Chat]:
    people = {name: member(name, "豊島区") for name in ("going", "maybe", "no", "silent")}
    for name, button in (("going", "参加する"), ("maybe", "未定"), ("no", "行けない")):
        people[name].open_event("12.7大集会")
        people[name].press(button)
    return people


def call_off(organiser: Chat, reason: str | None = "雨天のため") -> None:
    organiser.say("中止連絡")
    organiser.press(RALLY_LABEL)
    if reason in ("雨天のため", "荒天のため", "講師の都合のため"):
        organiser.press(reason)
    else:
        assert reason is not None
        organiser.say(reason)
    assert "2人に、いますぐ知らせます" in organiser.text
    organiser.press("中止を知らせる")


def test_a_rain_call_tells_who_said_they_would_come_at_once_with_the_reason(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    people = answered(member)
    organiser = member("console-organiser", "都全体")
    clock.set(at("2026-12-06", "23:30"))  # quiet hours: a rain call does not wait for them

    call_off(organiser)
    assert "中止にしました" in organiser.text
    assert "2人に知らせます" in organiser.text

    told = {member.external_id for _, member in queued(database, EVENT_CHANGE)}
    assert told == {"going", "maybe"}
    texts = [r.text for r in rendered(database, conversation, clock, EVENT_CHANGE)]
    assert (
        texts
        == [
            "【中止】「保険証を残せ 12.7大集会」(12月7日(月) 13:00〜15:00) は中止になりました。"
            "\n※ 雨天のため"
        ]
        * 2
    )
    people["going"].say("予定")
    assert "中止" in people["going"].reply_with("12.7大集会").text
    with database.session() as session:
        (record,) = session.scalars(select(AuditRow).where(AuditRow.action == "rain_call"))
    assert record.detail["reason"] == "雨天のため"
    assert record.detail["told"] == 2


def test_a_written_reason_is_kept_as_written(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    answered(member)
    organiser = member("console-organiser", "都全体")
    call_off(organiser, "会場の都合で<中止>します")
    texts = [r.text for r in rendered(database, conversation, clock, EVENT_CHANGE)]
    assert all(text.endswith("※ 会場の都合で<中止>します") for text in texts)


def test_the_schedule_file_does_not_undo_a_rain_call(
    member: Member, database: Database, calendar_sync: CalendarSync
) -> None:
    answered(member)
    call_off(member("console-organiser", "都全体"))
    notices = len(queued(database, EVENT_CHANGE))

    report = calendar_sync.sync(CALENDAR)  # the file, unchanged: the rally is not cancelled there
    assert report.occurrences_changed == 0
    assert len(queued(database, EVENT_CHANGE)) == notices, "nobody is told it is on again"
    with database.unit_of_work() as uow:
        rally = uow.calendar.occurrence(occurrence_id(database, "rally-1207"))
    assert rally is not None
    assert rally.cancelled
    assert rally.called_off is not None


def test_pending_reminders_of_a_called_off_event_are_skipped(
    member: Member, database: Database, clock: FakeClock
) -> None:
    people = answered(member)
    rally = occurrence_id(database, "rally-1207")
    with database.unit_of_work() as uow:
        going = uow.members.get("console", people["going"].member.external_id)
        assert going is not None
        uow.outbox.enqueue(
            REMINDER,
            f"day_before:{rally}",
            going,
            {"kind": REMINDER, "reminder": "day_before"},
            at("2026-12-06", "10:00"),
            about=About(occurrence_id=rally),
        )
        uow.commit()
    call_off(member("console-organiser", "都全体"))
    ((row, _),) = queued(database, REMINDER)
    assert (row.state, row.skip_reason) == ("skipped", "event called off")


def test_a_rain_call_can_be_taken_back_until_the_start(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    answered(member)
    organiser = member("console-organiser", "都全体")
    call_off(organiser)

    organiser.say("中止連絡")
    organiser.press(f"中止を取り消す: {RALLY_LABEL}")
    assert "開催することを知らせますか" in organiser.text
    organiser.press("はい、開催を知らせます")
    assert "中止を取り消しました。2人に開催を知らせます" in organiser.text

    results = rendered(database, conversation, clock, EVENT_CHANGE)
    skipped = [r for r in results if isinstance(r, Skip)]
    sent = [r for r in results if isinstance(r, Outgoing)]
    assert skipped == [Skip(SKIP_EVENT_RESTORED)] * 2, "the call-off not sent yet is dropped"
    assert [r.text.splitlines()[0] for r in sent] == [
        "【予定どおり行います】「保険証を残せ 12.7大集会」は中止をとりやめ、予定どおり行います。"
    ] * 2
    with database.unit_of_work() as uow:
        rally = uow.calendar.occurrence(occurrence_id(database, "rally-1207"))
    assert rally is not None
    assert not rally.cancelled

    clock.set(at("2026-12-07", "13:30"))
    organiser.say("中止連絡")
    assert RALLY_LABEL not in organiser.labels(), "it has started: nothing left to call off"


def test_quitting_a_rain_call_changes_nothing(member: Member, database: Database) -> None:
    answered(member)
    organiser = member("console-organiser", "都全体")
    organiser.say("中止連絡")
    organiser.press(RALLY_LABEL)
    organiser.press("やめる")
    assert "何も変えていません" in organiser.text
    assert queued(database, EVENT_CHANGE) == []
