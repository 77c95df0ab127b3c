"""What decides which entry comes first: subjects, whole entries, and the thresholds' sources."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.faq import calibration
from bot.faq.index import Index
from bot.faq.knowledge import KnowledgeBase
from bot.faq.matcher import LOOSE_SUBJECT, OFF_ABOUT, FaqEngine, Outcome, subjects_of


@pytest.mark.parametrize(
    ("normalised", "subjects"),
    [
        ("資格確認書の有効期限", {"kakuninsho"}),
        ("マイナ保険証と資格確認書", {"myna", "kakuninsho"}),
        # The longer name wins: マイナ保険証 is not also the old 保険証.
        ("マイナ保険証をなくした", {"myna"}),
        ("電子証明書が切れた", {"ecert"}),
        ("赤ちゃんが生まれた", set()),
        # The smartphone's 保険証 and the 利用登録 are the マイナ保険証's, not the old card's.
        ("スマホ保険証で受診", {"myna"}),
        ("保険証の利用登録", {"myna", "card"}),
        # マイナ alone is the card members carry: 「マイナがエラー」.
        ("病院でマイナがエラーになった", {"myna"}),
    ],
)
def test_a_question_names_its_subjects(normalised: str, subjects: set[str]) -> None:
    assert subjects_of(normalised) == subjects


def test_an_entry_about_another_subject_loses_ground(shipped_engine: FaqEngine) -> None:
    # 有効期限 is said far more often of the 電子証明書; the question names the 資格確認書.
    asked = shipped_engine.ask("資格確認書の有効期限はどのくらい？")
    hits = {hit.target: hit for hit in asked.hits}
    ecert, kakuninsho = hits["e-cert-expiry-when"], hits["shikaku-kakuninsho-validity"]
    # Even when the words alone favour the 電子証明書 entry by a little, it comes second.
    tied = [replace(ecert, score=11.0), replace(kakuninsho, score=10.0)]
    ranked = shipped_engine._on_subject(tied, asked.normalised)
    assert [hit.target for hit in ranked] == ["shikaku-kakuninsho-validity", "e-cert-expiry-when"]
    # A question that names neither keeps the order of the words.
    assert shipped_engine._on_subject(tied, "有効期限はどのくらい") == tied


def test_a_question_about_one_thing_is_answered_about_it(shipped_engine: FaqEngine) -> None:
    decision = shipped_engine.decide("資格確認書の有効期限はどのくらい？")
    assert decision.outcome is Outcome.ANSWER
    assert decision.entry is not None
    assert decision.entry.id == "shikaku-kakuninsho-validity"


@pytest.mark.parametrize(
    "question",
    ["薬を飲み忘れたらどうする", "がん保険の給付金の請求", "要介護認定の申請はどこ"],
)
def test_neighbouring_subjects_are_declined_by_name(
    shipped_engine: FaqEngine, question: str
) -> None:
    assert shipped_engine.decide(question).outcome is Outcome.DECLINE


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("薬局でマイナ保険証が読み取れない", "myna-reader-failure"),
        ("要介護認定を受けた母に資格確認書は届きますか", "youhairyo-who"),
    ],
)
def test_a_subject_word_beside_an_insurance_card_word_stays_ours(
    shipped_engine: FaqEngine, question: str, entry_id: str
) -> None:
    decision = shipped_engine.decide(question)
    assert decision.entry is not None
    assert decision.entry.id == entry_id


def test_a_phrasing_left_out_no_longer_vouches_for_its_entry(knowledge: KnowledgeBase) -> None:
    engine = FaqEngine(knowledge)
    index: Index = engine.index
    position = next(i for i, d in enumerate(index.documents) if d.field == "question")
    document = index.documents[position]
    column = list(dict.fromkeys(d.target for d in index.documents)).index(document.target)
    seen = index.centroid_scores(document.features)[column]
    unseen = index.centroid_scores(document.features, leave_out=position)[column]
    assert 0.0 <= unseen < seen


def test_thresholds_are_never_chosen_on_an_evaluation_file(
    tmp_path: Path, knowledge: KnowledgeBase
) -> None:
    for name in (
        "dev_questions.yaml",
        "tuning_mine.yaml",
        "holdout_2026_11.yaml",  # read while tuning: a development set now
        "holdout_2026_12.yaml",
        "holdout_2027_06.yaml",
        "kana_pairs.yaml",
        "notes.yaml",
    ):
        (tmp_path / name).write_text("- q: 資格確認書ってなに\n  accept: [x]\n", encoding="utf-8")
    chosen = [path.name for path in calibration.tuning_files(tmp_path)]
    assert chosen == ["dev_questions.yaml", "holdout_2026_11.yaml", "tuning_mine.yaml"]
    for held_out in ("holdout_2026_12.yaml", "holdout_2027_06.yaml", "kana_pairs.yaml"):
        with pytest.raises(ValueError, match="evaluation file"):
            calibration.calibrate(knowledge, questions=[tmp_path / held_out])


def test_members_questions_count_in_calibration(tmp_path: Path, knowledge: KnowledgeBase) -> None:
    engine = FaqEngine(knowledge)
    target = knowledge.entries[0]
    questions = tmp_path / "tuning_members.yaml"
    questions.write_text(
        f"- q: {target.questions[0]}\n  accept: [{target.id}]\n"
        "- q: 明日の天気は\n  out_of_scope: true\n",
        encoding="utf-8",
    )
    without = calibration.calibrate(knowledge, engine)["ja"].cases
    with_members = calibration.calibrate(knowledge, engine, questions=[questions])["ja"].cases
    assert with_members == without + 2


@pytest.mark.parametrize(
    ("written", "concept"),
    [
        ("Is it mandatory?", "voluntary"),
        ("My certificate runs out soon", "expire"),
        # names insurers' pages and members give the card, the 資格確認書 and the お知らせ
        ("Where do I show my Individual Number Card?", "mynumbercard"),
        ("My mynacard is broken", "mynumbercard"),
        ("What is the Eligibility Verification Certificate?", "certificate"),
        ("I lost the Notice of Eligibility Information", "eligibility information notice"),
        ("Is the oshirase enough?", "information notice"),
        # the card's electronic certificate, not the 資格確認書
        ("The certificate in my My Number card runs out soon", "ecert mynumbercard"),
        ("When does my card's certificate expire?", "card ecert"),
        ("My My Number card certificate expired", "mynumbercard ecert"),
        ("Can I put the old card in the trash?", "rubbish"),
        ("Is my medication history shared?", "medicine history"),
        ("My employer gave me a certificate of insured status", "被保険者資格証明書"),
        # word forms the stemmer leaves apart
        ("What is the expiry date?", "expire"),
        ("How long does the cancellation take?", "cancel"),
        ("What is the validity period?", "valid period"),
        # romanised Japanese names of rules and places
        ("Am I under tokubetsu ryoyohi?", "特別療養費"),
        ("Nishi-Tokyo city kokuho", "nishitokyo"),
        ("Does my maina card work?", "mynumbercard"),
        ("The clinic says my maina shows my old insurer", "mynumbercard"),
        # spellings and names the answers write another way
        ("What color is the certificate?", "colour"),
        ("My card is valid till 2031", "until 2031"),
        ("The front desk could not read my card", "reception"),
        ("Can I register at a 7-Eleven ATM?", "seven bank atm"),
        ("The city sent me a qualification confirmation something", "certificate"),
        ("Do I get the eligibility cert automatically?", "certificate"),
        ("Can my caregiver help at the face scanner?", "carer help at the face reader"),
        ("Can I keep using it?", "keep use it"),
        # romanised names from the mail and the counter
        ("Where did my koreisha jukyushasho go?", "elderly recipient certificate"),
        ("My card is in koushin at the office", "renew"),
        ("Does my kenpo send it?", "employee insurance"),
        ("My certificate got soaked in the rain", "damaged"),
        ("Can they issue it on the spot?", "same day"),
        ("Do I have to request the certificate?", "apply the certificate"),
        ("Is my city-run health insurance card gone?", "nhi card"),
        ("Did I have to pay the 10-wari?", "fullcost"),
        ("What is the difference?", "differ"),
        # amounts with and without the thousands comma are one amount
        ("They want 1,000 yen", "1000 yen"),
        ("They want 1000 yen", "1000 yen"),
        ("Is it compulsory for foreign residents?", "voluntary for foreigners"),
    ],
)
def test_english_questions_ask_in_the_answers_words(written: str, concept: str) -> None:
    from bot.faq import english

    assert concept in english.normalise(written)


def test_an_entry_whose_about_words_the_question_lacks_loses_ground(
    shipped_engine: FaqEngine,
) -> None:
    # お金 and かかる are the reissue answer's words too, but nothing here is lost or reissued.
    free = shipped_engine.decide("資格確認書をもらうのにお金はかかりますか")
    assert free.entry is not None
    assert free.entry.id == "shikaku-kakuninsho-automatic"
    lost = shipped_engine.decide("資格確認書をどこかにやってしまった。お金はかかりますか")
    assert lost.entry is not None
    assert lost.entry.id == "shikaku-kakuninsho-reissue"
    asked = shipped_engine.ask("資格確認書をもらうのにお金はかかりますか")
    hits = {hit.target: hit for hit in asked.hits}
    tied = [replace(hits["shikaku-kakuninsho-reissue"], score=10.0)]
    lowered = shipped_engine._on_about(tied, asked.normalised, "お金はかかる", "ja")
    assert lowered[0].score == pytest.approx(10.0 * OFF_ABOUT)
    kept = shipped_engine._on_about(tied, asked.normalised, "なくした", "ja")
    assert kept[0].score == pytest.approx(10.0)


def test_english_about_words_are_whole_words(shipped_engine: FaqEngine) -> None:
    # `id` (shikaku-kakuninsho-as-id) is not found inside "did".
    asked = shipped_engine.ask("Did my certificate come?")
    hit = replace(asked.hits[0], target="shikaku-kakuninsho-as-id", score=10.0)
    assert shipped_engine._on_about([hit], "did my certificate come", "", "en")[0].score < 10.0
    assert shipped_engine._on_about([hit], "can i use it as id", "", "en")[0].score == 10.0


def test_a_word_no_text_knows_counts_less_in_the_reach(
    shipped_engine: FaqEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.faq import index

    question = "資格確認書の再交付、ペンギン"  # ペンギン: in no text of the knowledge base
    assert "ペンギン" not in shipped_engine.index._words.idf
    lenient = shipped_engine.ask(question).hits[0]
    monkeypatch.setattr(index, "UNKNOWN_SHARE", 1.0)
    full = shipped_engine.ask(question).hits[0]
    assert lenient.target == full.target == "shikaku-kakuninsho-reissue"
    assert full.reach < lenient.reach < 1.0


@pytest.mark.parametrize(
    ("text", "language", "added"),
    [
        ("82歳です。どっちを出せばいい", "ja", True),
        ("後期高齢者で82歳", "ja", False),  # names its scheme already
        ("70歳の父は国保", "ja", False),  # under 75
        ("母が来月で75になります。何が届くの", "ja", True),  # an age without 歳
        ("再発行は1000になるの", "ja", False),  # a number, not an age
        ("母(84)に届いた紙はどっちを出せばいい", "ja", True),  # an age in brackets
        ("My mother (84) got only a letter. Which one does she show?", "en", True),
        ("Call the insurer (0120) if in doubt", "en", False),
        ("My mother is 85 and has no card", "en", True),
        ("I am 76. What do I show?", "en", True),
        ("I am 60. What do I show?", "en", False),
        ("My father turns 78 next month", "en", True),
    ],
)
def test_an_age_of_75_or_more_is_searched_with_its_scheme(
    text: str, language: str, added: bool
) -> None:
    from bot.faq.matcher import _scheme_of_age

    assert bool(_scheme_of_age(text, language)) is added


@pytest.mark.parametrize(
    "question",
    [
        "国民健康保険の人が75歳になったら資格確認書はどうなる",
        "国保の母が来月75歳になります。何が届きますか",
        "My mother is on NHI and turns 75 next month. What will she get?",
    ],
)
def test_a_scheme_named_beside_an_age_of_75_still_admits_the_late_elderly_scheme(
    shipped_engine: FaqEngine, question: str
) -> None:
    """Turning 75 moves a member of 国保 into the 後期高齢者医療: both are named."""
    assert answered_by(shipped_engine, question) == "kouki-turning-75"


@pytest.mark.parametrize(
    "question",
    [
        # Asking which ward does something cannot name the ward.
        "国保の人全員に資格確認書を送った区はどこ？",
        "Which wards sent the certificate to everyone on NHI?",
        # A question naming the 国保 beside an age of 75 asks about the 国保's own limit.
        "渋谷区の国保は75歳以上の人にも資格確認書を送るの？",
    ],
)
def test_the_ward_entry_answers_what_only_it_can(shipped_engine: FaqEngine, question: str) -> None:
    assert answered_by(shipped_engine, question) == "shibuya-setagaya-all"


def test_a_ward_written_in_kana_is_named(shipped_engine: FaqEngine) -> None:
    decision = shipped_engine.decide("なかのくの国保の資格確認書はいつまで使える")
    shown = {e.id for e in (decision.entry, *decision.suggestions) if e is not None}
    assert "nakano-kokuho" in shown


def test_a_named_wards_entry_comes_first_when_nearly_as_good(shipped_engine: FaqEngine) -> None:
    question = "中野区です。国保の保険証はいつまで使えましたか"
    asked = shipped_engine.ask(question)
    hit = asked.hits[0]
    general = replace(hit, target="old-card-expiry-by-insurance", score=10.0)
    nearly = replace(hit, target="nakano-kokuho", score=9.0)  # within CLEAR_LEAD of the best
    far = replace(hit, target="nakano-kokuho", score=5.0)
    ranked = shipped_engine._limited([general, nearly], asked.normalised, question, "ja")
    assert [h.target for h in ranked[:2]] == ["nakano-kokuho", "old-card-expiry-by-insurance"]
    ranked = shipped_engine._limited([general, far], asked.normalised, question, "ja")
    assert [h.target for h in ranked[:2]] == ["old-card-expiry-by-insurance", "nakano-kokuho"]
    # Without the ward named, its entry is not offered at all.
    other = "国保の保険証はいつまで使えましたか"
    ranked = shipped_engine._limited(
        [general, nearly], shipped_engine._normalise(other), other, "ja"
    )
    assert [h.target for h in ranked] == ["old-card-expiry-by-insurance"]


@pytest.mark.parametrize(
    ("entry_id", "off_question", "on_question", "language"),
    [
        # Fact sheet 39 vs 40: WHEN the 電子証明書 expires (5回目の誕生日, earlier than the card)
        # is one entry, what happens once it HAS expired (3 months' grace) another.
        ("e-cert-expiry-when", "電子証明書が切れたらどうなる", "電子証明書はいつ切れる", "ja"),
        ("e-cert-expiry-when", "my certificate expired. what now?", "when does it expire", "en"),
        # Fact sheet 19: holding both cards is not allowed as a rule; the entry on a
        # certificate that ARRIVED although one has the マイナ保険証 is another subject.
        ("myna-holder-got-kakuninsho", "両方持てますか", "資格確認書が届いたのはなぜ", "ja"),
        ("myna-holder-got-kakuninsho", "can i have both cards", "why did i get one", "en"),
        # Fact sheet 13/17: it comes without applying; one that has NOT come is another entry.
        ("shikaku-kakuninsho-not-arrived", "届いた資格確認書は何に使う", "まだ届かない", "ja"),
        ("shikaku-kakuninsho-not-arrived", "does it come by itself", "it never came", "en"),
        # Fact sheet 24: the お知らせ ALONE is not enough; a question that only mentions it
        # (left at home, lost) is about something else: the reader failing, or losing it.
        (
            "oshirase-alone",
            "カードが読めずお知らせも置いてきた",
            "お知らせの紙だけで受診できる",
            "ja",
        ),
        # Fact sheet 48/49: 10割 under the 特別療養費 follows ARREARS; paying 10割 for another
        # reason (an expired card, a failed reader) is another subject.
        ("kokuho-tokubetsu-ryoyohi", "古い保険証で全額払った", "国保料を滞納している", "ja"),
        ("kokuho-tokubetsu-ryoyohi", "i paid the full cost", "my premiums are unpaid", "en"),
        # Fact sheet 31 vs 30: the refund (療養費) is for 10割 already PAID; whether one will
        # be charged 10割 when the card fails is the reader entry's subject.
        ("myna-paid-100-refund", "10割請求されることはある？", "全額払ったお金は戻る？", "ja"),
        # Fact sheet 11: using an expired card at the clinic; giving it back (fact 6, 23) is
        # another subject.
        ("expired-card-use-now", "期限切れの保険証は返すの", "期限切れの保険証で受診できる", "ja"),
        # Fact sheet 26 vs 24: whether the お知らせ expires, not what it is.
        ("oshirase-expiry", "お知らせって何に使う紙", "お知らせはいつまで使える", "ja"),
        ("oshirase-expiry", "what is the information notice", "does the notice expire", "en"),
        # Fact sheet 41 vs 40: how to renew the 電子証明書, not what happens once it expired.
        ("e-cert-renewal", "電子証明書が切れたらどうなる", "電子証明書の更新はどこで", "ja"),
        # A long-vowel mark stands for the う of こうしん.
        (
            "e-cert-renewal",
            "でんししょうめいしょがきれたら",
            "でんししょーめーしょのこーしん",
            "ja",
        ),
        # Fact sheet 47 vs 52: the entry telling the 資格確認書 from the 資格証明書 is for
        # questions naming both or asking the difference; "was it abolished?" is another.
        ("shikaku-kakuninsho-vs-shomeisho", "資格証明書は廃止された？", "資格確認書と同じ？", "ja"),
        ("shikaku-kakuninsho-vs-shomeisho", "was it abolished?", "is it the same thing?", "en"),
        # Fact sheet 45: HOW Tokyo mailed the 75+ certificates in 2025 (or losing one); a
        # question that asks none of that is about the certificate in general.
        ("kouki-tokyo-mailing-2025", "資格確認書は何に使う", "去年は何色だった", "ja"),
        ("kouki-tokyo-mailing-2025", "what is it for?", "what colour was it?", "en"),
        # Fact sheet 53: who counts as a 要配慮者; a question about no one in particular
        # (where do I get it, may I hold both) is for the general entries.
        ("youhairyo-who", "資格確認書はどこでもらえる", "認知症の母も対象ですか", "ja"),
        # Fact sheet 24 vs 26: what the お知らせ is (and why it came), not how long it lasts.
        ("oshirase-what", "お知らせの有効期限はいつまで", "お知らせって何の紙", "ja"),
        # Fact sheet 13/14: it comes without applying, free, to those without the マイナ保険証;
        # one that is late is the not-arrived entry's subject.
        (
            "shikaku-kakuninsho-automatic",
            "資格確認書がまだ来ない",
            "申請しないともらえない？",
            "ja",
        ),
        ("shikaku-kakuninsho-automatic", "it has not arrived yet", "do i have to apply?", "en"),
        # Fact sheet 25/30: the card READER failing; getting a card for the first time is not
        # that, though the reader answer mentions a clinic visited "for the first time".
        ("myna-reader-failure", "マイナ保険証を初めて作る", "病院の機械でエラーになった", "ja"),
        (
            "myna-reader-failure",
            "how do i get a card for the first time",
            "the reader failed",
            "en",
        ),
    ],
)
def test_sibling_entries_are_told_apart_by_their_about_words(
    shipped_engine: FaqEngine, entry_id: str, off_question: str, on_question: str, language: str
) -> None:
    hit = replace(shipped_engine.ask("資格確認書").hits[0], target=entry_id, score=10.0)
    off = shipped_engine._on_about([hit], off_question, off_question, language)
    assert off[0].score == pytest.approx(10.0 * OFF_ABOUT)
    on = shipped_engine._on_about([hit], on_question, on_question, language)
    assert on[0].score == pytest.approx(10.0)


def test_a_question_on_an_expired_certificate_gets_the_grace_period(
    shipped_engine: FaqEngine,
) -> None:
    decision = shipped_engine.decide("電子証明書が切れるとどうなる")
    assert decision.outcome is Outcome.ANSWER
    assert decision.entry is not None
    assert decision.entry.id == "e-cert-expired-what-happens"


def test_about_words_are_looked_for_as_written() -> None:
    from bot.faq.normalise import Normaliser

    normalise = Normaliser({"再発行": ["さいはっこう"]})
    # A sentence loses its endings; a word looked for inside questions keeps them: 「届かな」
    # cut to 「届」 would be found in 届いた, 「どこか」 cut to 「どこ」 in every "where".
    assert normalise("届かな") == "届"
    assert normalise.word("届かな") == "届かな"
    assert normalise.word("どこか") == "どこか"
    assert normalise.word("さいはっこう") == "再発行"


def test_a_proxy_entry_names_what_the_proxy_applies_for(shipped_engine: FaqEngine) -> None:
    # Both entries are about a family member applying instead; one for the 要配慮者's
    # 資格確認書, one for the マイナ保険証's 解除. Their titles (also the もしかして buttons) say
    # which, so a question naming the one subject does not get the other.
    assert shipped_engine._entry_subjects["youhairyo-proxy"] == {"kakuninsho"}
    assert shipped_engine._entry_subjects["myna-cancel-proxy"] == {"myna"}
    asked = shipped_engine.ask("マイナ保険証の解除を家族が代わりにできる？")
    hits = {hit.target: hit for hit in asked.hits}
    tied = [
        replace(hits["myna-cancel-proxy"], target="youhairyo-proxy", score=11.0),
        replace(hits["myna-cancel-proxy"], score=10.0),
    ]
    ranked = shipped_engine._on_subject(tied, asked.normalised)
    assert [hit.target for hit in ranked] == ["myna-cancel-proxy", "youhairyo-proxy"]


def test_an_entry_the_question_names_only_loosely_yields_to_one_it_names(
    shipped_engine: FaqEngine,
) -> None:
    # 保険証 admits the 資格確認書's entries (members call every card so), but the entry about
    # the 保険証 itself comes first when nearly as good.
    asked = shipped_engine.ask("古い保険証は返すの？")
    hits = {hit.target: hit for hit in asked.hits}
    tied = [
        replace(hits["old-card-disposal"], target="shikaku-kakuninsho-return", score=11.0),
        replace(hits["old-card-disposal"], score=10.0),
    ]
    ranked = shipped_engine._on_subject(tied, asked.normalised)
    assert [hit.target for hit in ranked] == ["old-card-disposal", "shikaku-kakuninsho-return"]
    assert ranked[1].score == pytest.approx(11.0 * LOOSE_SUBJECT)
    # Named outright, the 資格確認書 keeps its whole score.
    named = shipped_engine._on_subject(tied, "資格確認書は返す")
    assert named[0].target == "shikaku-kakuninsho-return"
    assert named[0].score == pytest.approx(11.0)


def test_an_expired_entry_without_about_words_has_its_successors(
    shipped_engine: FaqEngine,
) -> None:
    # The expired entry lends its score to its successor: with no words of its own to rule a
    # question out, it would carry the question the successor's words rule out.
    expired = shipped_engine._entries["expired-card-interim-measure"]
    assert expired.superseded_by == "expired-card-use-now"
    assert not expired.about
    assert shipped_engine._about[expired.id] == shipped_engine._about["expired-card-use-now"]
    hit = replace(shipped_engine.ask("資格確認書").hits[0], target=expired.id, score=10.0)
    off = shipped_engine._on_about(
        [hit], "期限切れの保険証は返すの", "期限切れの保険証は返すの", "ja"
    )
    assert off[0].score == pytest.approx(10.0 * OFF_ABOUT)


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("Until when were the Itabashi NHI cards valid?", "itabashi-kokuho"),
        ("How long is the Nakano NHI certificate valid?", "nakano-kokuho"),
    ],
)
def test_an_english_question_names_a_ward_by_its_romanised_name(
    shipped_engine: FaqEngine, question: str, entry_id: str
) -> None:
    # A ward's entry answers only a question naming the ward; in English it is named Itabashi.
    decision = shipped_engine.decide(question)
    assert decision.entry is not None
    assert decision.entry.id == entry_id


def test_a_romanised_ward_name_is_a_whole_word() -> None:
    from bot.faq.matcher import _names_ward_en

    assert _names_ward_en(("板橋区",), "until when were itabashi cards valid?")
    assert not _names_ward_en(("中央区",), "chuoh")  # not a word of the question
    assert not _names_ward_en(("北区",), "kitakyushu")


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        (
            "期限切れ保険証の暫定措置は、当初はいつまでの予定だった？",
            "expired-card-interim-measure",
        ),
        ("期限切れ保険証の暫定措置は最初はいつまでだったん？", "expired-card-interim-measure"),
        (
            "How long was the grace period for expired cards originally meant to run?",
            "expired-card-interim-measure",
        ),
        ("期限切れ保険証の暫定措置はいつまで？", "expired-card-use-now"),
        (
            "後期高齢者の資格確認書を全員に送る暫定運用は、いつまで続いてたの？",
            "kouki-interim-rule",
        ),
        ("後期高齢者の資格確認書を全員に送る暫定運用は、いつまで続くの？", "kouki-after-2026-08"),
        # hearsay in the middle is not the past: 言ってたけど
        ("友達が言ってたけど、後期高齢者の資格確認書の暫定運用はいつまで？", "kouki-after-2026-08"),
        ("How long does the grace period for expired cards run?", "expired-card-use-now"),
    ],
)
def test_how_things_were_at_first_is_asked_of_the_expired_entry(
    shipped_engine: FaqEngine, question: str, entry_id: str
) -> None:
    """当初, 最初は, 〜てたの？, originally ask about the past: the expired entry answers, not its
    successor."""
    assert answered_by(shipped_engine, question) == entry_id


def answered_by(engine: FaqEngine, question: str) -> str | None:
    """The id of the entry the engine answers `question` with (None: no answer)."""
    decision = engine.decide(question)
    return decision.entry.id if decision.entry is not None else None
