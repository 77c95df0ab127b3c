"""A member who left traces in every table that can refer to a member, and the scan that
looks for them: every column of every table of the schema, so a table added later is searched
without a change here."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.domain.deliveries import message_payload
from bot.domain.members import Member
from bot.domain.messages import Outgoing
from bot.domain.ports import OrganiserEntry
from bot.store.database import Database
from bot.store.tables import Base, BroadcastRow, MemberTagRow
from tests.dialogs.chat import Chat
from tests.fakes.clock import FakeClock

EXTERNAL_ID = "alice-4242x"
NAME = "試験花子"
RELAYED = "うちの猫ミケ太郎の予防接種はどこですか"
"""A question she sends to the organisers: text she wrote."""
BROADCAST = "ひまわり班の連絡です"
"""Text she wrote as an organiser's broadcast (kept: members received it)."""


@dataclass
class Journey:
    alice: Chat
    organiser: Chat
    bob: Chat

    @property
    def identifying(self) -> list[str]:
        """What must be found nowhere once she is forgotten."""
        return [EXTERNAL_ID, f"console:{EXTERNAL_ID}", NAME, RELAYED]


def registered(member: Callable[..., Chat], database: Database, clock: FakeClock) -> Journey:
    """Alice, a member who answered events, asked, sent a question to the organisers, was
    given a tag, wrote a broadcast as an organiser and has notices waiting; Bob, another
    member; an organiser who answered her question."""
    with database.unit_of_work() as uow:
        uow.organisers.add(OrganiserEntry("console", "org-1", "", "cli", clock.now()))
        uow.commit()
    organiser = member("org-1", "板橋区", name="世話人太郎")
    alice = member(EXTERNAL_ID, "板橋区", name=NAME)
    bob = member("bob-1", "板橋区", name="ボブ")
    for chat, guests in ((bob, "ひとりで行く"), (alice, "1人")):
        chat.open_event("12.7大集会")  # capacity 3: both fit
        chat.press("参加する")
        chat.press(guests)
        chat.open_event("学習会")
        chat.press("参加する")
        chat.press("ひとりで行く")
    alice.say(RELAYED)
    alice.press("世話人に聞く")
    alice.say(f"{NAME}です。保険証はいつまで使えますか。電話は090-1234-5678です")
    organiser.say("/start")  # the organiser reads the relay and answers it
    with database.unit_of_work() as uow:
        stored = uow.members.get("console", EXTERNAL_ID)
        assert stored is not None
        assert stored.id is not None
        relay_id = max(
            row.id
            for row in uow.session.execute(select(Base.metadata.tables["relays"]))
            if row.member_id == stored.id
        )
        boss = uow.members.get("console", "org-1")
        assert boss is not None
        uow.relays.answer(relay_id, boss, f"{NAME}さん、窓口で聞けます", clock.now())
        uow.outbox.enqueue(
            "broadcast", "broadcast:test", stored, message_payload(Outgoing("x")), clock.now()
        )
        uow.session.add(MemberTagRow(member_id=stored.id, tag="看護師"))
        uow.session.add(
            BroadcastRow(
                author_member_id=stored.id,
                author_label=f"console:{EXTERNAL_ID} {NAME}",
                audience={"everyone": True},
                text=BROADCAST,
                status="sent",
                created_at=clock.now(),
                send_at=clock.now(),
            )
        )
        uow.audit.record(stored, "broadcast", {"by": f"console:{EXTERNAL_ID}"}, clock.now())
        uow.commit()
    return Journey(alice, organiser, bob)


def member_id(database: Database, external_id: str = EXTERNAL_ID) -> int:
    with database.unit_of_work() as uow:
        found = uow.members.get("console", external_id)
    assert found is not None
    assert found.id is not None
    return found.id


def every_value(database: Database) -> Iterator[tuple[str, str, str]]:
    """(table, column, value as text) of every column of every row of every table."""
    with database.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                for column, value in row.items():
                    yield table.name, column, _text(value)


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def found(database: Database, needles: list[str]) -> list[tuple[str, str, str]]:
    """Where any of `needles` is stored: (table, column, needle)."""
    return [
        (table, column, needle)
        for table, column, text in every_value(database)
        for needle in needles
        if needle in text
    ]


__all__ = ["Journey", "Member", "every_value", "found", "member_id", "registered"]
