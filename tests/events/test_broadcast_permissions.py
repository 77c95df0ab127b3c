"""Only organisers broadcast, list, cancel or call events off; the role counts at every use.

A plain member is refused by typing the menu word, by the slash command, by a forged button
and by an organiser's real button replayed; each refusal is in the audit log and changes
nothing. An organiser removed from the list loses it at their next press, with their open
dialogs, and relayed questions stop reaching them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from bot.domain.broadcasts import Target
from bot.domain.deliveries import RELAY_QUESTION, SKIP_NOT_ORGANISER, Skip
from bot.services import broadcasts, roles
from bot.services.broadcasts import Draft, NotAnOrganiser
from bot.services.conversation import Conversation
from bot.store.database import Database
from bot.store.tables import AuditRow, BroadcastRow, DeliveryRow, DialogRow, MemberRow
from tests.dialogs.chat import Chat
from tests.events.conftest import occurrence_id
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered

Member = Callable[..., Chat]
REFUSED = "これは世話人だけが使えます"


def count(database: Database, table: type) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def refusals(database: Database) -> list[str]:
    with database.session() as session:
        return [
            row.detail["action"]
            for row in session.scalars(select(AuditRow).where(AuditRow.action == "refused"))
        ]


def called_off(database: Database, slug: str) -> bool:
    with database.unit_of_work() as uow:
        found = uow.calendar.occurrence(occurrence_id(database, slug))
    assert found is not None
    return found.called_off is not None


@pytest.mark.parametrize("word", ["一斉送信", "送信一覧", "中止連絡"])
def test_a_member_typing_an_organisers_word_gets_the_ordinary_menu(
    member: Member, database: Database, word: str
) -> None:
    alice = member("alice", "豊島区")
    alice.say(word)
    assert REFUSED in alice.text
    assert "一斉送信" not in [b.label for r in alice.replies for b in r.all_buttons()]
    assert refusals(database) == [word_intent(word)]
    assert count(database, DialogRow) == 0


def word_intent(word: str) -> str:
    return {"一斉送信": "broadcast", "送信一覧": "broadcasts", "中止連絡": "call_off"}[word]


@pytest.mark.parametrize("command", ["/broadcast", "/broadcasts", "/calloff"])
def test_a_member_sending_an_organisers_command_is_refused(
    member: Member, database: Database, command: str
) -> None:
    alice = member("alice", "豊島区")
    alice.say(command)
    assert REFUSED in alice.text
    assert len(refusals(database)) == 1
    assert count(database, DialogRow) == 0


FORGED = [
    "bc_to:abc123:all",
    "bc_region:abc123:toshima",
    "bc_answers:abc123:going",
    "bc_urgent:abc123",
    "bc_when:abc123",
    "bc_send:abc123",
    "bc_confirm:abc123",
    "bc_quit:abc123",
    "bc_stop:1",
    "bc_stop_yes:1",
    "co_reason:abc123:rain",
    "co_send:abc123",
]


@pytest.mark.parametrize("payload", FORGED)
def test_a_member_pressing_a_forged_organiser_button_is_refused(
    member: Member, database: Database, payload: str
) -> None:
    alice = member("alice", "豊島区")
    alice.press_raw(f"1:{payload}")
    assert REFUSED in alice.text
    assert refusals(database) == [payload.split(":")[0]]
    assert count(database, BroadcastRow) == 0


@pytest.mark.parametrize("name", ["co_pick", "co_undo", "co_undo_yes", "bc_event", "bc_card_pick"])
def test_a_member_pressing_a_forged_event_button_is_refused(
    member: Member, database: Database, name: str
) -> None:
    alice = member("alice", "豊島区")
    rally = occurrence_id(database, "rally-1207")
    args = [str(rally)] if name.startswith("co_undo") else ["abc123", str(rally)]
    alice.press_raw(":".join(["1", name, *args]))
    assert REFUSED in alice.text
    assert refusals(database) == [name]
    assert not called_off(database, "rally-1207")


def test_an_organisers_real_buttons_replayed_by_a_member_do_nothing(
    member: Member, database: Database
) -> None:
    member("t1", "豊島区")
    alice = member("alice", "豊島区")
    organiser = member("console-organiser", "都全体")
    organiser.say("一斉送信")
    everyone = organiser.button("全員")
    organiser.press("全員")
    organiser.say("お知らせです")
    send = organiser.button("送信する")

    for button in (everyone, send):
        alice.press_raw(button.action.encode())
        assert REFUSED in alice.text
    assert count(database, BroadcastRow) == 0

    organiser.press("送信する")
    assert count(database, BroadcastRow) == 1
    organiser.press_raw(send.action.encode())  # the organiser's own, again: the dialog is over
    assert "このボタンはもう使えません" in organiser.text
    assert count(database, BroadcastRow) == 1, "sent once"


def test_a_member_cannot_stop_a_running_broadcast_or_take_a_rain_call_back(
    member: Member, database: Database, clock: FakeClock
) -> None:
    member("t1", "豊島区")
    alice = member("alice", "豊島区")
    organiser = member("console-organiser", "都全体")
    organiser.say("送信一覧")
    with database.unit_of_work() as uow:
        sent = broadcasts.send(uow, Draft(Target(), "お知らせ"), None, "cli", clock.now())
        rally = uow.calendar.occurrence(occurrence_id(database, "rally-1207"))
        assert rally is not None
        broadcasts.call_off(uow, rally, "雨天のため", None, "cli", clock.now())
        uow.commit()

    for payload in (f"1:bc_stop_yes:{sent.id}", f"1:co_undo_yes:{rally.id}"):
        alice.press_raw(payload)
        assert REFUSED in alice.text
    with database.session() as session:
        assert session.scalar(select(BroadcastRow.status)) == "sending"
    assert called_off(database, "rally-1207")


def test_the_use_cases_check_the_role_themselves(
    member: Member, database: Database, clock: FakeClock
) -> None:
    alice = member("alice", "豊島区")
    with database.unit_of_work() as uow:
        plain = uow.members.get("console", alice.member.external_id)
        rally = uow.calendar.occurrence(occurrence_id(database, "rally-1207"))
        assert plain is not None
        assert rally is not None
        with pytest.raises(NotAnOrganiser):
            broadcasts.send(uow, Draft(Target(), "x"), plain, "alice", clock.now())
        with pytest.raises(NotAnOrganiser):
            broadcasts.call_off(uow, rally, "雨", plain, "alice", clock.now())
        with pytest.raises(NotAnOrganiser):
            broadcasts.cancel(uow, 1, plain, clock.now())
    assert count(database, BroadcastRow) == 0


def test_an_organiser_removed_mid_dialog_is_refused_at_the_next_press_and_loses_the_dialog(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    campaign = conversation.screens.campaign
    with database.unit_of_work() as uow:
        roles.add(uow, campaign, "console", "bob", "豊島", "admin", clock.now())
        uow.commit()
    bob = member("bob", "豊島区")
    bob.say("一斉送信")
    bob.press("全員")
    assert count(database, DialogRow) == 1

    with database.unit_of_work() as uow:
        assert roles.remove(uow, campaign, "console", "bob", "admin", clock.now())
        uow.commit()
    assert count(database, DialogRow) == 0, "removing the role closed the dialog"
    bob.say("お知らせです")
    assert "会員にはこのように届きます" not in bob.text
    bob.say("一斉送信")
    assert REFUSED in bob.text
    assert count(database, BroadcastRow) == 0


def test_relayed_questions_stop_reaching_an_organiser_removed_from_the_list(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    campaign = conversation.screens.campaign
    with database.unit_of_work() as uow:
        roles.add(uow, campaign, "console", "bob", "", "admin", clock.now())
        uow.commit()
    member("bob", "豊島区")
    alice = member("alice", "豊島区")
    alice.say("保険証の色は何色ですか")
    alice.press("世話人に聞く")
    with database.unit_of_work() as uow:
        roles.remove(uow, campaign, "console", "bob", "admin", clock.now())
        uow.commit()

    found = rendered(database, conversation.screens, clock, RELAY_QUESTION)
    assert [message for _, message in found] == [Skip(SKIP_NOT_ORGANISER)]


def test_an_organiser_taken_out_of_the_config_loses_the_role_at_the_next_start(
    member: Member, database: Database, conversation: Conversation
) -> None:
    organiser = member("console-organiser", "都全体")
    organiser.say("一斉送信")
    assert count(database, DialogRow) == 1
    campaign = replace(conversation.screens.campaign, organisers={})

    changed = roles.sync_roles(database.unit_of_work, campaign)

    assert len(changed) == 1
    with database.session() as session:
        role = session.scalar(
            select(MemberRow.role).where(MemberRow.external_id == "console-organiser")
        )
    assert role == "member"
    assert count(database, DialogRow) == 0


def test_an_answer_being_written_does_not_reach_the_member_once_the_writer_is_removed(
    member: Member, database: Database, conversation: Conversation, clock: FakeClock
) -> None:
    campaign = conversation.screens.campaign
    with database.unit_of_work() as uow:
        roles.add(uow, campaign, "console", "bob", "", "admin", clock.now())
        uow.commit()
    bob = member("bob", "豊島区")
    alice = member("alice", "豊島区")
    alice.say("保険証の色は何色ですか")
    alice.press("世話人に聞く")
    with database.session() as session:
        relay = session.scalar(select(func.min(DeliveryRow.relay_id)))
    bob.press_raw(f"1:relay_reply:{relay}")
    assert "返事" in bob.text
    with database.unit_of_work() as uow:
        roles.remove(uow, campaign, "console", "bob", "admin", clock.now())
        uow.commit()

    bob.say("白です。アリスさんの名前も書いておきます")

    with database.session() as session:
        answers = session.scalar(
            select(func.count())
            .select_from(DeliveryRow)
            .where(DeliveryRow.purpose == "relay_answer")
        )
    assert answers == 0
