"""The member repository on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain.members import Member, Role, Subscription
from bot.store.database import Database
from bot.store.tables import AuditRow, MemberRow

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=TOKYO)


def new_member(external_id: str = "42", channel: str = "telegram") -> Member:
    return Member(channel=channel, external_id=external_id, created_at=NOW, last_seen_at=NOW)


def test_register_creates_once_and_then_finds(database: Database) -> None:
    with database.unit_of_work() as uow:
        first, created = uow.members.register(new_member())
        again, created_again = uow.members.register(new_member())
        uow.commit()
    assert created is True
    assert created_again is False
    assert first.id == again.id


def test_same_id_on_two_channels_is_two_members(database: Database) -> None:
    with database.unit_of_work() as uow:
        a, _ = uow.members.register(new_member("42", "telegram"))
        b, _ = uow.members.register(new_member("42", "line"))
        uow.commit()
    assert a.id != b.id


def test_every_field_round_trips(database: Database) -> None:
    later = NOW + timedelta(days=2)
    with database.unit_of_work() as uow:
        member, _ = uow.members.register(new_member())
        member.display_name = "山田 花子"
        member.language = "en"
        member.role = Role.ORGANISER
        member.regions = {"itabashi", "tokyo"}
        member.subscribe(later)
        member.mark_unreachable(later, "Forbidden: bot was blocked by the user")
        uow.members.save(member)
        uow.commit()

    with database.unit_of_work() as uow:
        loaded = uow.members.get("telegram", "42")
    assert loaded is not None
    assert loaded.display_name == "山田 花子"
    assert loaded.language == "en"
    assert loaded.role is Role.ORGANISER
    assert loaded.regions == {"itabashi", "tokyo"}
    assert loaded.subscription is Subscription.SUBSCRIBED
    assert loaded.consent_at == later
    assert loaded.consent_at.tzinfo is not None
    assert loaded.unreachable_reason == "Forbidden: bot was blocked by the user"
    assert loaded.created_at == NOW


def test_times_come_back_aware_and_equal_whatever_zone_went_in(database: Database) -> None:
    with database.unit_of_work() as uow:
        member, _ = uow.members.register(new_member())
        uow.commit()
    assert member.created_at == NOW
    assert member.created_at.utcoffset() == timedelta(0)
    assert member.created_at == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def test_naive_times_are_refused(database: Database) -> None:
    naive = datetime(2026, 11, 30, 9, 0)  # noqa: DTZ001 - the point of the test
    with database.unit_of_work() as uow, pytest.raises(Exception, match="naive"):
        uow.members.register(
            Member(channel="telegram", external_id="1", created_at=naive, last_seen_at=naive)
        )


def test_nothing_is_kept_without_commit(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.members.register(new_member())
    with database.unit_of_work() as uow:
        assert uow.members.get("telegram", "42") is None


def test_region_changes_replace_the_stored_set(database: Database) -> None:
    with database.unit_of_work() as uow:
        member, _ = uow.members.register(new_member())
        member.regions = {"itabashi", "shibuya"}
        uow.members.save(member)
        uow.commit()
    with database.unit_of_work() as uow:
        member = uow.members.get("telegram", "42")
        assert member is not None
        member.regions = {"shibuya", "nerima"}
        uow.members.save(member)
        uow.commit()
    with database.unit_of_work() as uow:
        reloaded = uow.members.get("telegram", "42")
    assert reloaded is not None
    assert reloaded.regions == {"shibuya", "nerima"}


def test_stats_count_states_and_regions(database: Database) -> None:
    with database.unit_of_work() as uow:
        for index, (state, regions) in enumerate(
            [
                (Subscription.SUBSCRIBED, {"itabashi"}),
                (Subscription.SUBSCRIBED, {"itabashi", "tokyo"}),
                (Subscription.UNSUBSCRIBED, {"itabashi"}),
                (Subscription.PENDING, set()),
            ]
        ):
            member, _ = uow.members.register(new_member(str(index)))
            member.subscription = state
            member.regions = regions
            uow.members.save(member)
        blocked, _ = uow.members.register(new_member("blocked"))
        blocked.subscribe(NOW)
        blocked.regions = {"itabashi"}
        blocked.mark_unreachable(NOW, "blocked")
        uow.members.save(blocked)
        uow.commit()

    with database.unit_of_work() as uow:
        stats = uow.members.stats()
    assert (stats.total, stats.subscribed, stats.pending, stats.unsubscribed) == (5, 2, 1, 1)
    assert stats.unreachable == 1
    assert dict(stats.subscribed_by_region) == {"itabashi": 2, "tokyo": 1}


def test_audit_log_records_actor_and_detail(database: Database) -> None:
    with database.unit_of_work() as uow:
        member, _ = uow.members.register(new_member())
        uow.audit.record(member, "broadcast.sent", {"recipients": 12}, NOW)
        uow.audit.record(None, "schedules.reload", {"files": 3}, NOW)
        uow.commit()
    with database.session() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id)).all()
    assert [(r.actor_label, r.action, r.detail) for r in rows] == [
        ("telegram:42", "broadcast.sent", {"recipients": 12}),
        ("cli", "schedules.reload", {"files": 3}),
    ]
    assert rows[0].actor_member_id == member.id


def test_deleting_a_member_removes_their_regions(database: Database) -> None:
    with database.unit_of_work() as uow:
        member, _ = uow.members.register(new_member())
        member.regions = {"itabashi"}
        uow.members.save(member)
        uow.commit()
    with database.session() as session:
        row = session.scalars(select(MemberRow)).one()
        session.delete(row)
        session.commit()
    with database.unit_of_work() as uow:
        assert uow.members.stats().subscribed_by_region == {}
