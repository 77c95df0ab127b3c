"""The holdout of 2026-11, written from the fact sheet by someone who never saw the knowledge
base (tests/fixtures/faq/holdout_2026_11.yaml), and its kana/typo pairs (kana_pairs.yaml).
Both were read while the bot was tuned in issue 14: they are development sets now, and
holdout_2026_11.yaml is among the files thresholds are calibrated on; the honest figure comes
from the untouched holdout_2026_12.yaml, which the maintainers measure. This test REPORTS their
scores (run pytest with -s, or `campaign-bot faq eval` on the files) and only checks a sanity
floor, far below the targets, that catches a broken engine or a file the loader misreads.

Correct, for a holdout question: the bot answers with an entry whose `facts:` include the
question's primary (first) fact, and the answer with its くわしく text contains every
must_contain item (one of each list of alternatives). See `bot.faq.evaluation`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.faq.evaluation import EvalQuestion, evaluate, load_questions
from bot.faq.matcher import FaqEngine
from tests.conftest import ROOT
from tests.faq import fact_sheet

FIXTURES = ROOT / "tests" / "fixtures" / "faq"
HOLDOUT = FIXTURES / "holdout_2026_11.yaml"
PAIRS = FIXTURES / "kana_pairs.yaml"
# A sanity floor on the lenient in-scope score and the off-topic decline rate, not a target
# (targets: 95% strict in scope and declined off-topic, 90% for English); the maintainers set
# the floor they want once the holdout has been read.
SANITY_FLOOR = 0.5


@pytest.mark.parametrize("path", [HOLDOUT, PAIRS], ids=lambda p: p.name)
def test_holdout_is_reported(path: Path, shipped_engine: FaqEngine) -> None:
    questions = load_questions(path)  # a missing or empty file is a failure, not a skip
    assert questions, path
    report = evaluate(shipped_engine, questions)
    print(f"\n== {path.name}\n{report.summary()}")
    print(f"questions nearly equal to a knowledge-base phrasing: {len(_coincidences(questions))}")
    if report.in_scope:
        # Lenient: the right entry answered or offered. A broken engine or a misread file
        # falls far below; a cautious one that offers もしかして does not.
        assert report.rate(report.in_scope, lenient=True).share >= SANITY_FLOOR, report.summary()
    if report.out_of_scope:
        assert report.rate(report.out_of_scope).share >= SANITY_FLOOR, report.summary()


def test_the_holdout_names_real_facts() -> None:
    facts = fact_sheet.find()
    if facts is None:
        pytest.skip("the fact sheet is not beside the repository (../shared)")
    import re

    numbers = {int(n) for n in re.findall(r"^(\d+)\. ", facts.read_text("utf-8"), re.M)}
    for question in load_questions(HOLDOUT):
        assert set(question.facts) <= numbers, question.q
        assert question.out_of_scope or question.facts, question.q


def _coincidences(questions: list[EvalQuestion]) -> list[str]:
    """Holdout questions that nearly equal a phrasing (reported, never acted on)."""
    from bot.faq.knowledge import load_knowledge
    from tests.faq.test_knowledge_base import TODAY, _bigrams, _comparable

    knowledge = load_knowledge(ROOT / "knowledge", TODAY)
    phrasings = [
        _bigrams(_comparable(p))
        for entry in knowledge.entries
        for p in (*entry.questions, *entry.questions_en)
    ]
    found = []
    for question in questions:
        theirs = _bigrams(_comparable(question.q))
        if any(len(mine & theirs) >= 0.6 * max(1, len(mine | theirs)) for mine in phrasings):
            found.append(question.q)
    return found
