"""How many come along: only the numbers that still fit are offered, none when no seat is left
for a guest, and a choice overtaken by others is asked again once, never in a loop.

The rally takes 3 people (capacity 3); the study meeting has no limit.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from bot.store.database import Database
from bot.store.tables import MemberRow, RsvpRow
from tests.dialogs.chat import Chat

Member = Callable[..., Chat]
RALLY = "12.7大集会"


def answer_of(database: Database, external_id: str) -> tuple[str, int] | None:
    with database.session() as session:
        row = session.execute(
            select(RsvpRow.status, RsvpRow.guests)
            .join(MemberRow, MemberRow.id == RsvpRow.member_id)
            .where(MemberRow.external_id == external_id)
        ).first()
    return (row.status, row.guests) if row else None


def going(chat: Chat, guests: str | None = None, title: str = RALLY) -> None:
    """参加する on the card, and a guest choice when one is given."""
    chat.open_event(title)
    chat.press("参加する")
    if guests is not None:
        chat.press(guests)


def guest_labels(chat: Chat) -> list[str]:
    question = chat.reply_with("何人ですか")
    return [b.label for b in question.all_buttons()]


def test_two_seats_left_offer_going_alone_and_one_guest_only(
    member: Member, database: Database
) -> None:
    alice, bob = member("alice", "板橋区"), member("bob", "板橋区")
    going(alice, "ひとりで行く")

    going(bob)  # 2 seats left; bob takes one

    assert guest_labels(bob) == ["ひとりで行く", "1人"]
    assert "席の残りが少ないため、1人までです。" in bob.text
    bob.press("1人")
    assert answer_of(database, "bob") == ("going", 1), "every choice shown is taken"


def test_no_seat_left_for_a_guest_means_no_guest_question(
    member: Member, database: Database
) -> None:
    alice, bob = member("alice", "板橋区"), member("bob", "板橋区")
    going(alice, "1人")  # 2 of 3 seats

    going(bob)  # the last seat

    assert "何人" not in bob.text
    card, confirmation = bob.replies
    assert "あなたの返事: 参加" in card.text
    assert confirmation.text == (
        "席の残りがないため、同行の方はお受けできません。\n"
        "12月7日(月)の「保険証を残せ 12.7大集会」に参加で受け付けました。"
    )
    assert [b.label for b in confirmation.all_buttons()] == ["カレンダーに追加"]
    assert answer_of(database, "bob") == ("going", 0)


def test_seats_taken_meanwhile_the_question_comes_again_with_what_fits(
    member: Member, database: Database
) -> None:
    alice, bob = member("alice", "板橋区"), member("bob", "板橋区")
    going(alice)
    assert guest_labels(alice) == ["ひとりで行く", "1人", "2人"]
    two = alice.button("2人")
    going(bob, "ひとりで行く")  # now one seat is left: one guest for alice at most

    alice.press_raw(two.action.encode())  # the question still on her screen

    (again,) = alice.replies
    assert again.replace, "the old question is replaced, not repeated below it"
    assert again.text.startswith("ほかの方の申し込みで、席の残りが減りました。")
    assert [b.label for b in again.all_buttons()] == ["ひとりで行く", "1人"]
    assert answer_of(database, "alice") == ("going", 0), "nothing refused was stored"
    alice.press("1人")
    assert "同行の方1人と参加で受け付けました" in alice.text
    assert "何人" not in alice.text, "no loop"
    assert answer_of(database, "alice") == ("going", 1)


def test_the_last_seat_taken_meanwhile_keeps_the_answer_without_asking_again(
    member: Member, database: Database
) -> None:
    alice, bob, chie = (member(n, "板橋区") for n in ("alice", "bob", "chie"))
    going(alice)
    one = alice.button("1人")
    going(bob, "ひとりで行く")
    going(chie)  # 3 of 3: no seat for a guest of alice's

    alice.press_raw(one.action.encode())

    (told,) = alice.replies
    assert told.replace
    assert told.text.startswith("席の残りがないため、同行の方はお受けできません。")
    assert "に参加で受け付けました" in told.text
    assert [b.label for b in told.all_buttons()] == ["カレンダーに追加"]
    assert answer_of(database, "alice") == ("going", 0)


def test_without_a_capacity_up_to_four_guests_are_offered(member: Member) -> None:
    alice = member("alice", "板橋区")
    going(alice, title="学習会")
    assert guest_labels(alice) == ["ひとりで行く", "1人", "2人", "3人", "4人"]
    assert "までです" not in alice.text


def test_the_waiting_list_is_not_asked_about_guests(member: Member, database: Database) -> None:
    alice, bob = member("alice", "板橋区"), member("bob", "板橋区")
    going(alice, "2人")  # 3 of 3

    going(bob)

    assert "キャンセル待ちで受け付けました" in bob.text
    assert "何人" not in bob.text
    assert "あなたの返事: キャンセル待ち" in bob.replies[0].text
    assert answer_of(database, "bob") == ("waitlist", 0)


def test_changing_the_number_of_guests_counts_ones_own_seats_as_free(
    member: Member, database: Database
) -> None:
    alice = member("alice", "板橋区")
    going(alice, "2人")  # full, with her own guests

    going(alice)  # 参加する again, to change the number

    card = alice.replies[0]
    assert "あなたの返事: 参加" in card.text
    assert "同行" not in card.text, "not the number about to change"
    assert guest_labels(alice) == ["ひとりで行く", "1人", "2人"]
    alice.press("ひとりで行く")
    assert "に参加で受け付けました" in alice.text
    assert answer_of(database, "alice") == ("going", 0)
