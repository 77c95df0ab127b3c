"""Issue 9, hole 5: an update python-telegram-bot cannot parse is skipped, logged once, no text."""

from __future__ import annotations

import logging

import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import RunningBot
from tests.telegram.test_journey import HANAKO, reply_to

SECRET = "秘密の相談内容"


def unreadable(chat_id: int) -> dict[str, object]:
    """A message whose entity lacks offset and length: PTB's Update.de_json raises on it."""
    return {
        "update_id": 0,
        "message": {
            "message_id": 77,
            "date": 0,
            "chat": {"id": chat_id, "type": "private", "first_name": "x"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "x"},
            "text": SECRET,
            "entities": [{"type": "bold"}],
        },
    }


@pytest.mark.parametrize("last", [True, False], ids=["alone", "followed"])
async def test_an_unreadable_update_is_skipped_and_later_ones_answered(
    running: RunningBot, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, last: bool
) -> None:
    caplog.set_level(logging.INFO)  # DEBUG dumps every call, by choice
    fake.add_user(HANAKO, "花子")
    fake.add_user(HANAKO + 1, "次郎")
    bad = fake.push_update(unreadable(HANAKO))
    if last:  # the bad update is the whole batch: only the next poll's offset can confirm it
        await fake.until(lambda: fake.updates_pending() == 0 and fake.waiting_pollers > 0)
    welcome, _ = await reply_to(fake, HANAKO + 1, lambda: fake.send_text(HANAKO + 1, "/start"), 2)
    assert "東京社保協" in welcome.text
    # Confirmed: a getUpdates offset moved past it (the fake keeps unconfirmed updates pending).
    await fake.until(lambda: fake.updates_pending() == 0, description="every update confirmed")
    polls = len(fake.requests("getUpdates"))
    assert polls < 20, f"polling did not spin on the bad update ({polls} polls)"

    skipped = [r for r in caplog.records if "cannot read" in r.getMessage()]
    assert len(skipped) == 1, "logged once"
    assert str(bad) in skipped[0].getMessage()
    assert all(SECRET not in r.getMessage() for r in caplog.records), "no member text in the log"
    assert all(r.levelno < logging.ERROR for r in caplog.records)
    assert fake.messages(HANAKO) == [], "nothing answered to what could not be read"
