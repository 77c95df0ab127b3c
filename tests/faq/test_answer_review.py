"""Answer review: every answer read against its dates, on days after facts expired.

On each injected day, an entry past its `valid_until` must name a successor that still holds,
and no other answer (Japanese or English) may state a deadline that has passed as if it still
held (`bot.faq.freshness`). The days are the one the fact sheet was revised on and the day
after the longest dated fact of the current answers (Nakano's certificates for ages 69 and
under, 2027-07-31).
"""

from __future__ import annotations

from datetime import date

import pytest

from bot.faq.freshness import stale_statements
from bot.faq.knowledge import KnowledgeBase, load_knowledge
from bot.faq.matcher import FaqEngine, Outcome
from tests.conftest import ROOT

DAYS = [date(2026, 11, 30), date(2027, 8, 1)]


@pytest.fixture(scope="module")
def shipped() -> KnowledgeBase:
    return load_knowledge(ROOT / "knowledge", DAYS[0])


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_no_present_tense_answer_relies_on_an_expired_fact(
    shipped: KnowledgeBase, day: date
) -> None:
    problems = []
    for entry in shipped.entries:
        if entry.expired(day):
            successor = shipped.entry(entry.superseded_by) if entry.superseded_by else None
            if successor is None:
                problems.append(f"{entry.id}: expired on {entry.valid_until}, no successor")
            elif successor.expired(day):
                problems.append(f"{entry.id}: its successor {successor.id} expired too")
            continue
        for text in (entry.answer, entry.answer_en or ""):
            problems += [f"{entry.id}: {stale.sentence}" for stale in stale_statements(text, day)]
    assert problems == []


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_present_tense_questions_get_what_holds_now(shipped: KnowledgeBase, day: date) -> None:
    engine = FaqEngine(shipped, today=lambda: day)
    for question in (
        "期限切れの保険証はまだ使えますか",
        "暫定措置はまだ続いていますか",
        "75歳以上の資格確認書は今どうなっているの",
    ):
        decision = engine.decide(question)
        shown = [decision.entry] if decision.entry else list(decision.suggestions)
        assert shown, question
        assert not shown[0].expired(day), (question, shown[0].id)


def test_the_freshness_rule_reads_tense() -> None:
    today = date(2026, 11, 30)
    assert stale_statements("暫定措置は2026年7月31日までです。", today)
    assert not stale_statements("暫定措置は2026年7月31日まででした。", today)
    assert not stale_statements("2026年7月31日で終わりました。", today)
    assert not stale_statements("有効期限は2027年7月31日までです。", today)
    assert stale_statements("It is valid until 31 July 2026.", today)
    assert not stale_statements("It was valid until 31 July 2026.", today)


def test_check_warns_about_a_passed_deadline_and_an_expiry_without_successor(
    tmp_path: object,
) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "knowledge"
    folder.mkdir()
    (folder / "insurance_card.yaml").write_text(
        """\
- id: stale
  topic: t
  facts: [11]
  title: 暫定措置
  questions: [暫定措置はいつまで]
  answer: 暫定措置は2026年7月31日までです。
  sources: [{title: 出典, url: "https://example.org"}]
  checked: 2026-11-20
- id: ended
  topic: t
  facts: [11]
  title: 終わった措置
  questions: [終わった措置]
  answer: 終わった措置の説明でした。
  ask: 保険者
  sources: [{title: 出典, url: "https://example.org"}]
  checked: 2026-11-20
  valid_until: 2026-07-31
""",
        encoding="utf-8",
    )
    (folder / "routes.yaml").write_text("routes: []\n", encoding="utf-8")
    (folder / "synonyms.yaml").write_text("{}\n", encoding="utf-8")
    warnings = [str(w) for w in load_knowledge(folder, date(2026, 11, 30)).warnings]
    assert any(":6: [0].answer: states 2026-07-31 as a deadline" in w for w in warnings), warnings
    assert any(":18: [1].valid_until: 2026-07-31 has passed and no entry" in w for w in warnings)
    assert load_knowledge(folder, date(2026, 7, 1)).warnings == ()


def test_the_logged_confidence_is_the_number_that_decided(shipped: KnowledgeBase) -> None:
    engine = FaqEngine(shipped, today=lambda: DAYS[0])
    decision = engine.decide("資格確認書とは")
    assert decision.outcome is Outcome.ANSWER
    assert decision.best is not None
    assert decision.confidence == decision.best.reach
    assert decision.confidence >= engine.thresholds.answer_at
