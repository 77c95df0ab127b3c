"""Measure the FAQ on a file of real member questions: accuracy, declines, speed.

The file is a YAML list like the campaign's development set: `q`, `must_contain` (strings a
correct answer contains), `out_of_scope` (true: the bot must not answer from the FAQ), and
optionally `topic`. 令和 dates and か/カ/ヶ counters compare as equal.
"""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, RootModel

from bot.faq.matcher import Decision, FaqEngine, Outcome
from bot.yaml_validation import read_yaml, validate

_REIWA = re.compile(r"令和(元|\d+)年")
_COUNTER = re.compile(r"(?<=\d)[ヶケカヵ]")
NOT_DECLINED = {Outcome.ANSWER, Outcome.SUGGEST}


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    q: str = Field(min_length=1)
    must_contain: list[str] = []
    out_of_scope: bool = False
    topic: str | None = None


class EvalFile(RootModel[list[EvalQuestion]]):
    pass


def comparable(text: str) -> str:
    """Text in the form answers and expectations are compared in."""
    folded = unicodedata.normalize("NFKC", text)
    folded = _REIWA.sub(
        lambda m: f"{2018 + (1 if m.group(1) == '元' else int(m.group(1)))}年", folded
    )
    folded = _COUNTER.sub("か", folded)
    return re.sub(r"\s+", "", folded)


def contains_all(answer: str, expected: list[str]) -> bool:
    text = comparable(answer)
    return all(comparable(part) in text for part in expected)


@dataclass(frozen=True)
class Result:
    question: EvalQuestion
    decision: Decision
    passed: bool
    seconds: float


@dataclass
class EvalReport:
    results: list[Result] = field(default_factory=list)

    @property
    def in_scope(self) -> list[Result]:
        return [r for r in self.results if not r.question.out_of_scope]

    @property
    def out_of_scope(self) -> list[Result]:
        return [r for r in self.results if r.question.out_of_scope]

    @property
    def accuracy(self) -> float:
        scoped = self.in_scope
        return sum(r.passed for r in scoped) / len(scoped) if scoped else 0.0

    @property
    def decline_rate(self) -> float:
        outside = self.out_of_scope
        return sum(r.passed for r in outside) / len(outside) if outside else 0.0

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
        mean = statistics.mean(r.seconds * 1000 for r in self.results) if self.results else 0.0
        return "\n".join(
            (
                f"in-scope accuracy: {sum(r.passed for r in inside)}/{len(inside)} "
                f"= {self.accuracy:.1%}",
                f"out-of-scope declined: {sum(r.passed for r in outside)}/{len(outside)} "
                f"= {self.decline_rate:.1%}",
                f"latency: p50 {self.latency_ms(50):.2f} ms, p99 {self.latency_ms(99):.2f} ms, "
                f"mean {mean:.2f} ms",
            )
        )


def load_questions(path: Path) -> list[EvalQuestion]:
    return list(validate(read_yaml(path), EvalFile).root)


def judge(question: EvalQuestion, decision: Decision) -> bool:
    if question.out_of_scope:
        return decision.outcome not in NOT_DECLINED
    if decision.outcome is not Outcome.ANSWER or decision.entry is None:
        return False
    return contains_all(decision.entry.answer, question.must_contain)


def evaluate(engine: FaqEngine, questions: list[EvalQuestion]) -> EvalReport:
    report = EvalReport()
    for question in questions:
        started = time.perf_counter()
        decision = engine.decide(question.q)
        elapsed = time.perf_counter() - started
        report.results.append(Result(question, decision, judge(question, decision), elapsed))
    return report
