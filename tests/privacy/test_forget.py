"""登録削除: after /forget nothing in any table identifies the member, past events keep their
numbers, and the member can register again as new (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from bot.domain.privacy import FORGOTTEN_CHANNEL
from bot.store.database import Database
from bot.store.tables import Base, DeliveryRow, FaqQuestionRow, MemberRow, RelayRow
from tests.dialogs.chat import Chat
from tests.events.conftest import RALLY, STUDY, occurrence_id
from tests.fakes.clock import FakeClock
from tests.privacy.journey import EXTERNAL_ID, NAME, RELAYED, found, member_id, registered


def counts(database: Database, slug: str) -> tuple[int, int]:
    """(going, guests) of the event's first occurrence."""
    with database.unit_of_work() as uow:
        tally = uow.rsvps.counts(occurrence_id(database, slug))
    return tally.going, tally.guests


def test_forget_leaves_nothing_that_identifies_the_member(
    member: Callable[..., Chat], database: Database, clock: FakeClock
) -> None:
    journey = registered(member, database, clock)
    alice_id = member_id(database)
    assert found(database, journey.identifying), "the journey left her traces to look for"
    clock.set(RALLY.starts_at + timedelta(days=1))  # the rally is over, the study to come
    rally_before, study_before = counts(database, RALLY.slug), counts(database, STUDY.slug)

    with database.unit_of_work() as uow:
        counted = uow.members.stats().total
    journey.alice.say("/forget")
    assert "元に戻せません" in journey.alice.text
    journey.alice.press("削除する")
    with database.unit_of_work() as uow:
        assert uow.members.stats().total == counted - 1, "登録状況 counts her no more"

    assert "登録を削除しました" in journey.alice.text
    assert "終わった集会の参加人数（1件）" in journey.alice.text, "she is told what was kept"
    assert found(database, journey.identifying) == []
    assert counts(database, RALLY.slug) == rally_before, "past events keep their numbers"
    assert counts(database, STUDY.slug) == (study_before[0] - 1, study_before[1]), (
        "her place at the study to come is free"
    )
    with database.session() as session:
        placeholder = session.get(MemberRow, alice_id)
        assert placeholder is not None
        assert placeholder.channel == FORGOTTEN_CHANNEL
        assert (
            session.scalar(
                select(func.count())
                .select_from(DeliveryRow)
                .where(DeliveryRow.member_id == alice_id)
            )
            == 0
        ), "the outbox keeps nothing addressed to her"
        relay = session.scalars(select(RelayRow).where(RelayRow.member_id == alice_id)).one()
        assert relay.question == ""
        assert relay.answer is None
        logged = [row.text for row in session.scalars(select(FaqQuestionRow))]
    assert not [text for text in logged if NAME in text or "1234" in text], logged


def test_the_scan_covers_every_table_of_the_schema(database: Database) -> None:
    """The scan reads every table the metadata knows (a new table cannot escape it)."""
    from tests.privacy.journey import every_value

    with database.session() as session:
        session.add(
            MemberRow(
                channel="x",
                external_id="needle-1",
                language="ja",
                role="member",
                subscription="pending",
                created_at=_now(),
                last_seen_at=_now(),
            )
        )
        session.commit()
    assert ("members", "external_id", "needle-1") in set(every_value(database))
    assert len(Base.metadata.sorted_tables) >= 16


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 11, 30, tzinfo=UTC)


def test_a_forgotten_member_registers_again_as_new(
    member: Callable[..., Chat], database: Database, clock: FakeClock
) -> None:
    journey = registered(member, database, clock)
    old_id = member_id(database)
    journey.alice.say("/forget")
    journey.alice.press("削除する")

    journey.alice.say("予定")
    assert "集会や宣伝のお知らせを、このボットから受け取りますか？" in journey.alice.text, (
        "she is someone new: the welcome"
    )
    journey.alice.press("はい、受け取ります")
    journey.alice.press("板橋区")
    journey.alice.press("決定")
    new_id = member_id(database)
    assert new_id != old_id
    journey.alice.say("/mydata")
    assert "【集会へのお返事】" not in journey.alice.text, "nothing of the old registration"
    assert "地域: 板橋区" in journey.alice.text


def test_changing_your_mind_deletes_nothing(
    member: Callable[..., Chat], database: Database, clock: FakeClock
) -> None:
    journey = registered(member, database, clock)
    journey.alice.say("/forget")
    journey.alice.press("やめる")
    assert "削除はしませんでした" in journey.alice.text
    assert found(database, [EXTERNAL_ID, RELAYED])
    journey.alice.say("/forget")
    journey.alice.say("削除")  # words are not the button: nothing is deleted without it
    assert found(database, [EXTERNAL_ID])


def test_a_seat_freed_by_forgetting_goes_to_the_waiting_list(
    member: Callable[..., Chat], database: Database, clock: FakeClock
) -> None:
    journey = registered(member, database, clock)
    carol = member("carol", "板橋区", name="キャロル")
    carol.open_event("12.7大集会")
    carol.press("参加する")
    assert "キャンセル待ち" in carol.text, "the rally is full: carol waits"

    journey.alice.say("/forget")
    journey.alice.press("削除する")

    carol_id = member_id(database, "carol")
    with database.unit_of_work() as uow:
        answer = uow.rsvps.get(occurrence_id(database, RALLY.slug), carol_id)
    assert answer is not None
    assert answer.status.value == "going", "alice's seat went to carol"
