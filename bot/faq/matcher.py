"""Decide what to do with a question: answer it, offer likely topics, route it, or decline.

The confidence is the entry's "reach": the share of the question's information (idf-weighted
words, character bigrams and reading bigrams) that the entry mentions anywhere (title,
phrasings, answer): 1.0 when every telling word of the question is there, low when the
question is about something the knowledge base never mentions (天気, 年金). This one number
decides, is logged, and is what `campaign-bot faq ask` prints:

- at least `answer_at`, and scoring `margin` times the next entry: the best entry is answered,
  with nearly-as-good entries offered beside;
- at least `suggest_at`: likely entries are offered (もしかして); but when the first of them
  leads the next clearly (`lead` times its score), it is answered and the others offered below
  (an entry related to the first, by either's `related:`, is offered but does not hold it back),
  and a sole candidate (no other worth offering) is answered too;
- less: "I don't know" (at least `unknown_at`) or a decline.

The thresholds (one set for Japanese, one for English: two indexes, two scales) come from
`knowledge/thresholds.yaml`, written by `campaign-bot faq calibrate`
(leave-one-out over the knowledge base's own phrasings, see `bot.faq.calibration`).

Before the thresholds, what an entry is limited to is applied: an entry for one ward answers
only a question that names the ward, and comes first there when nearly as good as the best; an
entry for one scheme (後期高齢者, 国保 ...) yields to a
question that names another scheme or an age outside it; an expired entry ranks below the entry
that succeeds it, unless the question asks about the past. A decline route's subject words
(年金, 免許証 ...) decline a question outright, unless it also names the insurance card.

English questions are matched against the entries' English texts and answered in English.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from bot.faq import english
from bot.faq.analysis import INTERROGATIVES, SPELLING, Analyser, Features
from bot.faq.index import Document, Hit, Index, mostly_kana
from bot.faq.knowledge import Entry, KnowledgeBase, Route, RouteKind, Scheme, Thresholds
from bot.faq.normalise import Normaliser, fold
from bot.faq.spelling import Speller

ROUTE_AT = 0.30  # reach from which a route (events, greeting, decline) beats a weaker entry
CLEAR_LEAD = 1.15  # entries scoring within this factor of the best are offered beside it
SUGGEST_SHARE = 0.6  # suggestions score at least this share of the best one
SUGGESTIONS = 3

# Words that name a scheme in a question (after normalisation); an entry for another scheme
# yields. Employees' schemes are told apart from 国保 but not from each other.
SCHEME_WORDS: dict[Scheme, tuple[str, ...]] = {
    Scheme.KOKUHO: ("国保", "国民健康保険", "こくほ"),
    Scheme.KYOKAI: ("協会けんぽ", "協会健保"),
    Scheme.KUMIAI: ("健保組合", "健康保険組合", "組合健保"),
    Scheme.KOUKI: ("後期高齢者", "75歳以上", "後期高齢"),
}
# The things a question can be about, by the words that name them (after normalisation). A
# question that names some of them is not answered by an entry whose title names only others:
# 「資格確認書の有効期限」 is not about the 電子証明書's, however many words the two share.
# Members call every card 保険証, so a question's 保険証 admits entries about the 資格確認書
# and the マイナ保険証 too.
SUBJECTS: dict[str, tuple[str, ...]] = {
    "kakuninsho": ("資格確認書",),
    "oshirase": ("資格情報のお知らせ", "資格情報通知書", "お知らせ"),
    "ecert": ("電子証明書", "有効期限通知書"),
    # 利用登録 (and 紐づけ, its synonym) is always the マイナ保険証's, whatever card is named.
    "myna": (
        "マイナ保険証",
        "マイナンバーカード",
        "マイナポータル",
        "スマホ保険証",
        "利用登録",
        "マイナ",
    ),
    "card": ("健康保険証", "保険証"),
    "shomeisho": ("資格証明書", "短期被保険者証", "短期証"),
    "gendogaku": ("限度額適用認定証", "限度額"),
    "jukyusha": ("高齢受給者証",),
    "kaigo": ("介護保険被保険者証", "介護保険"),
}
_SUBJECT_WORDS = {fold(w): key for key, words in SUBJECTS.items() for w in words}
_SUBJECT = re.compile("|".join(map(re.escape, sorted(_SUBJECT_WORDS, key=len, reverse=True))))
_LOOSE = {"card": {"kakuninsho", "myna"}}  # what a question's word also admits
OFF_SUBJECT = 0.7  # share of its score an entry keeps when it is about another subject
# Share an entry keeps when the question names its subject only loosely: 「古い保険証は返す？」
# admits the 資格確認書's return entry (members call every card 保険証), but the entry about
# the old 保険証 itself, nearly as good, comes first.
LOOSE_SUBJECT = 0.8
# Share of its score an entry with `about:` words keeps when the question uses none of them:
# 「資格確認書をもらうのにお金はかかる？」 shares お金 and かかる with the reissue answer, but
# asks nothing about losing the card.
OFF_ABOUT = 0.65

# How an English question names a ward or city: by its romanised name (Itabashi, Setagaya).
_WARDS_EN = {
    "千代田区": "chiyoda", "中央区": "chuo", "港区": "minato", "新宿区": "shinjuku",
    "文京区": "bunkyo", "台東区": "taito", "墨田区": "sumida", "江東区": "koto",
    "品川区": "shinagawa", "目黒区": "meguro", "大田区": "ota", "世田谷区": "setagaya",
    "渋谷区": "shibuya", "中野区": "nakano", "杉並区": "suginami", "豊島区": "toshima",
    "北区": "kita", "荒川区": "arakawa", "板橋区": "itabashi", "練馬区": "nerima",
    "足立区": "adachi", "葛飾区": "katsushika", "江戸川区": "edogawa",
    "西東京市": "nishitokyo", "狛江市": "komae", "多摩市": "tama", "八王子市": "hachioji",
    "町田市": "machida", "武蔵野市": "musashino", "三鷹市": "mitaka", "調布市": "chofu",
}  # fmt: skip
_EMPLOYEE = ("会社の保険", "会社の健康保険", "社会保険", "共済", "勤め先の")
_EN_SCHEMES = {Scheme.KOKUHO: "nhi", Scheme.KOUKI: "kouki", Scheme.KYOKAI: "kyokai"}
# An age is also a number someone turns: 「来月で75になります」 is written without 歳.
_AGE = re.compile(r"(?<![\d.,])(\d{2,3})(?:歳|才|さい|にな[るっりれ])")
# A person's age in brackets after them, as members write it: 「母(84)」, "my mother (84)".
_AGE_IN_BRACKETS = re.compile(r"(?<=[^\s\d(])\s?\((\d{2,3})\)")
_EN_AGE = re.compile(r"\b(\d{2,3})(?:-year-old| years? old| year old)\b")
_EN_AGE_PLAIN = re.compile(
    r"\b(?:i am|i'm|is|aged|turn|turns|turned|turning|reach|reaches|reached|reaching) (\d{2,3})\b"
)
# A question about how things were (当時, でした, 3月末まで) may be answered by an expired entry.
# A question that asks which ward does something cannot name the ward: every ward's entry may
# answer it (「全員に資格確認書を送った区はどこ」).
_WHICH_WARD = re.compile(
    r"どの区|どこの区|どこの市|何区|どの自治体|どこの自治体|区はどこ|市はどこ|自治体はどこ|"
    r"\b(?:which|what) (?:tokyo )?(?:wards?|cities|city|municipalit(?:y|ies))\b"
)
_PAST_JA = re.compile(
    r"当時|以前|前は|の頃|去年|昨年|当初|最初は|まででした|だったの|だったん|だった頃|"
    # 出してたの？ at the end (not 言ってたけど in the middle)
    r"[てで]い?たの(?:ですか|でしょうか)?[?？。]*$|[てで]い?たんですか"
)
_PAST_EN = re.compile(
    r"\b(was it|were they|back then|at the time|used to|last year|originally|"
    r"last (?:spring|summer|autumn|fall|winter)|"
    r"when did (?:it|that|this|the rule) (?:start|begin))\b"
)


class Outcome(enum.StrEnum):
    ANSWER = "answered"
    SUGGEST = "suggested"
    UNKNOWN = "unknown"  # about the insurance card, but no answer is sure enough
    DECLINE = "declined"  # not something the bot answers
    EVENTS = "events"
    GREETING = "greeting"
    THANKS = "thanks"
    EMPTY = "empty"  # nothing to go on: emoji, a single character


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    normalised: str
    entry: Entry | None = None
    suggestions: tuple[Entry, ...] = ()  # もしかして; with an answer, the close alternatives
    confidence: float = 0.0  # the number that decided: the best candidate's reach
    score: float = 0.0
    language: str = "ja"  # the question's language; the answer is given in it
    best: Hit | None = None
    runner_up: Hit | None = None
    hits: tuple[Hit, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Asked:
    """A question analysed: what the thresholds are applied to (`FaqEngine.choose`)."""

    normalised: str
    language: str
    hits: tuple[Hit, ...] = ()
    routed: Outcome | None = None  # decided before any threshold: a route, or nothing to go on
    route_hit: Hit | None = None
    # The best entry the question's scheme, age or ward ruled out, when every entry was: the
    # question is about what we answer, but not for this member (not "not ours").
    ruled_out: Hit | None = None


class FaqEngine:
    def __init__(
        self,
        knowledge: KnowledgeBase,
        analyser: Analyser | None = None,
        *,
        today: Callable[[], date | None] = lambda: None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.thresholds = thresholds or knowledge.thresholds
        self.thresholds_en = thresholds or knowledge.thresholds_en
        self._today = today
        self._analyser = analyser or Analyser()
        self._normalise = Normaliser(knowledge.synonyms)
        self._entries = {entry.id: entry for entry in knowledge.entries}
        self._routes = {route.id: route for route in knowledge.routes}
        self._entry_subjects = {
            entry.id: subjects_of(self._normalise(entry.title)) for entry in knowledge.entries
        }
        self._about: dict[str, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = {
            entry.id: (
                # As words, not sentences: 「届かな」 is not cut to 「届」 (see `Normaliser.word`);
                # one alternation, searched in C, instead of a loop over words and texts.
                _any_of({*map(fold, about), *map(self._normalise.word, about)}),
                # English at the start of a word: `id` is not in `did`.
                _any_of({*map(english.normalise, about_en)}, after=r"(?<![a-z0-9])"),
            )
            for entry in knowledge.entries
            for about, about_en in [self._about_words(entry)]
            if about or about_en
        }
        self.index = Index(list(self._documents()))
        # The knowledge base's own kanji words, for questions whose kanji were mis-converted.
        self._speller = Speller((document.text for document in self.index.documents), SPELLING)
        self.english_index = Index(list(self._english_documents()))
        self._subjects = [
            (
                route,
                _SubjectRule.of(
                    [tuple(map(self._subject_form, word.split("+"))) for word in route.subject],
                    {
                        *map(self._subject_form, route.unless),
                        *map(self._normalise.word, route.unless),
                    },
                ),
            )
            for route in knowledge.routes
            if route.subject
        ]
        # A decline route's `unless:` words make a question ours: its phrasings do not
        # decline such a question either (「救急車で運ばれて保険証がなかった」 is ours).
        self._unless = {route.id: rule for route, rule in self._subjects if rule.unless}
        self._parts = tuple(
            {part for _, rule in self._subjects for t in rule.together for part in t}
        )
        # Any one-word subject of any route: most questions name none, and need not be
        # searched route by route.
        self._any_one_word = _any_of({w for _, rule in self._subjects for w in rule.one_words})

    # --- building -------------------------------------------------------------------------

    def _documents(self) -> list[Document]:
        documents = []
        for entry in self.knowledge.entries:
            for text, kind in [(entry.title, "title"), *((q, "question") for q in entry.questions)]:
                documents.append(self._document(entry.id, kind, text))
            answer = entry.answer + (entry.more or "")
            documents.append(self._document(entry.id, "answer", answer))
        for route in self.knowledge.routes:
            documents.extend(
                self._document(route.id, "question", q)
                for q in route.questions
                if not english.is_english(q)
            )
        return documents

    def _about_words(self, entry: Entry) -> tuple[list[str], list[str]]:
        """An entry's `about:` words; an expired entry without any (in a language) has its
        successor's.

        The two are about one subject in two periods, and the expired one lends its score to
        its successor (`_limited`): without the successor's words it would carry a question
        the successor's words rule out (「期限切れの保険証は返すの？」 is not about using it).
        """
        successor = self._entries.get(entry.superseded_by or "")
        if successor is None:
            return list(entry.about), list(entry.about_en)
        # Each language on its own: English words of its own do not lose it the Japanese ones.
        return list(entry.about or successor.about), list(entry.about_en or successor.about_en)

    def _english_documents(self) -> list[Document]:
        documents: list[Document] = []
        for entry in self.knowledge.entries:
            if not entry.answer_en:
                continue
            texts = [
                (entry.title_en or "", "title"),
                *((q, "question") for q in entry.questions_en),
            ]
            documents.extend(
                Document(entry.id, kind, english.features(text), text)
                for text, kind in texts
                if text
            )
            answer = entry.answer_en + " " + (entry.more_en or "")
            documents.append(Document(entry.id, "answer", english.features(answer)))
        for route in self.knowledge.routes:
            documents.extend(
                Document(route.id, "question", english.features(q), q)
                for q in route.questions
                if english.is_english(q) or q.isascii()
            )
        return documents

    def _document(self, target: str, kind: str, text: str) -> Document:
        normalised = self._normalise(text)
        return Document(target, kind, self._analyser.features(normalised), normalised)

    @staticmethod
    def _subject_form(word: str) -> str:
        # Without synonyms: 眼科 names a subject, though the synonyms fold it into 病院.
        return english.normalise(word) if word.isascii() else fold(word)

    # --- deciding -------------------------------------------------------------------------

    def decide(self, question: str) -> Decision:
        return self.choose(self.ask(question))

    def ask(self, question: str) -> Asked:
        """Analyse and search: everything about a question that does not depend on thresholds."""
        language = "en" if english.is_english(question) else "ja"
        if language == "en":
            normalised = english.normalise(question)
            query = english.features(question + _scheme_of_age(question, language))
        else:
            normalised = self._speller.correct(self._normalise(question))
            query = self._analyser.features(normalised + _scheme_of_age(normalised, language))
        return self._search(question, normalised, query, language, None)

    def ask_again(self, document: Document, language: str, *, leave_out: int) -> Asked:
        """A text of the index asked with itself left out (see `bot.faq.calibration`)."""
        normalised = english.normalise(document.text) if language == "en" else document.text
        return self._search(document.text, normalised, document.features, language, leave_out)

    def _search(
        self, question: str, normalised: str, query: Features, language: str, leave_out: int | None
    ) -> Asked:
        index = self.english_index if language == "en" else self.index
        nothing = (
            not query.words if language == "en" else (not query.words and len(query.bigrams) < 2)
        )
        if nothing:
            return Asked(normalised, language, routed=Outcome.EMPTY)
        subject = self._subject(normalised, question, language)
        if subject is not None:
            return Asked(normalised, language, routed=_ROUTED[subject.kind])
        kana = language == "ja" and mostly_kana(normalised)
        hits = index.search(query, leave_out=leave_out, limit=12, kana=kana)
        hits = [
            h for h in hits if not self._ours_after_all(h.target, normalised, question, language)
        ]
        if language == "ja":
            hits = self._on_subject(hits, normalised)
        hits = self._on_about(hits, normalised, question, language)[:8]
        if query.words and all(word in INTERROGATIVES for word in query.words):
            # 「なんだっけ」「いつ？」: a question word alone asks nothing we could answer.
            hits = [h for h in hits if h.target in self._routes]
            if not hits:
                return Asked(normalised, language, routed=Outcome.EMPTY)
        limited = self._limited(hits, normalised, question, language)
        entries = [h for h in hits if h.target in self._entries]
        ruled_out = (
            entries[0] if entries and not any(h.target in self._entries for h in limited) else None
        )
        return Asked(normalised, language, tuple(limited), ruled_out=ruled_out)

    def _on_subject(self, hits: list[Hit], normalised: str) -> list[Hit]:
        """Hits re-ranked: entries about another subject than the question's lose ground.

        An entry about a subject the question only admits loosely (see `_LOOSE`) loses a little.
        """
        asked = subjects_of(normalised)
        if not asked:
            return hits
        admitted = asked.union(*(_LOOSE.get(s, set()) for s in asked))
        rescored = []
        for hit in hits:
            about = self._entry_subjects.get(hit.target)
            if about and not about & admitted:
                hit = hit.scored(hit.score * OFF_SUBJECT)
            elif about and not about & asked:
                hit = hit.scored(hit.score * LOOSE_SUBJECT)
            rescored.append(hit)
        return sorted(rescored, key=lambda h: -h.score)

    def _on_about(
        self, hits: list[Hit], normalised: str, question: str, language: str
    ) -> list[Hit]:
        """Hits re-ranked: an entry none of whose `about:` words the question uses loses ground."""
        # こーしん is こうしん: a long-vowel mark is most often an う (こう, しょう, ほう).
        texts = (normalised, fold(question), normalised.replace("ー", "う"))
        rescored = []
        changed = False
        for hit in hits:
            words, english_words = self._about.get(hit.target, (None, None))
            if language == "en":
                named = english_words is None or bool(english_words.search(normalised))
            else:
                named = words is None or any(words.search(text) for text in texts)
            if not named:
                rescored.append(hit.scored(hit.score * OFF_ABOUT))
                changed = True
            else:
                rescored.append(hit)
        return sorted(rescored, key=lambda h: -h.score) if changed else rescored

    def _subject(self, normalised: str, question: str, language: str) -> Route | None:
        """A decline route whose subject the question names (and no insurance-card word)."""
        written = fold(question) if language == "ja" else english.normalise(question)
        # Looked for once for all the routes: whether any one-word subject is written, and the
        # parts of the `+` subjects the question names.
        named = self._any_one_word is not None and bool(self._any_one_word.search(written))
        present = {part for part in self._parts if part in written or part in normalised}
        if not named and not present:
            return None
        for route, rule in self._subjects:
            if rule.names(written, present, named) and not rule.spares(written, normalised):
                return route
        return None

    def _ours_after_all(self, target: str, normalised: str, question: str, language: str) -> bool:
        """The target is a decline route and the question uses one of its `unless:` words."""
        rule = self._unless.get(target)
        if rule is None:
            return False
        written = fold(question) if language == "ja" else english.normalise(question)
        return rule.spares(written, normalised)

    def _limited(self, hits: list[Hit], normalised: str, question: str, language: str) -> list[Hit]:
        """Hits without the entries the question rules out, successors before expired ones."""
        folded = fold(question)
        ages = _ages(question, language)
        named = {s for s, words in SCHEME_WORDS.items() if any(w in normalised for w in words)}
        if language == "en":
            words = set(normalised.replace("-", " ").split())
            named = {s for s, word in _EN_SCHEMES.items() if word in words}
        employee = any(w in normalised for w in _EMPLOYEE) or bool(
            named & {Scheme.KYOKAI, Scheme.KUMIAI}
        )
        kept: list[Hit] = []
        named_ward: set[str] = set()
        which_ward = _WHICH_WARD.search(question.lower() if language == "en" else folded)
        for hit in hits:
            entry = self._entries.get(hit.target)
            if entry is None:
                kept.append(hit)
                continue
            if entry.wards and not which_ward:
                if not any(
                    ward in text or ward.rstrip("区市") in text
                    for ward in entry.wards
                    for text in (folded, normalised)  # なかのく is 中野区 once normalised
                ) and not (language == "en" and _names_ward_en(entry.wards, normalised)):
                    continue
                # The ward is named: its own entry, when nearly as good as the best (within
                # `CLEAR_LEAD`), comes first: 「中野区の国保の保険証はいつまで」 is asked by a
                # member of 中野区, whose rules the general entry does not give.
                best = max(h.score for h in hits if h.target in self._entries)
                if hit.score * CLEAR_LEAD >= best:
                    hit = hit.scored(best)
                    named_ward.add(hit.target)
            if entry.scheme is not None and _other_scheme(entry.scheme, named, employee, ages):
                continue
            kept.append(hit)
        kept.sort(key=lambda h: (-h.score, h.target not in named_ward))
        today = self._today()
        past = (_PAST_EN if language == "en" else _PAST_JA).search(
            question.lower() if language == "en" else folded
        )
        if today is None or past:
            return kept
        # An expired entry gives way to its successor (brought in if the search missed it).
        ordered: list[Hit] = []
        for hit in kept:
            entry = self._entries.get(hit.target)
            successor = (
                self._entries.get(entry.superseded_by)
                if entry is not None and entry.superseded_by and entry.expired(today)
                else None
            )
            if successor is None or any(h.target == successor.id for h in ordered):
                if not any(h.target == hit.target for h in ordered):
                    ordered.append(hit)
                continue
            ordered.append(replace(hit, target=successor.id))
            ordered.append(hit)
        seen: set[str] = set()
        unique = []
        for hit in ordered:
            if hit.target not in seen:
                seen.add(hit.target)
                unique.append(hit)
        return unique

    def choose(self, asked: Asked, thresholds: Thresholds | None = None) -> Decision:
        """Apply the thresholds to an analysed question."""
        limits = thresholds or (self.thresholds_en if asked.language == "en" else self.thresholds)
        normalised, language, hits = asked.normalised, asked.language, list(asked.hits)
        if asked.routed is not None:
            return Decision(asked.routed, normalised, language=language)
        entry_hits = [h for h in hits if h.target in self._entries]
        route_hit = next((h for h in hits if h.target in self._routes), None)
        top = entry_hits[0] if entry_hits else None
        routed = route_hit is not None and route_hit.reach >= ROUTE_AT
        if route_hit is not None and routed and (top is None or route_hit.reach >= top.reach):
            kind = self._routes[route_hit.target].kind
            return self._decision(_ROUTED[kind], normalised, language, hits, route_hit)
        if top is None:
            ruled_out = asked.ruled_out
            if ruled_out is not None and ruled_out.reach >= limits.unknown_at:
                return self._decision(Outcome.UNKNOWN, normalised, language, hits, ruled_out)
            return Decision(Outcome.DECLINE, normalised, language=language, hits=tuple(hits))
        runner_up = entry_hits[1] if len(entry_hits) > 1 else None
        rival = (
            runner_up.score
            if runner_up is not None and runner_up.reach >= limits.suggest_at
            else 0.0
        )
        if top.reach >= limits.answer_at and top.score >= limits.margin * rival:
            close = [
                self._entries[h.target]
                for h in entry_hits[1:]
                if h.score * CLEAR_LEAD > top.score and h.reach >= limits.suggest_at
            ][: SUGGESTIONS - 1]
            return self._decision(
                Outcome.ANSWER,
                normalised,
                language,
                hits,
                top,
                runner_up,
                entry=self._entries[top.target],
                suggestions=tuple(close),
            )
        if top.reach >= limits.suggest_at:
            suggestions = self._distinct(entry_hits, top, limits)
            # Against the next entry whatever its confidence: one that barely matches is not a
            # reason to answer a question that is mostly about something else. An entry the
            # first one names as related (or that names it) is no rival: the two were written
            # to be read together, and it is offered below the answer.
            contender = next((h for h in entry_hits[1:] if not self._related(top, h)), None)
            nearest = contender.score if contender is not None else 0.0
            # A もしかして of one entry (no other is worth offering) is an answer the member has
            # to tap for: it is given, when the question is at least half-way from offering to
            # answering (「スマホの文字を大きくしたい」 barely touches the smartphone entry).
            sole = len(suggestions) == 1 and top.reach >= (limits.suggest_at + limits.answer_at) / 2
            if sole or top.score >= limits.lead * nearest:
                # The first candidate clearly leads: answer it, offer the others below.
                return self._decision(
                    Outcome.ANSWER,
                    normalised,
                    language,
                    hits,
                    top,
                    runner_up,
                    entry=self._entries[top.target],
                    suggestions=suggestions[1:],
                )
            return self._decision(
                Outcome.SUGGEST, normalised, language, hits, top, runner_up, suggestions=suggestions
            )
        # Little in common with any answer: a declined topic, or simply not ours.
        outcome = Outcome.UNKNOWN if top.reach >= limits.unknown_at else Outcome.DECLINE
        return self._decision(outcome, normalised, language, hits, top, runner_up)

    @staticmethod
    def _decision(
        outcome: Outcome,
        normalised: str,
        language: str,
        hits: Sequence[Hit],
        best: Hit,
        runner_up: Hit | None = None,
        *,
        entry: Entry | None = None,
        suggestions: tuple[Entry, ...] = (),
    ) -> Decision:
        return Decision(
            outcome,
            normalised,
            entry=entry,
            suggestions=suggestions,
            confidence=best.reach,
            score=best.score,
            language=language,
            best=best,
            runner_up=runner_up,
            hits=tuple(hits),
        )

    def _related(self, one: Hit, other: Hit) -> bool:
        first, second = self._entries[one.target], self._entries[other.target]
        return second.id in first.related or first.id in second.related

    def _distinct(self, hits: list[Hit], top: Hit, limits: Thresholds) -> tuple[Entry, ...]:
        chosen: list[Entry] = []
        for hit in hits:
            entry = self._entries[hit.target]
            if (
                hit.reach < limits.suggest_at
                or hit.score < SUGGEST_SHARE * top.score
                or entry in chosen
            ):
                continue
            chosen.append(entry)
            if len(chosen) == SUGGESTIONS:
                break
        return tuple(chosen)

    def route(self, route_id: str) -> Route | None:
        return self._routes.get(route_id)


@dataclass(frozen=True)
class _SubjectRule:
    """A decline route's subject words and `unless:` words, compiled to be searched in C.

    A question names the subject with one word as written (眼科, not the 病院 the synonyms
    fold it into), or with all the parts of a word written with `+` (マイナンバーカード+旧姓),
    each as written or after the synonyms (マイナカード is マイナンバーカード): two ordinary
    words that name a neighbouring subject together, as the card beside its photo or its
    address. An `unless:` word, as written or after the synonyms, spares the question.
    """

    one_words: frozenset[str]  # the one-word subjects
    words: re.Pattern[str] | None  # the same, compiled
    together: tuple[frozenset[str], ...]  # the `+` subjects, part by part
    unless: re.Pattern[str] | None
    parts: frozenset[str] = frozenset()  # every part of the `+` subjects

    @classmethod
    def of(cls, subject: Sequence[tuple[str, ...]], unless: set[str]) -> _SubjectRule:
        one_words = frozenset(parts[0] for parts in subject if len(parts) == 1 and parts[0])
        together = tuple(frozenset(parts) for parts in subject if len(parts) > 1 and all(parts))
        return cls(
            one_words,
            _any_of(set(one_words)),
            together,
            _any_of(set(unless)),
            frozenset().union(*together),
        )

    def names(self, written: str, present: set[str], named: bool = True) -> bool:
        """The question names the subject: `present` holds the `+` parts it names; `named`
        is False when it writes no one-word subject of any route."""
        if named and self.words is not None and self.words.search(written):
            return True
        return not present.isdisjoint(self.parts) and any(
            parts <= present for parts in self.together
        )

    def spares(self, written: str, normalised: str) -> bool:
        return self.unless is not None and bool(
            self.unless.search(written) or self.unless.search(normalised)
        )


def subjects_of(normalised: str) -> frozenset[str]:
    """The subjects (keys of `SUBJECTS`) a normalised text names."""
    return frozenset(_SUBJECT_WORDS[m] for m in _SUBJECT.findall(normalised))


def _names_ward_en(wards: Sequence[str], normalised: str) -> bool:
    """An English question names one of the wards by its romanised name (a whole word)."""
    words = set(re.findall(r"[a-z]+", normalised))
    return any(_WARDS_EN.get(ward) in words for ward in wards)


def _scheme_of_age(text: str, language: str) -> str:
    """The scheme an age of 75 or more puts a member in, to be searched with the question.

    Everyone aged 75 and over is in the 後期高齢者医療 (fact sheet 43-46): 「82歳です。どっちを
    出せば」 asks about that scheme's certificates without naming it. Empty when the question
    names a scheme itself or gives no such age.
    """
    ages = _ages(text, language)
    if language == "en":
        lowered = english.normalise(text)
        named = any(word in lowered.split() for word in _EN_SCHEMES.values())
        return " kouki" if not named and any(75 <= a <= 120 for a in ages) else ""
    folded = fold(text)
    named = any(w in folded for words in SCHEME_WORDS.values() for w in words)
    return "、後期高齢者" if not named and any(75 <= a <= 120 for a in ages) else ""


def _ages(text: str, language: str) -> list[int]:
    """The ages a question gives (82歳, 82-year-old, I'm 82, turns 75, 母(84))."""
    if language == "en":
        lowered = english.normalise(text)
        found = _EN_AGE.findall(lowered) + _EN_AGE_PLAIN.findall(lowered)
    else:
        lowered = fold(text)
        found = _AGE.findall(lowered)
    return [int(age) for age in found + _AGE_IN_BRACKETS.findall(lowered)]


def _other_scheme(scheme: Scheme, named: set[Scheme], employee: bool, ages: list[int]) -> bool:
    """The question is about another scheme than the entry's (by name, or by age).

    An age of 75 or more names the 後期高齢者医療 beside any scheme named: 「国保の母が75歳に
    なったら」 asks about the move from one to the other. Without a scheme named, it rules out
    the 国保.
    """
    admitted = named | {Scheme.KOUKI} if ages and max(ages) >= 75 else named
    if admitted and scheme not in admitted:
        return True
    if employee and scheme in (Scheme.KOKUHO, Scheme.KOUKI):
        return True
    if scheme is Scheme.KOUKI and ages and max(ages) < 75:
        return True
    # 「区の国保は75歳以上にも届く？」 names the 国保 and asks about its limit: still its entries.
    return scheme is Scheme.KOKUHO and scheme not in named and bool(ages) and min(ages) >= 75


_ROUTED = {
    RouteKind.EVENTS: Outcome.EVENTS,
    RouteKind.GREETING: Outcome.GREETING,
    RouteKind.THANKS: Outcome.THANKS,
    RouteKind.DECLINE: Outcome.DECLINE,
}


def _any_of(words: set[str], after: str = "") -> re.Pattern[str] | None:
    """A pattern found wherever one of `words` is, `after` what (None for no words).

    The words share their beginnings in a trie (保険証 and 保険料 are 保険(?:証|料)): an
    alternation of hundreds of words is tried word by word at every letter, a trie letter by
    letter, three times faster. Only whether a word is there counts, so a word that begins
    with another (保険証 after 保険) is not needed.
    """
    words.discard("")
    if not words:
        return None
    trie: dict[str, dict[str, Any]] = {}
    for word in words:
        node = trie
        for letter in word:
            node = node.setdefault(letter, {})
        node[""] = {}
    return re.compile(f"{after}(?:{_trie_pattern(trie)})")


def _trie_pattern(node: dict[str, dict[str, Any]]) -> str:
    if "" in node:
        return ""  # a word ends here: whatever may follow, it is found
    branches = [re.escape(letter) + _trie_pattern(child) for letter, child in sorted(node.items())]
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
