"""Issue 9, hole 8: what Telegram refuses after the core committed is partial, never a failure.

The member's change is stored before anything is sent, so an apology would be wrong: a message
that can no longer be edited is sent anew, and a part Telegram refuses is skipped and logged
while the other parts still arrive.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.store.tables import RsvpRow
from tests.events.conftest import CALENDAR
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import RunningBot
from tests.telegram.test_journey import HANAKO, register, reply_to, stored
from tests.telegram.test_rsvp import card_of

APOLOGY = "申し訳ありません"


async def test_a_button_on_a_message_that_cannot_be_edited_gets_a_new_message(
    running: RunningBot, fake: FakeTelegram
) -> None:
    fake.add_user(HANAKO, "花子")
    _, consent = await reply_to(fake, HANAKO, lambda: fake.send_text(HANAKO, "/start"), 2)
    fake.refuse_next("Bad Request: message can't be edited", methods="editMessageText")

    thanks, picker = await reply_to(
        fake,
        HANAKO,
        lambda: fake.press_button(HANAKO, consent.message_id, label="はい、受け取ります"),
        2,
    )
    assert thanks.text.startswith("ありがとうございます"), "the edit came as a new message"
    assert "地域を選んでください" in picker.text
    assert fake.message(HANAKO, consent.message_id).edits == []
    assert all(APOLOGY not in m.text for m in fake.messages(HANAKO))
    assert stored(running, HANAKO).consent_at is not None, "the committed change stands"


async def test_a_refused_part_of_a_reply_is_logged_as_partial_and_the_rest_arrives(
    running: RunningBot, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    running.app.calendar_sync.sync(CALENDAR)
    await register(fake, HANAKO)
    rally = await card_of(fake, HANAKO, "12.7大集会")
    (question,) = await reply_to(
        fake, HANAKO, lambda: fake.press_button(HANAKO, rally, label="参加する")
    )
    fake.press_button(HANAKO, question.message_id, label="1人")
    await fake.until(lambda: "受け付けました" in fake.message(HANAKO, question.message_id).text)
    fake.refuse_next("Bad Request: file must be non-empty", methods="sendDocument")

    (text,) = await reply_to(
        fake,
        HANAKO,
        lambda: fake.press_button(HANAKO, question.message_id, label="カレンダーに追加"),
    )
    await fake.until(lambda: any("delivered in part" in r.getMessage() for r in caplog.records))

    assert "カレンダーに入れるファイルです" in text.text, "the text arrives without its file"
    assert all(APOLOGY not in m.text for m in fake.messages(HANAKO))
    partial = [r for r in caplog.records if "delivered in part" in r.getMessage()]
    assert len(partial) == 1
    assert "1 of 1 parts" in partial[0].getMessage()
    assert all(r.levelno < logging.ERROR for r in caplog.records), "not logged as a failure"
    with running.database.session() as session:
        assert [(r.status, r.guests) for r in session.scalars(select(RsvpRow))] == [("going", 1)]
