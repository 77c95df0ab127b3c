"""Scoring of evaluation files, Wilson intervals, and calibration on a small knowledge base."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.faq import calibration
from bot.faq.evaluation import (
    EvalQuestion,
    comparable,
    contains_all,
    evaluate,
    judge,
    load_questions,
    wilson,
)
from bot.faq.knowledge import KnowledgeBase, load_knowledge
from bot.faq.matcher import FaqEngine, Outcome


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson(95, 100)
    assert low == pytest.approx(0.8883, abs=1e-4)
    assert high == pytest.approx(0.9785, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(10, 10)[1] == pytest.approx(1.0)


def test_numbers_and_alternatives_compare_as_members_write_them() -> None:
    assert comparable("手数料は1,000円です") == comparable("手数料は1000円です")
    assert contains_all("３カ月のあいだ", ["3か月"])
    assert contains_all("令和7年12月1日まで", ["2025年12月1日"])
    assert contains_all("手数料はかかりません（無償）", [["無料", "無償"]])
    assert not contains_all("手数料は1,000円", [["無料", "無償"]])
    assert contains_all("It is FREE of charge", ["free"])


def test_strict_needs_the_right_entry_and_the_words_lenient_the_entry_shown(
    engine: FaqEngine,
) -> None:
    decision = engine.decide("マイナカードを落としてしまいました")
    assert decision.outcome is Outcome.ANSWER
    assert decision.entry is not None
    assert decision.entry.id == "lost-card"
    right = EvalQuestion(q="x", accept=["lost-card"], must_contain=["0120-95-0178"])
    in_more = EvalQuestion(q="x", accept=["lost-card"], must_contain=["約1か月"])
    wrong_entry = EvalQuestion(q="x", accept=["kakuninsho-apply"], must_contain=[])
    missing_words = EvalQuestion(q="x", accept=["lost-card"], must_contain=["1,000円"])
    assert judge(right, decision) == (True, True)
    assert judge(in_more, decision) == (True, True), "the くわしく text counts"
    assert judge(wrong_entry, decision) == (False, False)
    assert judge(missing_words, decision) == (False, True)
    off_topic = EvalQuestion(q="x", out_of_scope=True)
    assert judge(off_topic, decision) == (False, False)


def test_facts_decide_which_entries_are_acceptable(knowledge: KnowledgeBase) -> None:
    entry = knowledge.entries[0]
    with_facts = type(entry)(**{**entry.__dict__, "facts": (12, 13)})
    engine = FaqEngine(KnowledgeBase(entries=(with_facts, *knowledge.entries[1:])))
    decision = engine.decide("資格確認書ってなんですか")
    assert decision.entry is not None
    assert decision.entry.id == entry.id
    assert judge(EvalQuestion(q="x", facts=[12]), decision) == (True, True)
    assert judge(EvalQuestion(q="x", facts=[13, 12]), decision)[0], "primary fact 13 is listed"
    assert judge(EvalQuestion(q="x", facts=[11, 12]), decision) == (False, True)


def test_files_of_questions_and_of_kana_pairs_load(tmp_path: Path, engine: FaqEngine) -> None:
    questions = tmp_path / "holdout.yaml"
    questions.write_text(
        """\
- q: "資格確認書ってなんですか"
  lang: ja
  source: "paraphrased from https://example.org"
  facts: [12]
  must_contain: [[書類, 書面], 2024]
  out_of_scope: false
- q: "What is the weather tomorrow?"
  lang: en
  facts: []
  out_of_scope: true
""",
        encoding="utf-8",
    )
    pairs = tmp_path / "pairs.yaml"
    pairs.write_text(
        """\
- id: pair-01
  kanji: "資格確認書ってなんですか"
  kana: "しかくかくにんしょってなんですか"
  typo: "資格確認証ってなんですか"
  accept: [kakuninsho-what]
  must_contain: [書類]
""",
        encoding="utf-8",
    )
    loaded = load_questions(questions)
    assert [q.language for q in loaded] == ["ja", "en"]
    assert loaded[0].must_contain == [["書類", "書面"], "2024"]
    report = evaluate(engine, load_questions(pairs))
    assert [r.question.form for r in report.results] == ["kanji", "kana", "typo"]
    assert "kana form" in report.summary()
    assert "95% CI" in report.summary()


def test_calibration_really_runs_leave_one_out_and_writes_what_the_engine_reads(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    engine = FaqEngine(knowledge)
    cases = list(calibration.cases(engine))
    phrasings = sum(len(e.questions) + len(e.questions_en) for e in knowledge.entries)
    declines = sum(len(r.questions) for r in knowledge.routes if r.kind.value == "decline")
    assert len(cases) == phrasings + declines
    # Left out, a phrasing is not found through itself: its exact text no longer covers it all.
    asked = engine.ask("資格確認書ってなんですか")
    assert asked.hits[0].reach == pytest.approx(1.0)
    left_out = next(c for c in cases if c.text == asked.normalised)
    assert left_out.asked.hits[0].reach < 1.0

    results = calibration.calibrate(knowledge, engine)
    assert sum(r.cases for r in results.values()) == len(cases)
    assert results["en"].cases == sum(len(e.questions_en) for e in knowledge.entries)
    for result in results.values():
        assert result.right + result.wrong <= result.cases
    folder = tmp_path / "knowledge"
    folder.mkdir()
    for name in ("insurance_card.yaml", "routes.yaml", "synonyms.yaml"):
        (folder / name).write_text(
            (Path(__file__).resolve().parents[2] / "knowledge" / name).read_text("utf-8"),
            encoding="utf-8",
        )
    calibration.write(folder, results, date(2026, 11, 30))
    loaded = load_knowledge(folder, date(2026, 11, 30))
    assert loaded.thresholds == results["ja"].thresholds
    assert loaded.thresholds_en == results["en"].thresholds
    assert FaqEngine(loaded).thresholds_en == results["en"].thresholds
