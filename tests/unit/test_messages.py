"""Neutral messages: button payloads, commands, cleaning of what members type."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.messages import (
    MAX_ACTION_BYTES,
    MAX_TEXT_CHARS,
    Action,
    Incoming,
    InvalidAction,
    MemberRef,
    Outgoing,
    clean_text,
)

ALICE = MemberRef("console", "alice")


def test_action_round_trips_through_its_payload() -> None:
    action = Action("region", ("nishitokyo", "settings"))
    assert action.encode() == "1:region:nishitokyo:settings"
    assert Action.decode(action.encode()) == action


@pytest.mark.parametrize(
    "payload", ["", "garbage", "0:menu:help", "2:menu:help", "1:", "1:Bad:x", "1:menu:a b"]
)
def test_foreign_payloads_do_not_decode(payload: str) -> None:
    with pytest.raises(InvalidAction):
        Action.decode(payload)


def test_an_action_that_would_not_fit_telegram_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        Action("region", ("a" * 30, "b" * 30))


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
        lambda s: s[0].isalpha()
    ),
    st.lists(st.from_regex(r"[A-Za-z0-9_\-.]{1,8}", fullmatch=True), max_size=4),
)
def test_every_valid_action_fits_in_callback_data(name: str, args: list[str]) -> None:
    action = Action(name, tuple(args))
    assert len(action.encode().encode()) <= MAX_ACTION_BYTES
    assert Action.decode(action.encode()) == action


@given(st.text(max_size=200))
def test_decoding_any_text_either_works_or_says_invalid(payload: str) -> None:
    with contextlib.suppress(InvalidAction):
        Action.decode(payload)


@pytest.mark.parametrize(
    ("text", "command", "payload"),
    [
        ("/start", "start", ""),
        ("/start ev_rally-1107", "start", "ev_rally-1107"),
        ("/START", "start", ""),
        ("/help@shahokyo_bot", "help", ""),
        ("  /stop  ", "stop", ""),
    ],
)
def test_commands_are_split_from_text(text: str, command: str, payload: str) -> None:
    incoming = Incoming.from_text(ALICE, text)
    assert (incoming.command, incoming.payload, incoming.text) == (command, payload, None)


@pytest.mark.parametrize("text", ["ヘルプ", "1/2 の話", "/ スラッシュ", "//x"])
def test_text_that_is_not_a_command_stays_text(text: str) -> None:
    incoming = Incoming.from_text(ALICE, text)
    assert incoming.command is None
    assert incoming.text == text.strip()


def test_unknown_button_payload_is_kept_raw_for_a_polite_refusal() -> None:
    incoming = Incoming.from_button(ALICE, "nonsense" * 50)
    assert incoming.action is None
    assert incoming.raw_action is not None
    assert len(incoming.raw_action) <= 80


def test_cleaning_drops_control_characters_but_keeps_newlines_and_emoji() -> None:
    assert clean_text("\x00a\x07b\nc\x1b 👨‍👩‍👧 ") == "ab\nc 👨‍👩‍👧"


def test_cleaning_cuts_very_long_text() -> None:
    assert len(clean_text("あ" * 10_000)) == MAX_TEXT_CHARS


def test_outgoing_needs_text() -> None:
    with pytest.raises(ValueError, match="needs text"):
        Outgoing("  ")
