"""The policy of one event: config defaults, then its kind's, then its own; 0 turns off."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.reminders import PolicyBook, decode_overrides, encode_overrides

BOOK = PolicyBook(
    zone=ZoneInfo("Asia/Tokyo"),
    by_kind={"street": {"same_day_before": timedelta(hours=1), "digest": True}},
)


def test_a_kind_overrides_the_defaults_and_an_event_overrides_its_kind() -> None:
    assert BOOK.policy("rally").same_day_before == timedelta(hours=2)
    assert BOOK.policy("street").same_day_before == timedelta(hours=1)
    assert BOOK.policy("street").digest
    own = BOOK.policy("street", {"same_day_before": timedelta(minutes=30), "invite": False})
    assert own.same_day_before == timedelta(minutes=30)
    assert not own.invite
    assert own.digest, "what the event does not say comes from its kind"


def test_a_zero_length_turns_that_reminder_off() -> None:
    off = BOOK.policy("rally", {"same_day_before": timedelta(0), "nudge_before": timedelta(0)})
    assert off.same_day_before is None
    assert off.nudge_before is None
    assert off.day_before_at == time(10, 0)


def test_overrides_survive_the_database_as_json() -> None:
    given = {"same_day_before": timedelta(0), "day_before_at": time(9, 30), "enabled": False}
    stored = encode_overrides(given)
    assert stored == {"same_day_before": 0, "day_before_at": "09:30", "enabled": False}
    assert decode_overrides(stored) == given
    assert BOOK.policy("study", decode_overrides(stored)).same_day_before is None
