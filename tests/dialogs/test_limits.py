"""Hole 10: a member cannot flood the organisers with relays, nor the bot with questions.

The allowances are stored per member, so they hold for a new `Conversation` (a restart, or
another process) on the same database.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from bot.config import Settings
from bot.domain.campaign import Allowance, Limits
from bot.domain.messages import MemberRef
from bot.faq.matcher import FaqEngine
from bot.services.conversation import Conversation
from bot.services.faq import Answers
from bot.store.database import Database
from bot.store.tables import DeliveryRow, RelayRow
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.dialogs.test_registration import register
from tests.fakes.clock import FakeClock

QUESTION = "資格確認書って何？"


def conversation_with(
    settings: Settings, database: Database, clock: FakeClock, engine: FaqEngine, limits: Limits
) -> Conversation:
    return Conversation(
        database.unit_of_work,
        replace(settings.campaign(), limits=limits),
        Catalogues.load(),
        clock,
        Answers(lambda: engine),
    )


def relays(database: Database) -> tuple[int, int]:
    with database.session() as session:
        return (
            int(session.scalar(select(func.count()).select_from(RelayRow)) or 0),
            int(session.scalar(select(func.count()).select_from(DeliveryRow)) or 0),
        )


def test_relays_are_limited_per_member_and_say_when_to_ask_again(
    settings: Settings, database: Database, clock: FakeClock, shipped_engine: FaqEngine
) -> None:
    limits = Limits(
        relays=Allowance(3, timedelta(hours=1)), questions=Allowance(100, timedelta(minutes=1))
    )
    conversation = conversation_with(settings, database, clock, shipped_engine, limits)
    organiser = Chat(
        conversation, MemberRef("console", settings.config.channels.console.organiser_id)
    )
    register(organiser, "都全体")
    alice = Chat(conversation, MemberRef("console", "alice"))
    register(alice, "板橋区")
    opened_at = clock.now()

    for n in range(29):
        alice.say(f"{QUESTION} その{n}")
        alice.press("世話人に聞く")
        clock.advance(timedelta(seconds=1))

    assert relays(database) == (3, 3), "three relays, each to the one organiser"
    assert "12月" not in alice.text  # the 30 November clock: the time is today's
    assert "11月30日(月) 11:00" in alice.text, alice.text
    assert "申し訳ありません" not in alice.text

    # A restart (a new Conversation on the same database) keeps the count.
    again = conversation_with(settings, database, clock, shipped_engine, limits)
    alice = Chat(again, MemberRef("console", "alice"))
    alice.say(QUESTION)
    alice.press("世話人に聞く")
    assert relays(database) == (3, 3)

    clock.advance(opened_at + timedelta(hours=1) - clock.now())
    alice.say(QUESTION)
    alice.press("世話人に聞く")
    assert relays(database) == (4, 4), "questions go again once the hour is over"
    assert "送りました" in alice.text


def test_questions_are_limited_per_member_others_still_answered(
    settings: Settings, database: Database, clock: FakeClock, shipped_engine: FaqEngine
) -> None:
    limits = Limits(questions=Allowance(5, timedelta(minutes=10)))
    conversation = conversation_with(settings, database, clock, shipped_engine, limits)
    alice = Chat(conversation, MemberRef("console", "alice"))
    bob = Chat(conversation, MemberRef("console", "bob"))
    register(alice, "板橋区")
    register(bob, "板橋区")

    for _ in range(5):
        alice.say(QUESTION)
        assert "資格確認書" in alice.text
    alice.say(QUESTION)
    assert "11月30日(月) 10:10" in alice.text
    alice.say("予定")
    assert "11月30日(月) 10:10" not in alice.text, "menu words are not questions"
    bob.say(QUESTION)
    assert "11月30日(月) 10:10" not in bob.text

    clock.advance(timedelta(minutes=10))
    alice.say(QUESTION)
    assert "11月30日(月)" not in alice.text


def test_an_english_member_is_told_in_english(
    settings: Settings, database: Database, clock: FakeClock, shipped_engine: FaqEngine
) -> None:
    limits = Limits(questions=Allowance(1, timedelta(minutes=10)))
    conversation = conversation_with(settings, database, clock, shipped_engine, limits)
    alice = Chat(conversation, MemberRef("console", "alice"))
    register(alice, "板橋区")
    alice.say("settings")
    alice.press("English")
    alice.say(QUESTION)
    alice.say(QUESTION)
    assert "ask again from" in alice.text
