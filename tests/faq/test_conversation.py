"""Questions in the conversation: answers with named sources and dates, もしかして, declines,
relay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.domain.messages import MemberRef, Outgoing
from bot.faq.knowledge import KnowledgeBase
from bot.faq.matcher import FaqEngine
from bot.services.conversation import Conversation
from bot.services.faq import Answers
from bot.store.database import Database
from bot.store.tables import FaqQuestionRow, RelayRow
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.dialogs.test_registration import register
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def conversation(
    settings: Settings, database: Database, clock: FakeClock, engine: FaqEngine
) -> Conversation:
    return Conversation(
        database.unit_of_work,
        settings.campaign(),
        Catalogues.load(),
        clock,
        Answers(lambda: engine),
    )


@pytest.fixture
def member(conversation: Conversation) -> Callable[[str], Chat]:
    def make(name: str) -> Chat:
        chat = Chat(conversation, MemberRef("console", name, display_name=name))
        register(chat, "板橋区")
        return chat

    return make


def logged(database: Database) -> list[tuple[str, str | None]]:
    with database.session() as session:
        rows = session.scalars(select(FaqQuestionRow).order_by(FaqQuestionRow.id)).all()
        return [(row.outcome, row.entry_id) for row in rows]


MHLW = "https://www.mhlw.go.jp/stf/newpage_40406.html"
GIFU = "https://www.gifu-np.co.jp/articles/-/629879"


def test_an_answer_carries_its_source_and_checked_date(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.say("資格確認書ってなんですか？")
    assert "マイナ保険証を持っていない人が病院の窓口で見せる書類です" in chat.text
    assert chat.links() == [("出典: 厚生労働省 マイナ保険証FAQ", MHLW)], "a named link"
    assert "https" not in chat.text, "never a raw address in the text"
    assert "確認日: 2026年11月20日" in chat.text
    assert "世話人に聞く" in chat.labels()
    assert "くわしく" not in chat.labels(), "nothing more to show: no more text, one source"


def test_the_other_sources_wait_under_more(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.say("マイナカードを落としてしまいました")
    assert chat.links() == [("出典: 厚生労働省 マイナ保険証FAQ", MHLW)], "one source only"
    assert "岐阜新聞" not in chat.text
    chat.press("くわしく")
    assert "再交付には約1か月かかります" in chat.text
    assert chat.links() == [("出典: 岐阜新聞", GIFU)], "the others, by name"
    assert "https" not in chat.text


def test_more_shows_the_other_sources_when_there_is_no_more_text(
    member: Callable[[str], Chat],
) -> None:
    chat = member("alice")
    chat.say("資格確認書の申請は必要ですか")
    assert "申請不要で資格確認書が届きます" in chat.text
    assert chat.links() == [("出典: 厚生労働省 マイナ保険証FAQ", MHLW)]
    chat.press("くわしく")
    assert "この答えのほかの出典です" in chat.text
    assert chat.links() == [("出典: 岐阜新聞", GIFU)]
    assert "世話人に聞く" in chat.labels()


def test_more_details_and_the_log_has_no_member(
    member: Callable[[str], Chat], database: Database
) -> None:
    chat = member("alice")
    chat.say("マイナカードを落としてしまいました")
    assert "0120-95-0178" in chat.text
    chat.press("くわしく")
    assert "再交付には約1か月かかります" in chat.text
    assert logged(database) == [("answered", "lost-card")]
    columns = FaqQuestionRow.__table__.columns.keys()
    assert not [c for c in columns if "member" in c]


def test_an_expired_fact_comes_with_a_caution(
    member: Callable[[str], Chat], clock: FakeClock
) -> None:
    chat = member("alice")
    clock.set(datetime(2026, 3, 20, 10, 0, tzinfo=TOKYO))
    chat.say("期限切れの保険証を病院に持って行った")
    assert "暫定措置" in chat.text
    assert "⚠" not in chat.text, "still valid on 20 March"
    clock.set(datetime(2026, 4, 2, 10, 0, tzinfo=TOKYO))
    chat.say("期限切れの保険証を病院に持って行った")
    assert "⚠ これは2026年3月31日までの扱いについての答えです" in chat.text
    assert "加入している健康保険に確かめてください" in chat.text
    assert "までの情報をもとに" not in chat.text, "would contradict the checked date"


def test_an_expired_entry_with_a_successor_points_to_it(
    member: Callable[[str], Chat], clock: FakeClock
) -> None:
    chat = member("alice")
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO))
    chat.say("暫定措置は延長されたの？")
    assert "いまは資格確認書かマイナ保険証が必要です" in chat.text, "the successor answers now"
    assert "⚠" not in chat.text
    chat.say("当時の延長された暫定措置の中身")
    assert "2026年7月31日まで延長" in chat.text, "a question about the past gets the old entry"
    assert "その扱いはもう終わりました" in chat.text
    assert "いまの期限切れ保険証" in chat.labels()


def test_a_close_call_offers_the_other_answer_beside_it(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.say("資格確認書")
    assert "マイナ保険証を持っていない人が病院の窓口で見せる書類です" in chat.text
    assert "近い質問の答えもあります" in chat.text
    chat.press("資格確認書のもらい方")
    assert "申請不要で資格確認書が届きます" in chat.text


def test_suggestions_lead_to_the_answer(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.say("資格確認書と株価と天体と為替の星座")
    assert "もしかして" in chat.text
    assert set(chat.labels()) >= {"資格確認書とは", "資格確認書のもらい方", "世話人に聞く"}
    chat.press("資格確認書のもらい方")
    assert "申請不要で資格確認書が届きます" in chat.text


def test_off_topic_is_declined_politely_with_what_the_bot_can_do(
    member: Callable[[str], Chat], database: Database
) -> None:
    chat = member("alice")
    chat.say("明日の天気は？")
    assert "この質問にはお答えできません" in chat.text
    assert "保険証・マイナ保険証・資格確認書" in chat.text
    assert "世話人に聞く" in chat.labels()
    chat.say("宇宙の果てには何がある")
    assert logged(database)[-1][0] in {"declined", "unknown"}


def test_event_questions_go_to_the_calendar(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.say("次の宣伝はいつですか")
    assert "予定はありません" in chat.text


def test_greetings_and_thanks(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.say("こんにちは！")
    assert "ふつうの言葉で聞いてください" in chat.text
    chat.say("ありがとうございました")
    assert "どういたしまして" in chat.text


def test_the_question_button_explains_how_to_ask(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.press("質問")
    assert "ふつうの言葉で書いて送ってください" in chat.text


@pytest.mark.parametrize("text", ["🙂", "あ", "保険証" * 2000, "What is shikaku kakuninsho?"])
def test_odd_questions_get_a_sensible_reply(member: Callable[[str], Chat], text: str) -> None:
    chat = member("alice")
    chat.say(text)
    assert chat.replies
    assert "申し訳ありません" not in chat.text


def test_asking_an_organiser_round_trip(
    conversation: Conversation,
    member: Callable[[str], Chat],
    database: Database,
    clock: FakeClock,
) -> None:
    organiser = Chat(
        conversation, MemberRef("console", "console-organiser", display_name="世話人A")
    )
    register(organiser, "都全体")
    alice = member("alice")
    alice.say("うちの区の国保の窓口は何時まで？")
    alice.press("世話人に聞く")
    assert "世話人に質問を送りました" in alice.text

    ((question, message),) = rendered(database, conversation.screens, clock)
    with database.session() as session:
        relay = session.scalars(select(RelayRow)).one()
    assert question.purpose == "relay_question"
    assert isinstance(message, Outgoing)
    assert "「うちの区の国保の窓口は何時まで？」" in message.text
    assert "aliceさん（console）より" in message.text

    reply_action = message.buttons[0][0].action.encode()
    organiser.press_raw(reply_action)
    assert f"質問 #{relay.id} への返事を書いて" in organiser.text
    organiser.say("平日の17時までです。区役所2階の国保年金課です。")
    assert f"質問 #{relay.id} に返事を送りました" in organiser.text

    ((_, answer),) = rendered(database, conversation.screens, clock, "relay_answer")
    with database.session() as session:
        stored = session.scalars(select(RelayRow)).one()
    assert isinstance(answer, Outgoing)
    assert "【世話人からの返事】" in answer.text
    assert "平日の17時までです" in answer.text
    assert stored.answer == "平日の17時までです。区役所2階の国保年金課です。"
    organiser.say("ヘルプ")
    assert "使い方" in organiser.text, "the dialog ended with the answer"


def test_asking_without_a_question_first(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.press_raw("1:ask_human")
    assert "先に、聞きたいことを文字で送って" in chat.text


def test_writing_an_answer_can_be_cancelled(
    conversation: Conversation, member: Callable[[str], Chat], database: Database
) -> None:
    organiser = Chat(conversation, MemberRef("console", "console-organiser"))
    register(organiser, "都全体")
    alice = member("alice")
    alice.say("保険証のことで相談したい")
    alice.press("世話人に聞く")
    with database.session() as session:
        relay_id = session.scalars(select(RelayRow.id)).one()
    organiser.press_raw(f"1:relay_reply:{relay_id}")
    organiser.say("やめる")
    assert "返事を書くのをやめました" in organiser.text
    with database.session() as session:
        assert session.scalars(select(RelayRow.answer)).one() is None


def test_members_cannot_answer_relays(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.press_raw("1:relay_reply:1")
    assert "世話人だけ" in chat.text


def test_no_organiser_yet(member: Callable[[str], Chat]) -> None:
    chat = member("alice")
    chat.say("保険証のことで相談したい")
    chat.press("世話人に聞く")
    assert "世話人がまだこのボットに登録していない" in chat.text


def test_unknown_knowledge_base_still_offers_a_human(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    conversation = Conversation(
        database.unit_of_work, settings.campaign(), Catalogues.load(), clock, Answers(lambda: None)
    )
    chat = Chat(conversation, MemberRef("console", "bob"))
    register(chat, "板橋区")
    chat.say("資格確認書ってなに")
    assert "準備中" in chat.text
    assert "世話人に聞く" in chat.labels()


def test_engine_fixture_is_the_small_knowledge_base(knowledge: KnowledgeBase) -> None:
    assert len(knowledge.entries) == 7


def test_a_question_in_english_is_answered_in_english(
    member: Callable[[str], Chat], database: Database, knowledge: KnowledgeBase
) -> None:
    chat = member("alice")  # registered in Japanese
    chat.say("I lost my My Number card, what should I do?")
    assert "Call 0120-95-0178" in chat.text
    assert chat.links() == [("Source: 厚生労働省 マイナ保険証FAQ", MHLW)]
    assert "https" not in chat.text
    assert "Checked on: 20 Nov 2026" in chat.text
    assert "Ask an organiser" in chat.labels()
    chat.press("More")
    assert "A reissue takes about a month." in chat.text
    assert chat.links() == [("Source: 岐阜新聞", GIFU)]
    assert logged(database)[-1] == ("answered", "lost-card")
    chat.say("資格確認書ってなんですか？")
    assert "マイナ保険証を持っていない人が病院の窓口で見せる書類です" in chat.text, (
        "back to Japanese"
    )
