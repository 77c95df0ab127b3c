"""How an announcement is cut into messages, whom it targets, and the times organisers type."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.broadcasts import (
    Target,
    TargetError,
    delivery_time,
    parse_when,
    split_for_sending,
)
from bot.domain.events import RsvpStatus

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO)


@given(st.text(min_size=1, max_size=3000), st.integers(min_value=20, max_value=500))
def test_parts_fit_the_limit_and_lose_or_repeat_nothing(text: str, limit: int) -> None:
    parts = split_for_sending(text, limit)
    assert all(0 < len(part) <= limit for part in parts)
    squeeze = "".join("".join(part.split()) for part in parts)
    assert squeeze == "".join(text.split()), "every character but whitespace, in order"


def test_a_long_announcement_is_cut_after_a_sentence() -> None:
    text = "保険証を残せ。" * 700  # 4,900 characters
    first, second = split_for_sending(text, 4000)
    assert first.endswith("。")
    assert first + second == text


def test_a_paragraph_break_is_preferred_to_a_sentence_end() -> None:
    text = "一文目です。" * 400 + "\n\n" + "二段落目です。" * 400  # 2,400 + 2 + 2,800
    first, *_ = split_for_sending(text, 4000)
    assert first == ("一文目です。" * 400)


def test_a_short_announcement_is_one_message() -> None:
    assert split_for_sending("  明日は集会です。 ") == ["明日は集会です。"]


@pytest.mark.parametrize(
    ("written", "target"),
    [
        ("all", Target()),
        ("region:toshima", Target(region="toshima")),
        ("event:12:going", Target(occurrence_id=12, answers=frozenset({RsvpStatus.GOING}))),
        (
            "event:12:going,maybe",
            Target(occurrence_id=12, answers=frozenset({RsvpStatus.GOING, RsvpStatus.MAYBE})),
        ),
    ],
)
def test_targets_read_as_written_and_write_back_the_same(written: str, target: Target) -> None:
    assert Target.parse(written) == target
    assert Target.parse(target.encode()) == target


@pytest.mark.parametrize(
    "written", ["", "everyone", "region:", "region:豊島", "event:x:going", "event:3:yes"]
)
def test_a_target_that_names_nobody_is_refused_with_the_forms_to_use(written: str) -> None:
    with pytest.raises(TargetError, match="region:CODE"):
        Target.parse(written)


@pytest.mark.parametrize(
    ("written", "moment"),
    [
        ("12/3 9:00", "2026-12-03T09:00"),
        ("12月3日 9時", "2026-12-03T09:00"),
        ("12月3日(木) 9時30分", "2026-12-03T09:30"),
        ("１２／３　１８：００", "2026-12-03T18:00"),
        ("2026-12-03 09:00", "2026-12-03T09:00"),
        ("2027年1月5日 10時", "2027-01-05T10:00"),
        ("1/5 10:00", "2027-01-05T10:00"),
        ("11/29 9:00", "2026-11-29T09:00"),  # passed: said so, not moved a year on
    ],
)
def test_times_are_read_as_organisers_type_them(written: str, moment: str) -> None:
    assert parse_when(written, NOW, TOKYO) == datetime.fromisoformat(moment).replace(tzinfo=TOKYO)


@pytest.mark.parametrize("written", ["12/3", "あした", "12/3 25:00", "2/30 9:00", "3人で12時", ""])
def test_what_is_not_a_time_is_not_guessed(written: str) -> None:
    assert parse_when(written, NOW, TOKYO) is None


def test_the_time_to_deliver_follows_the_rate() -> None:
    assert delivery_time(3_400, 25.0) == timedelta(seconds=136)
    assert delivery_time(1, 25.0) == timedelta(seconds=1)
    assert delivery_time(0, 25.0) == timedelta(0)
