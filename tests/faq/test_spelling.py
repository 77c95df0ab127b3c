"""Kanji slips (粉失, 再公付) and ages in numerals, read as our own texts write them."""

from __future__ import annotations

import pytest

from bot.faq.analysis import SPELLING
from bot.faq.matcher import FaqEngine, Outcome
from bot.faq.normalise import fold
from bot.faq.spelling import Speller

VOCABULARY = [
    "マイナンバーカードを紛失したときは、すぐに届け出てください",
    "資格確認書の再交付は無料です",
    "後期高齢者医療の資格確認書は毎年届きます",
    "暗証番号を3回まちがえるとロックされます",
    "電子証明書の有効期限が切れたら更新してください",
    "病院向けのお知らせと医療保険証の話",
    "年金の受け取り",
]


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(VOCABULARY, SPELLING)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        # One kanji of a known word swapped for another of the same sound.
        ("再公付にお金はかかる", "再交付にお金はかかる"),
        ("高期高齢者です", "後期高齢者です"),
        ("暗証番合を忘れた", "暗証番号を忘れた"),
        # The dictionary reads 紛 only inside words: 紛失 less 失 (しつ) is ふん, as 粉 is.
        ("カードを粉失した", "カードを紛失した"),
        # Read alike as a whole, though no kanji stands alone.
        ("電子照明書が切れた", "電子証明書が切れた"),
    ],
)
def test_a_kanji_slip_is_read_as_the_known_word(speller: Speller, written: str, meant: str) -> None:
    assert speller.correct(written) == meant


@pytest.mark.parametrize(
    "written",
    [
        "病院行くとき",  # 行 belongs to 行く: not a slip of 病院向け, though both are コウ
        "新保険証",  # 新 (しん) does not sound like the 療 of 医療保険証
        "預金の受け取り",  # a word of the dictionary, not a slip of 年金
        "転織したら",  # 織 (しき) and 職 (しょく) do not sound alike; and 転職 is unknown here
        "資格確認書の再交付",  # known words stay as they are
    ],
)
def test_what_is_no_slip_stays(speller: Speller, written: str) -> None:
    assert speller.correct(written) == written


def test_a_slip_with_two_readings_of_its_own_is_left_alone() -> None:
    # Two known words fit 再公付 equally (再交付, 再公布): the speller does not guess.
    both = Speller(["再交付の手続き", "再公布の手続き"], SPELLING)
    assert both.correct("再公付") == "再公付"


def test_the_engine_answers_a_slip_as_its_kanji_form(engine: FaqEngine) -> None:
    right = engine.decide("保険証の有効期限が切れたら、どうなりますか")
    slip = engine.decide("保険証の有効機限が切れたら、どうなりますか")  # 機 for 期: both き
    assert right.outcome is Outcome.ANSWER
    assert slip.outcome is right.outcome
    assert slip.entry == right.entry
    assert "有効期限" in slip.normalised


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("ななじゅうごさいになったら", "75歳になったら"),
        ("母は八十二歳です", "母は82歳です"),
        ("はちじゅう さい", "80歳"),
        ("ごじゅっさい", "50歳"),
        # Not ages: a lone digit before さい, and さい after other kana.
        ("ごさい", "ごさい"),
        ("ください", "ください"),
    ],
)
def test_an_age_in_numerals_is_written_in_digits(written: str, folded: str) -> None:
    assert fold(written) == folded


def test_an_age_in_kana_puts_the_question_in_its_scheme(shipped_engine: FaqEngine) -> None:
    # 75 and over is the 後期高齢者医療, however the age is written.
    digits = shipped_engine.ask("75歳になったら何が届きますか")
    kana = shipped_engine.ask("ななじゅうごさいになったら何が届きますか")
    assert [h.target for h in kana.hits[:3]] == [h.target for h in digits.hits[:3]]


def test_a_page_of_kanji_costs_the_speller_a_bounded_number_of_look_ups(speller: Speller) -> None:
    # Pasted text: one long run of kanji the knowledge base never wrote. Only `BUDGET`
    # stretches are looked at, and a slip past them stays as written.
    page = "国民健康保険被保険者資格確認書再交付申請書様式第一号" * 10 + "再公付"
    assert speller.correct(page) == page
    assert speller.correct("再公付は" + page).startswith("再交付は")
