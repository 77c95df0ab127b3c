"""Measure the FAQ on a file of questions: strict and lenient accuracy with 95% intervals.

Two file shapes are read (the shape is recognised from the keys):

- a list of questions: `q`, `lang` (ja or en; guessed from the text when absent),
  `must_contain` (each item a string or a list of alternatives: [無料, 無償]),
  `out_of_scope`, and which answers are right: `accept` (entry ids, for tuning sets written
  next to the knowledge base) or `facts` (fact-sheet numbers, primary first, for sets written
  from the fact sheet alone, such as the holdout);
- a list of kana/typo pairs: `id`, `kanji`, `kana`, `typo`, `facts`, `must_contain`; each pair
  is asked in its three forms.

Scoring, the same for every file:

- **strict**: in scope, the bot answers (not もしかして) with an acceptable entry, and the
  answer with its「くわしく」 text contains every `must_contain` item (one of each list of
  alternatives). An entry is acceptable when its id is in `accept`, or, without `accept`,
  when its `facts` include the question's primary (first) fact. Out of scope: the bot
  declines, routes, or says it does not know (neither answers nor offers もしかして).
- **lenient**: in scope, an acceptable entry is answered or offered (もしかして, or beside an
  answer), where acceptable by facts means sharing any of the question's facts, and
  `must_contain` is not required; out of scope, the bot does not answer (offering is fine).

Text is compared after NFKC, lower case, without spaces, with 令和 years as 西暦, か/カ/ヶ
counters alike and thousands separators dropped (1,000円 = 1000円).
"""

from __future__ import annotations

import math
import re
import statistics
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel

from bot.faq import english
from bot.faq.knowledge import Entry
from bot.faq.matcher import Decision, FaqEngine, Outcome
from bot.yaml_validation import read_yaml, validate

_REIWA = re.compile(r"令和(元|\d+)年")
_COUNTER = re.compile(r"(?<=\d)[ヶケカヵ箇]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
NOT_DECLINED = {Outcome.ANSWER, Outcome.SUGGEST}
Z95 = 1.959963984540054

Expected = str | list[str]


def _as_expected(value: Any) -> Any:
    """must_contain items as text: a number written bare (`- 14`) is the string "14"."""
    if not isinstance(value, list):
        return value
    return [
        [str(option) for option in item] if isinstance(item, list) else str(item) for item in value
    ]


ExpectedList = Annotated[list[Expected], BeforeValidator(_as_expected)]


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    q: str = Field(min_length=1)
    lang: str | None = None
    must_contain: ExpectedList = []
    out_of_scope: bool = False
    accept: list[str] = []
    facts: list[int] = []
    topic: str | None = None
    form: str | None = None  # kanji, kana or typo, for questions of a pairs file
    pair: str | None = None

    @property
    def language(self) -> str:
        if self.lang in ("ja", "en"):
            return self.lang
        return "en" if english.is_english(self.q) else "ja"


class _Pair(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    kanji: str = Field(min_length=1)
    kana: str = Field(min_length=1)
    typo: str = Field(min_length=1)
    facts: list[int] = []
    accept: list[str] = []
    must_contain: ExpectedList = []


def comparable(text: str) -> str:
    """Text in the form answers and expectations are compared in."""
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = _REIWA.sub(
        lambda m: f"{2018 + (1 if m.group(1) == '元' else int(m.group(1)))}年", folded
    )
    folded = _COUNTER.sub("か", folded)
    folded = _THOUSANDS.sub("", folded)
    return re.sub(r"\s+", "", folded)


def contains_all(answer: str, expected: Iterable[Expected]) -> bool:
    """Every item is in the answer; an item that is a list needs one of its alternatives."""
    text = comparable(answer)
    return all(
        any(comparable(option) in text for option in ([item] if isinstance(item, str) else item))
        for item in expected
    )


def wilson(successes: int, total: int) -> tuple[float, float]:
    """The Wilson score interval (95%) of a proportion; (0, 1) when nothing was counted."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    denominator = 1 + Z95**2 / total
    centre = (p + Z95**2 / (2 * total)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / total + Z95**2 / (4 * total**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Result:
    question: EvalQuestion
    decision: Decision
    passed: bool  # strict
    lenient: bool
    seconds: float


@dataclass(frozen=True)
class Rate:
    passed: int
    total: int

    @property
    def share(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def __str__(self) -> str:
        low, high = wilson(self.passed, self.total)
        return f"{self.passed}/{self.total} = {self.share:.1%} (95% CI {low:.1%}-{high:.1%})"


@dataclass
class EvalReport:
    results: list[Result] = field(default_factory=list)

    @property
    def in_scope(self) -> list[Result]:
        return [r for r in self.results if not r.question.out_of_scope]

    @property
    def out_of_scope(self) -> list[Result]:
        return [r for r in self.results if r.question.out_of_scope]

    def rate(self, results: list[Result], *, lenient: bool = False) -> Rate:
        return Rate(sum(r.lenient if lenient else r.passed for r in results), len(results))

    @property
    def accuracy(self) -> float:
        return self.rate(self.in_scope).share

    @property
    def decline_rate(self) -> float:
        return self.rate(self.out_of_scope).share

    def latency_ms(self, percentile: float) -> float:
        times = sorted(r.seconds * 1000 for r in self.results)
        if not times:
            return 0.0
        return times[min(len(times) - 1, round(percentile / 100 * (len(times) - 1)))]

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        inside, outside = self.in_scope, self.out_of_scope
        lines = []
        if inside:
            lines += [
                f"in-scope strict:  {self.rate(inside)}",
                f"in-scope lenient: {self.rate(inside, lenient=True)}",
            ]
        if outside:
            lines += [
                f"off-topic declined strict:  {self.rate(outside)}",
                f"off-topic declined lenient: {self.rate(outside, lenient=True)}",
            ]
        for language in ("ja", "en"):
            subset = [r for r in inside if r.question.language == language]
            if subset and len(subset) != len(inside):
                lines.append(f"in-scope strict, {language}: {self.rate(subset)}")
        forms = sorted({r.question.form for r in self.results if r.question.form})
        for form in forms:
            subset = [r for r in inside if r.question.form == form]
            lines.append(f"in-scope strict, {form} form: {self.rate(subset)}")
        if forms:
            lines.append(f"pairs: {self.pair_agreement()}")
        mean = statistics.mean(r.seconds * 1000 for r in self.results) if self.results else 0.0
        lines.append(
            f"latency: p50 {self.latency_ms(50):.2f} ms, p99 {self.latency_ms(99):.2f} ms, "
            f"mean {mean:.2f} ms"
        )
        return "\n".join(lines)

    def pair_agreement(self) -> str:
        """How often the kana and typo forms do as well as their kanji form."""
        by_pair: dict[str, dict[str, bool]] = {}
        for result in self.results:
            if result.question.pair and result.question.form:
                by_pair.setdefault(result.question.pair, {})[result.question.form] = result.passed
        same = sum(
            forms.get("kana") == forms.get("kanji") and forms.get("typo") == forms.get("kanji")
            for forms in by_pair.values()
        )
        return f"{same}/{len(by_pair)} pairs score the same in all three forms"


def load_questions(path: Path) -> list[EvalQuestion]:
    """The questions of a file of either shape (see the module's docstring)."""
    document = read_yaml(path)
    raw: Any = document.data
    if isinstance(raw, list) and raw and isinstance(raw[0], dict) and "kanji" in raw[0]:
        pairs = validate(document, _PairFile).root
        return [
            EvalQuestion(
                q=getattr(pair, form),
                must_contain=pair.must_contain,
                facts=pair.facts,
                accept=pair.accept,
                form=form,
                pair=pair.id,
                lang="ja",
            )
            for pair in pairs
            for form in ("kanji", "kana", "typo")
        ]
    return list(validate(document, _EvalFile).root)


class _EvalFile(RootModel[list[EvalQuestion]]):
    pass


class _PairFile(RootModel[list[_Pair]]):
    pass


def acceptable(question: EvalQuestion, entry: Entry, *, lenient: bool = False) -> bool:
    if question.accept:
        return entry.id in question.accept
    if question.facts:
        wanted = question.facts if lenient else question.facts[:1]
        return any(fact in entry.facts for fact in wanted)
    return True  # only must_contain says what is right


def judge(question: EvalQuestion, decision: Decision) -> tuple[bool, bool]:
    """(strict, lenient): see the module's docstring."""
    if question.out_of_scope:
        return decision.outcome not in NOT_DECLINED, decision.outcome is not Outcome.ANSWER
    answered = decision.entry if decision.outcome is Outcome.ANSWER else None
    strict = False
    if answered is not None and acceptable(question, answered):
        _, answer, more = answered.text(decision.language)
        strict = contains_all(answer + "\n" + (more or ""), question.must_contain)
    shown = ([answered] if answered is not None else []) + list(decision.suggestions)
    lenient = strict or any(acceptable(question, entry, lenient=True) for entry in shown)
    return strict, lenient


def evaluate(engine: FaqEngine, questions: list[EvalQuestion]) -> EvalReport:
    report = EvalReport()
    for question in questions:
        started = time.perf_counter()
        decision = engine.decide(question.q)
        elapsed = time.perf_counter() - started
        strict, lenient = judge(question, decision)
        report.results.append(Result(question, decision, strict, lenient, elapsed))
    return report
