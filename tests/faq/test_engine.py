"""Normalisation, matching and the answer / suggest / decline thresholds."""

from __future__ import annotations

import pytest

from bot.faq.knowledge import Thresholds
from bot.faq.matcher import FaqEngine, Outcome
from bot.faq.normalise import Normaliser, fold
from tests.faq.conftest import SYNONYMS


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("ＡＢＣ　ｄｅｆ", "abcdef"),
        ("ﾏｲﾅ保険証", "マイナ保険証"),
        ("メニュ〜", "メニュー"),
        ("カード-", "カードー"),
        ("  保険証  は？ ", "保険証は?"),
    ],
)
def test_fold(written: str, normalised: str) -> None:
    assert fold(written) == normalised


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("資格確認証ってなに", "資格確認書ってなに"),
        ("しかくかくにんしょ", "資格確認書"),
        ("保健証はいつまで", "保険証はいつまで"),
        ("ほけんしょうをなくした", "保険証をなくした"),
        ("ﾏｲﾅｶｰﾄﾞ", "マイナンバーカード"),
        ("まいなんばーかーどを落とした", "マイナンバーカードを落とした"),
    ],
)
def test_variants_become_one_term(written: str, normalised: str) -> None:
    assert Normaliser(SYNONYMS)(written) == normalised


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("資格確認書ってなんですか", "kakuninsho-what"),
        ("資格確認書とは", "kakuninsho-what"),
        ("しかくかくにんしょってなに？", "kakuninsho-what"),
        ("資格確認証はどうやってもらうの", "kakuninsho-apply"),
        ("保健証はいつまで使えるんですか", "old-card-until"),
        ("マイナカードを落としてしまいました", "lost-card"),
        ("マイナンバーカードをなくしたら病院に行けないの？", "lost-card"),
    ],
)
def test_questions_find_their_entry(engine: FaqEngine, question: str, entry_id: str) -> None:
    decision = engine.decide(question)
    assert decision.outcome is Outcome.ANSWER, decision
    assert decision.entry is not None
    assert decision.entry.id == entry_id


@pytest.mark.parametrize(
    ("question", "outcome"),
    [
        ("次の宣伝はいつですか", Outcome.EVENTS),
        ("集会はどこ？", Outcome.EVENTS),
        ("こんにちは", Outcome.GREETING),
        ("ありがとうございます", Outcome.THANKS),
        ("明日の天気は？", Outcome.DECLINE),
        ("年金はいつ振り込まれますか", Outcome.DECLINE),
    ],
)
def test_other_questions_are_routed(engine: FaqEngine, question: str, outcome: Outcome) -> None:
    assert engine.decide(question).outcome is outcome


def test_a_loose_paraphrase_still_finds_its_entry(engine: FaqEngine) -> None:
    decision = engine.decide("資格確認書って申請しないといけないの")
    assert decision.outcome is Outcome.ANSWER
    assert decision.entry is not None
    assert decision.entry.id == "kakuninsho-apply"


def test_a_close_call_answers_and_offers_the_other_one(engine: FaqEngine) -> None:
    decision = engine.decide("資格確認書")
    assert decision.outcome is Outcome.ANSWER
    assert decision.entry is not None
    assert decision.entry.id == "kakuninsho-what"
    assert [e.id for e in decision.suggestions] == ["kakuninsho-apply"]


@pytest.mark.parametrize(
    ("question", "outcome"),
    [
        ("資格確認書と株価", Outcome.ANSWER),  # half the question is about an entry
        # Words no text knows count half (index.UNKNOWN_SHARE): four of them outweigh the
        # entry's word two to one. Offer, do not answer.
        ("資格確認書と株価と天体と為替の星座", Outcome.SUGGEST),
        ("株価と天体と野球", Outcome.DECLINE),  # nothing in common
    ],
)
def test_confidence_thresholds(engine: FaqEngine, question: str, outcome: Outcome) -> None:
    decision = engine.decide(question)
    assert decision.outcome is outcome, decision.best
    if outcome is Outcome.SUGGEST:
        assert decision.suggestions[0].id == "kakuninsho-what"


def test_between_suggesting_and_declining_the_bot_says_it_does_not_know(
    engine: FaqEngine,
) -> None:
    asked = engine.ask("保険証と株価と天体")
    assert asked.hits
    reach = asked.hits[0].reach
    assert 0 < reach < engine.thresholds.suggest_at
    unsure = Thresholds(answer_at=0.9, suggest_at=reach + 0.01, unknown_at=reach - 0.01)
    assert engine.choose(asked, unsure).outcome is Outcome.UNKNOWN
    strict = Thresholds(answer_at=0.9, suggest_at=reach + 0.02, unknown_at=reach + 0.01)
    assert engine.choose(asked, strict).outcome is Outcome.DECLINE


@pytest.mark.parametrize(
    "question",
    ["おいしいラーメン屋はどこ", "宇宙の果てには何がある", "株価の見通しは", "犬の散歩の仕方"],
)
def test_unknown_subjects_are_not_answered(engine: FaqEngine, question: str) -> None:
    assert engine.decide(question).outcome in {Outcome.DECLINE, Outcome.UNKNOWN}


@pytest.mark.parametrize("question", ["", "🙂", "あ", "？？？", "\u200b"])
def test_nothing_to_go_on(engine: FaqEngine, question: str) -> None:
    assert engine.decide(question).outcome is Outcome.EMPTY


@pytest.mark.parametrize(
    "question",
    ["保険証" * 2000, "What is the shikaku kakuninsho card?", "ｱｲｳｴｵ" * 100, "1" * 5000],
)
def test_odd_input_gets_a_decision(engine: FaqEngine, question: str) -> None:
    assert engine.decide(question).outcome in set(Outcome)


def test_confidence_is_a_share(engine: FaqEngine) -> None:
    exact = engine.decide("資格確認書ってなんですか")
    partial = engine.decide("資格確認書って保険証とちがう書類なの、手数料は？")
    assert exact.confidence == pytest.approx(1.0)
    assert 0 < partial.confidence < exact.confidence


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("資格確認書は申請不要で届くと聞きましたが", "資格確認書は申請不要で届く"),
        ("暫定措置は終わったと理解すればいいですか", "暫定措置は終わった"),
        ("解除のしかたを教えてください", "解除のしかた"),
        ("保険証について知りたいです", "保険証について"),
    ],
)
def test_framing_phrases_carry_no_weight(written: str, normalised: str) -> None:
    assert Normaliser({})(written) == normalised


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("ショウメイショ", "しょーめーしょ"),  # long vowels written or not
        ("ひもづけ", "ひもずけ"),  # ず/づ
        ("しょう", "しよう"),  # small kana
        ("ケイヤク", "けえやく"),
    ],
)
def test_readings_fold_the_slips_members_make(one: str, other: str) -> None:
    from bot.faq.analysis import fold_reading

    assert fold_reading(one) == fold_reading(other)


def test_a_prefix_stays_with_its_noun() -> None:
    from bot.faq.analysis import Analyser

    words = Analyser().words("資格確認書の再発行")
    assert "再発行" in words
    assert "発行" not in words, "再発行 must not meet マイナンバーカードの発行"


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("なくしてしまいました", "仕舞う"),
        ("送られてくるもの", "来る"),
        ("作ってもらえない", "貰う"),
        ("作っておいた", "おく"),
        ("落としたみたい", "みたい"),
    ],
)
def test_auxiliary_verbs_after_te_carry_no_weight(text: str, absent: str) -> None:
    from bot.faq.analysis import Analyser

    words = Analyser().words(text)
    assert absent not in words
    assert words  # the verb before て stays


def test_a_sole_candidate_is_answered_not_offered_alone(engine: FaqEngine) -> None:
    # Never answer on the reach alone (answer_at 0.95) nor on a lead (99): only the rule that a
    # もしかして of one entry is an answer is left, from half-way between 0.2 and 0.95.
    limits = Thresholds(answer_at=0.95, suggest_at=0.2, unknown_at=0.1, lead=99.0, margin=1.0)
    sole = engine.choose(engine.ask("マイナカード紛失と株価"), limits)
    assert sole.confidence >= (0.2 + 0.95) / 2
    assert sole.outcome is Outcome.ANSWER
    assert sole.entry is not None
    assert sole.entry.id == "lost-card"
    # Mostly about something else: the one candidate is only offered.
    faint = engine.choose(engine.ask("マイナカード紛失と株価と天体と為替と星座と野球"), limits)
    assert faint.confidence < (0.2 + 0.95) / 2
    assert faint.outcome is Outcome.SUGGEST
    assert [e.id for e in faint.suggestions] == ["lost-card"]
    two = engine.choose(engine.ask("資格確認書と株価と天体と為替の星座"), limits)
    assert two.outcome is Outcome.SUGGEST
    assert [e.id for e in two.suggestions][:2] == ["kakuninsho-what", "kakuninsho-apply"]


def test_a_question_whose_every_answer_is_for_another_scheme_is_unknown_not_declined() -> None:
    """The member asked what we answer, but for a scheme none of our answers covers: a human
    is offered (unknown), not "that is not something I answer" (declined)."""
    from bot.faq.knowledge import KnowledgeBase, Scheme
    from tests.faq.conftest import entry

    kouki = entry(
        "kouki-card",
        "kouki",
        "後期高齢者の資格確認書",
        ["後期高齢者の資格確認書はいつ届く", "後期高齢者医療の資格確認書の色"],
        "後期高齢者医療の資格確認書は7月に届きます。",
        scheme=Scheme.KOUKI,
    )
    engine = FaqEngine(KnowledgeBase(entries=(kouki,), routes=(), synonyms={}))
    assert engine.decide("後期高齢者の資格確認書はいつ届く").outcome is Outcome.ANSWER
    decision = engine.decide("70歳の資格確認書はいつ届く")  # under 75: not that scheme
    assert decision.outcome is Outcome.UNKNOWN
    assert decision.entry is None


def test_an_expired_entry_borrows_its_successors_about_words_language_by_language() -> None:
    from datetime import date

    from bot.faq.knowledge import KnowledgeBase
    from tests.faq.conftest import entry

    now = entry(
        "card-now",
        "card",
        "期限切れの保険証はいま使える？",
        ["期限切れの保険証は使える"],
        "使えません。",
        about=("使",),
        about_en=("use",),
    )
    then = entry(
        "card-then",
        "card",
        "暫定措置",
        ["暫定措置とは"],
        "7月31日まででした。",
        valid_until=date(2026, 7, 31),
        superseded_by="card-now",
        about_en=("interim",),
    )
    engine = FaqEngine(KnowledgeBase(entries=(now, then), routes=(), synonyms={}))
    assert engine._about_words(then) == (["使"], ["interim"])
    assert engine._about_words(now) == (["使"], ["use"])
