"""Words work like buttons on the event screens: 「もっと」 for 「もっと見る」, and the same
words under several cards ask which one is meant instead of guessing."""

from __future__ import annotations

from collections.abc import Callable

from tests.dialogs.chat import Chat

Member = Callable[..., Chat]


def test_a_common_way_of_saying_a_label_presses_it(member: Member) -> None:
    alice = member("alice", "豊島区", "板橋区")
    alice.say("予定")
    assert "もっと見る" in alice.labels()
    first = alice.text

    alice.say("もっと")

    assert alice.text != first
    assert "12月14日" in alice.text, "the next page of events"


def test_the_same_words_under_several_cards_ask_which(member: Member) -> None:
    alice = member("alice", "豊島区")
    alice.say("予定")
    assert alice.labels().count("参加する") > 1
    alice.say("参加する")
    assert "同じ言葉のボタンがいくつかあります" in alice.text
