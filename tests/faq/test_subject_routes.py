"""Neighbouring subjects are declined by rule of subject, and card questions about them are not."""

from __future__ import annotations

import pytest

from bot.faq import english
from bot.faq.matcher import FaqEngine, Outcome


@pytest.mark.parametrize(
    ("question", "route"),
    [
        ("傷病手当金の振込はいつ", "decline-other-benefits"),
        ("雇用保険の被保険者証が見つからない", "decline-other-benefits"),
        ("労災の書類を会社が書いてくれない", "decline-other-benefits"),
        ("孫の医療証をなくしてしまった", "decline-other-certificates"),
        ("お薬手帳を忘れたら薬局で高くなる？", "decline-other-certificates"),
        ("マイナンバーの通知カードが出てきた", "decline-other-certificates"),
        ("紹介状をもらうのにお金はかかる？", "decline-hospital-charges"),
        ("ケアマネを変えたいときは誰に言う", "decline-care-services"),
        ("特定健診の案内がまだ来ない", "decline-checkups-and-private-insurance"),
        ("ひとり親の医療費助成は何歳まで", "decline-other-benefits"),
        ("老人ホームの料金が払えるか心配", "decline-care-services"),
        ("ふるさと納税をしたら住民税はどうなる", "decline-tax"),
        ("接骨院で腰をみてもらうのに保険はきく？", "decline-coverage"),
        ("交通事故でけがをしたときの治療費は誰が払う", "decline-coverage"),
        ("夫の扶養から外れたらどうなる", "decline-dependants"),
        ("マイナンバーカードを図書館カードにできる？", "decline-mynumber-card-other-uses"),
        # お知らせ is our word; the yearly 医療費のお知らせ is the tax's.
        ("医療費のお知らせはいつ届く", "decline-tax"),
        ("ペット保険の請求方法", "decline-checkups-and-private-insurance"),
        ("在留カードの住所変更はどこで", "decline-residence"),
        ("How do I extend my visa?", "decline-residence"),
        ("Is dental treatment covered by insurance?", "decline-coverage"),
        ("Where is the tax office for my ward?", "decline-tax"),
        # The unless: word 預か is a word, not a sentence cut to 預: 預金 does not spare it.
        ("認知症の母の預金をおろせない", "decline-dementia"),
        ("父が認知症かもしれない。どこに相談すればいい？", "decline-dementia"),
        ("When can I apply to extend my period of stay?", "decline-residence"),
        ("外国人が帰国するときの脱退一時金、手続きは？", "decline-pension"),
        ("When is the baby's one-month checkup?", "decline-checkups-and-private-insurance"),
        ("高校生も医療費の助成は受けられる？", "decline-other-benefits"),
        ("観光で日本に来る両親を国保に入れられる？", "decline-visitors"),
        ("Can a tourist visiting Japan join national health insurance?", "decline-visitors"),
        (
            "Will my expat insurance pay for a clinic in Tokyo?",
            "decline-checkups-and-private-insurance",
        ),
        ("退職したら資格喪失証明書はどこでもらう？", "decline-other-certificates"),
        ("介護の申請書に母のマイナンバーを書く欄がある", "decline-mynumber-card-other-uses"),
    ],
)
def test_a_neighbouring_subject_is_declined(
    shipped_engine: FaqEngine, question: str, route: str
) -> None:
    language = "en" if english.is_english(question) else "ja"
    found = shipped_engine._subject(shipped_engine._normalise(question), question, language)
    assert found is not None
    assert found.id == route
    assert shipped_engine.decide(question).outcome is Outcome.DECLINE


@pytest.mark.parametrize(
    "question",
    [
        # The card itself, asked beside a neighbouring subject: still ours.
        "障害者手帳があると資格確認書を申請できますか",
        "救急車で運ばれて保険証を持っていなかった",
        "子どもの医療証とマイナ保険証はいっしょに出すの？",
        "交通事故で運ばれた病院で保険証がなく全額払った",
        "在留カードしか持っていない外国人でも資格確認書はもらえる？",
        "認知症の母の代わりに資格確認書を申請できますか",
        "施設に保険証を預けている認知症の父",
        "認知症の母の確認書の申請はケアマネさんに頼める？",
        "My father has dementia and cannot remember a PIN. What can he use?",
        # The card's own expiry beside the e-certificate's is fact 39.
        "マイナンバーカード本体の有効期限はいつまで？",
        "高校生の息子のマイナカード、カード本体の期限はいつまで",
        "在留カードだけで国保の病院にかかれる？",
        # The smartphone's insurance card, beside the card itself (fact 33).
        "スマホにマイナ保険証を入れたら、カード本体は持ち歩かなくていい？",
        # Turning 75 moves the insured into the 後期高齢者医療 and the dependant out (fact 34).
        "夫が75歳になったら、扶養に入っている私の保険はどうなる？",
        # The 資格確認書 as an ID document is fact 20; in English it reads "certificate".
        "Can I use the eligibility certificate as ID instead of a passport?",
        # A checkup as the occasion of a card question.
        "My son lost his My Number card and has a checkup next week. What can he show?",
    ],
)
def test_a_card_question_naming_a_neighbour_is_not_declined_by_rule(
    shipped_engine: FaqEngine, question: str
) -> None:
    language = "en" if english.is_english(question) else "ja"
    assert shipped_engine._subject(shipped_engine._normalise(question), question, language) is None
    assert shipped_engine.decide(question).outcome is not Outcome.DECLINE


def test_no_phrasing_of_an_entry_is_declined_by_a_subject(shipped_engine: FaqEngine) -> None:
    swallowed = [
        (entry.id, phrasing, route.id)
        for entry in shipped_engine.knowledge.entries
        for phrasing in (entry.title, entry.title_en or "", *entry.questions, *entry.questions_en)
        if phrasing
        and (
            route := shipped_engine._subject(
                shipped_engine._normalise(phrasing),
                phrasing,
                "en" if phrasing.isascii() else "ja",
            )
        )
        is not None
    ]
    assert swallowed == []


@pytest.mark.parametrize(
    "phrasing",
    [
        # An entry's own phrasings that a subject rule used to decline: the 限度額 certificate in
        # English, the 介護保険被保険者証 beside the care certification it records.
        "What happened to the high-cost medical expense ceiling certificate?",
        "要介護認定の結果が書いてある被保険者証はどうなる",
    ],
)
def test_an_entry_phrasing_naming_a_neighbour_is_not_declined_by_rule(
    shipped_engine: FaqEngine, phrasing: str
) -> None:
    language = "en" if english.is_english(phrasing) else "ja"
    assert shipped_engine._subject(shipped_engine._normalise(phrasing), phrasing, language) is None
