"""Choose the engine's thresholds by leave-one-out over the knowledge base's own phrasings.

Every phrasing of every entry (Japanese and English) is asked as if a member had written it,
with that phrasing left out of the index (`Index.search(leave_out=...)`): its entry must then
be found through its other phrasings, its title and its answer, as an unseen question would.
Every phrasing of a decline route is asked the same way and must not be answered. Then every
combination of thresholds on a grid is tried on these decisions, and the one with the lowest
cost is kept, where a wrong answer costs `WRONG` (wrong health-insurance advice hurts), an
off-topic question answered costs `WRONG` too, a right entry only offered (もしかして) costs
`OFFERED`, a wrong answer shown with the right entry offered below it costs `WRONG_OFFERED`
(the member sees the right answer one tap away, and the caution that others may fit), and
anything else that misses costs 1. Ties go to the stricter thresholds.

The two kinds of question weigh the same in the cost, whatever their numbers: each kind's cost
is divided by its number of questions (`Calibration.cost` is the sum of these two means). There
are about twice as many phrasings as members' questions, and phrasings left out one at a time
prefer the strictest thresholds (they are short and written in the knowledge base's words);
counted one for one, they outvoted the members' questions the thresholds are for, and the rule
"answer the first もしかして candidate when it clearly leads" was never chosen.

Beside the phrasings, the members' questions of the tuning files (`TUNING_FILES`, written to
be tuned on: the dev set, the validation set and tests/fixtures/faq/tuning_*.yaml) are asked
as they are, with the entries their `accept:` or primary fact names: phrasings left out one at a
time are written in the knowledge base's own words and are a pessimistic stand-in for members,
who write longer questions with their own circumstances. No evaluation file is ever read: a
holdout or a pairs file given by mistake is refused (`tuning_files`, `calibrate`).
`campaign-bot faq calibrate` runs this and writes `knowledge/thresholds.yaml`, which the engine
reads.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.faq.evaluation import EvalQuestion, acceptable, load_questions
from bot.faq.knowledge import THRESHOLDS_FILE, KnowledgeBase, RouteKind, Thresholds
from bot.faq.matcher import Asked, FaqEngine, Outcome

# The question files thresholds may be chosen on (relative to the repository): tuning sets only.
TUNING_FILES = (
    "dev_questions.yaml",
    "validation_questions.yaml",
    "tuning_*.yaml",
    "holdout_2026_11.yaml",  # read while tuning (see SEEN): a development set now
)
_EVALUATION = ("holdout", "kana_pairs")  # never read, whatever a caller passes
# Former holdouts that were read while the knowledge base was tuned: development sets now. The
# untouched holdout (holdout_2026_12.yaml) is not among them.
SEEN = frozenset({"holdout_2026_11.yaml"})

WRONG = 3.0
OFFERED = 0.75
WRONG_OFFERED = 1.5
# 0.30 .. 0.60. Above 0.6 a question must be written almost wholly in the knowledge base's
# own words: leave-one-out, whose questions are those words, prefers such thresholds, but
# members' questions (longer, with their own circumstances) would then rarely be answered.
ANSWER_GRID = [round(0.30 + 0.05 * i, 2) for i in range(7)]
SUGGEST_GAPS = [0.1, 0.2, 0.3]  # suggest_at = answer_at - gap
UNKNOWN_GAP = 0.1  # unknown_at = suggest_at - 0.1: "don't know" and a decline cost the same here
MARGINS = [1.0]  # a margin above 1 turned right answers into もしかして on the tuning sets
LEADS = [1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 99.0]  # 99: never answer from もしかして


@dataclass(frozen=True)
class Case:
    """One phrasing asked with itself left out, and what a right decision is."""

    text: str
    asked: Asked
    expected: frozenset[str]  # acceptable entry ids; empty: must not be answered


@dataclass(frozen=True)
class Calibration:
    thresholds: Thresholds
    cost: float
    cases: int
    right: int  # answered with an acceptable entry, or declined when off-topic
    wrong: int  # answered with another entry, or off-topic answered
    offered: int  # the right entry only offered (もしかして)


def cases(engine: FaqEngine) -> Iterator[Case]:
    """Every phrasing of the knowledge base, asked with itself left out."""
    entries = {entry.id: entry for entry in engine.knowledge.entries}
    routes = {route.id: route for route in engine.knowledge.routes}
    for language, index in (("ja", engine.index), ("en", engine.english_index)):
        for position, document in enumerate(index.documents):
            if document.field != "question":
                continue
            text = document.text
            entry = entries.get(document.target)
            asked = engine.ask_again(document, language, leave_out=position)
            if entry is not None:
                accepted = {entry.id}
                if entry.superseded_by:  # present-tense phrasings may go to the successor
                    accepted.add(entry.superseded_by)
                yield Case(text, asked, frozenset(accepted))
            elif routes[document.target].kind is RouteKind.DECLINE:
                yield Case(text, asked, frozenset())


def tuning_files(directory: Path) -> list[Path]:
    """The tuning files in `directory` (tests/fixtures/faq), never an evaluation file."""
    found = sorted({path for pattern in TUNING_FILES for path in directory.glob(pattern)})
    return [path for path in found if not is_evaluation(path)]


def is_evaluation(path: Path) -> bool:
    return path.name.startswith(_EVALUATION) and path.name not in SEEN


def question_cases(engine: FaqEngine, questions: list[EvalQuestion]) -> Iterator[Case]:
    """Members' questions of a tuning file, asked as they are."""
    for question in questions:
        expected = frozenset(
            entry.id
            for entry in engine.knowledge.entries
            if not question.out_of_scope and acceptable(question, entry)
        )
        if question.out_of_scope or expected:
            yield Case(question.q, engine.ask(question.q), expected)


def cost_of(engine: FaqEngine, all_cases: list[Case], limits: Thresholds) -> Calibration:
    cost = 0.0
    right = wrong = offered = 0
    for case in all_cases:
        decision = engine.choose(case.asked, limits)
        answered = (
            decision.entry.id if decision.outcome is Outcome.ANSWER and decision.entry else None
        )
        if not case.expected:
            if answered is not None:
                cost += WRONG
                wrong += 1
            elif decision.outcome is Outcome.SUGGEST:
                cost += OFFERED
            else:
                right += 1
            continue
        if answered in case.expected:
            right += 1
        elif answered is not None:
            offered_below = any(e.id in case.expected for e in decision.suggestions)
            cost += WRONG_OFFERED if offered_below else WRONG
            wrong += 1
        elif any(e.id in case.expected for e in decision.suggestions):
            cost += OFFERED
            offered += 1
        else:
            cost += 1
    return Calibration(limits, cost, len(all_cases), right, wrong, offered)


def grid() -> Iterator[Thresholds]:
    for answer_at, gap, margin, lead in itertools.product(
        ANSWER_GRID, SUGGEST_GAPS, MARGINS, LEADS
    ):
        suggest_at = round(answer_at - gap, 2)
        if suggest_at <= 0 or lead < margin:
            continue
        yield Thresholds(
            answer_at, suggest_at, round(max(0.0, suggest_at - UNKNOWN_GAP), 2), lead, margin
        )


def calibrate(
    knowledge: KnowledgeBase,
    engine: FaqEngine | None = None,
    questions: list[Path] | None = None,
) -> dict[str, Calibration]:
    """The grid's cheapest thresholds for each language (see the module's docstring).

    Japanese and English questions are searched in different indexes whose scores and
    confidences are not on one scale, so each language gets its own thresholds, chosen on its
    own phrasings and decline routes.
    """
    engine = engine or FaqEngine(knowledge)
    phrasings: dict[str, list[Case]] = {"ja": [], "en": []}
    members: dict[str, list[Case]] = {"ja": [], "en": []}
    for case in cases(engine):
        phrasings[case.asked.language].append(case)
    for path in questions or []:
        if is_evaluation(path):
            raise ValueError(f"{path} is an evaluation file: thresholds are never chosen on it")
        for case in question_cases(engine, load_questions(path)):
            members[case.asked.language].append(case)
    chosen: dict[str, Calibration] = {}
    for language in phrasings:
        best: Calibration | None = None
        for limits in grid():
            found = _balanced(
                cost_of(engine, phrasings[language], limits),
                cost_of(engine, members[language], limits),
            )
            stricter = (
                best is not None
                and found.cost == best.cost
                and (
                    (limits.answer_at, limits.margin, limits.lead)
                    > (best.thresholds.answer_at, best.thresholds.margin, best.thresholds.lead)
                )
            )
            if best is None or found.cost < best.cost or stricter:
                best = found
        assert best is not None
        chosen[language] = best
    return chosen


def _balanced(phrasings: Calibration, members: Calibration) -> Calibration:
    """Both kinds of question together, each kind's cost as a mean (see the module's docstring)."""
    cost = sum(part.cost / part.cases for part in (phrasings, members) if part.cases)
    return Calibration(
        phrasings.thresholds,
        cost,
        phrasings.cases + members.cases,
        phrasings.right + members.right,
        phrasings.wrong + members.wrong,
        phrasings.offered + members.offered,
    )


def _block(result: Calibration, today: date, indent: str) -> str:
    limits = result.thresholds
    return (
        f"{indent}answer_at: {limits.answer_at}\n"
        f"{indent}suggest_at: {limits.suggest_at}\n"
        f"{indent}unknown_at: {limits.unknown_at}\n"
        f"{indent}lead: {limits.lead}\n"
        f"{indent}margin: {limits.margin}\n"
        f'{indent}chosen: "{today.isoformat()}: leave-one-out over the phrasings and the tuning '
        f"questions ({result.cases}); {result.right} right, {result.wrong} wrong, "
        f'{result.offered} only offered; cost {result.cost:.3f}"\n'
    )


def write(directory: Path, results: dict[str, Calibration], today: date) -> Path:
    """Write the chosen thresholds where `load_knowledge` reads them."""
    path = directory / THRESHOLDS_FILE
    path.write_text(
        "# Written by `campaign-bot faq calibrate`; do not edit by hand, run it again.\n"
        "# 判定のしきい値。`campaign-bot faq calibrate` が知識ベースの聞き方から選びます。\n"
        + _block(results["ja"], today, "")
        + "english:\n"
        + _block(results["en"], today, "  "),
        encoding="utf-8",
    )
    return path
