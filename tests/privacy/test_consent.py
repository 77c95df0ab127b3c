"""Consent: when and to which welcome text; a new text is asked again at the next message,
before anything else, and nothing is pushed to the member until they answer it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.domain.deliveries import REPLY, Audience, message_payload
from bot.domain.members import PRIVACY_VERSION
from bot.domain.messages import Outgoing
from bot.domain.privacy import SKIP_CONSENT_OUTDATED, consent_skip
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.tables import DeliveryRow, MemberRow
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.fakes.clock import FakeClock

# The welcome text's fingerprint at PRIVACY_VERSION. When the text changes, change the
# version too (every member is then asked again), and the fingerprint here.
FINGERPRINT = {
    "2026-12": "04b212906e57e63a",
}


def fingerprint() -> str:
    catalogues = Catalogues.load()
    words = "\n".join(catalogues[language]("welcome.privacy") for language in ("ja", "en"))
    return hashlib.sha256(words.encode()).hexdigest()[:16]


def test_the_welcome_text_changes_only_with_its_version() -> None:
    assert FINGERPRINT.get(PRIVACY_VERSION) == fingerprint(), (
        "welcome.privacy changed: change PRIVACY_VERSION (bot/domain/members.py) with it, so "
        "members are asked again, and its fingerprint here"
    )


def test_the_welcome_says_what_is_kept() -> None:
    text = Catalogues.load()["ja"]("welcome.privacy")
    for kept in (
        "お名前",
        "番号",
        "地域",
        "お返事",
        "最後の質問",
        "世話人に送った質問",
        "お知らせ",
    ):
        assert kept in text, kept
    assert "登録情報" in text, "and where to see it"


def stored_consent(database: Database, external_id: str) -> tuple[object, str | None]:
    with database.session() as session:
        row = session.scalars(select(MemberRow).where(MemberRow.external_id == external_id)).one()
        return row.consent_at, row.consent_version


def test_consent_time_and_version_are_stored(
    member: Callable[..., Chat], database: Database, clock: FakeClock
) -> None:
    member("alice", "板橋区")
    assert stored_consent(database, "alice") == (clock.now(), PRIVACY_VERSION)


def test_a_new_text_is_asked_again_before_anything_else(
    member: Callable[..., Chat],
    database: Database,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = member("alice", "板橋区")
    for module in ("bot.domain.members", "bot.domain.privacy", "bot.store.outbox"):
        monkeypatch.setattr(f"{module}.PRIVACY_VERSION", "2099-01")

    alice.say("予定")
    assert "記録することの説明が新しくなりました" in alice.text
    assert "【記録すること】" in alice.text
    assert "これからの予定です。" not in alice.text
    assert alice.labels() == ["はい、受け取ります", "いいえ、受け取りません"]
    alice.say("通知設定")
    assert "説明が新しくなりました" in alice.text, "asked until answered"
    alice.say("登録情報")
    assert "【あなたの登録情報】" in alice.text, "she may still see (and delete) her data"

    clock.advance(timedelta(minutes=5))
    alice.say("/start")
    alice.press("いいえ、受け取りません")
    assert stored_consent(database, "alice") == (clock.now(), "2099-01"), "either answer counts"
    alice.say("予定")
    assert "これからの予定です。" in alice.text


def test_no_notice_goes_to_a_member_who_has_not_answered_the_new_text() -> None:
    assert consent_skip("broadcast", "member", "2025-01") == SKIP_CONSENT_OUTDATED
    assert consent_skip("reminder", "member", "0") == SKIP_CONSENT_OUTDATED, "before versions"
    assert consent_skip("broadcast", "member", PRIVACY_VERSION) is None
    assert consent_skip(REPLY, "member", "2025-01") is None, "a reply to what they just wrote"
    assert consent_skip("relay_answer", "member", None) is None, "an answer they asked for"
    assert consent_skip("broadcast", "organiser", None) is None, "organisers' work"


def test_the_dispatcher_skips_notices_until_the_new_text_is_answered(
    member: Callable[..., Chat],
    database: Database,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member("alice", "板橋区")
    with database.unit_of_work() as uow:
        stored = uow.members.get("console", "alice")
        assert stored is not None
        uow.outbox.enqueue("broadcast", "b:1", stored, message_payload(Outgoing("x")), clock.now())
        uow.outbox.enqueue(
            "relay_answer", "r:1", stored, message_payload(Outgoing("y")), clock.now()
        )
        uow.commit()
    for module in ("bot.domain.members", "bot.domain.privacy", "bot.store.outbox"):
        monkeypatch.setattr(f"{module}.PRIVACY_VERSION", "2099-01")

    claimed = SqlDeliveryQueue(database.sessions).claim(clock.now(), 10, timedelta(minutes=1))

    assert [c.purpose for c in claimed] == ["relay_answer"]
    with database.session() as session:
        skipped = session.scalars(select(DeliveryRow).where(DeliveryRow.reference == "b:1")).one()
    assert (skipped.state, skipped.skip_reason) == ("skipped", SKIP_CONSENT_OUTDATED)


def test_broadcasts_leave_out_members_who_have_not_answered_the_new_text(
    member: Callable[..., Chat],
    database: Database,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member("alice", "板橋区")
    member("bob", "板橋区")
    with database.session() as session:
        session.execute(
            MemberRow.__table__.update()  # type: ignore[attr-defined]
            .where(MemberRow.external_id == "bob")
            .values(consent_version="2020-01")
        )
        session.commit()
    with database.unit_of_work() as uow:
        queued = uow.outbox.enqueue_audience(
            "broadcast", "b:1", Audience(everyone=True), message_payload(Outgoing("x")), clock.now()
        )
        uow.commit()
    assert queued == 1
    with database.session() as session:
        (row,) = session.scalars(select(DeliveryRow)).all()
        bob = session.scalars(select(MemberRow).where(MemberRow.external_id == "bob")).one()
        assert row.member_id != bob.id


def test_members_stored_before_versions_are_asked_again(tmp_path: Path) -> None:
    """Migration 0010: members who answered the welcome before it had a version get "0",
    so they see the new text first; someone who never answered stays as they were."""
    database = Database(f"sqlite:///{tmp_path / 'in-use.sqlite3'}")
    try:
        database.upgrade("0009")
        with database.engine.begin() as connection:
            for number, state in ((1, "subscribed"), (2, "unsubscribed"), (3, "pending")):
                connection.execute(
                    text(
                        "INSERT INTO members (id, channel, external_id, language, role,"
                        " subscription, created_at, last_seen_at) VALUES (:id, 'telegram',"
                        " :id, 'ja', 'member', :state, '2026-11-01', '2026-11-01')"
                    ),
                    {"id": number, "state": state},
                )
        database.upgrade()
        with database.unit_of_work() as uow:
            found = [uow.members.get("telegram", str(number)) for number in (1, 2, 3)]
    finally:
        database.dispose()
    assert [m.consent_version if m else "missing" for m in found] == ["0", "0", None]
    assert [m.consent_outdated if m else None for m in found] == [True, True, False]
