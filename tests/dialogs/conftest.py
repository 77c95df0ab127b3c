from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.config import Settings
from bot.domain.members import Member
from bot.domain.messages import MemberRef
from bot.faq.matcher import FaqEngine
from bot.services.conversation import Conversation
from bot.services.faq import Answers
from bot.store.database import Database
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.fakes.clock import FakeClock


@pytest.fixture
def conversation(
    settings: Settings, database: Database, clock: FakeClock, shipped_engine: FaqEngine
) -> Conversation:
    return Conversation(
        database.unit_of_work,
        settings.campaign(),
        Catalogues.load(),
        clock,
        Answers(lambda: shipped_engine),
    )


@pytest.fixture
def chat(conversation: Conversation) -> Chat:
    return Chat(conversation, MemberRef("console", "alice", display_name="アリス"))


@pytest.fixture
def stored(database: Database) -> Callable[[str], Member]:
    """Read a member back from the database, as a later transaction would see it."""

    def read(external_id: str, channel: str = "console") -> Member:
        with database.unit_of_work() as uow:
            member = uow.members.get(channel, external_id)
        assert member is not None, f"{channel}:{external_id} was not stored"
        return member

    return read
