"""`campaign-bot faq ask | eval | unanswered`: the organisers' quality loop for answers."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from bot.app import App
from bot.config import Settings
from bot.faq.analysis import Analyser
from bot.faq.evaluation import Result
from bot.faq.knowledge import load_knowledge
from bot.faq.matcher import FaqEngine
from bot.services.relay import QUESTION

UNANSWERED = {"unknown", "declined", "suggested"}


def build_engine(settings: Settings) -> tuple[FaqEngine, float]:
    """The engine and how long building it took (dictionary load, analysis, index)."""
    started = time.perf_counter()

    def today() -> date:
        return datetime.now(settings.zone).date()

    knowledge = load_knowledge(settings.knowledge_dir, today())
    engine = FaqEngine(knowledge, Analyser(), today=today)
    return engine, time.perf_counter() - started


def explain(engine: FaqEngine, question: str, settings: Settings) -> str:
    started = time.perf_counter()
    decision = engine.decide(question)
    elapsed = (time.perf_counter() - started) * 1000
    lines = [
        f"question:   {question}",
        f"normalised: {decision.normalised}",
        f"decision:   {decision.outcome.value} "
        f"(confidence {decision.coverage:.2f}, score {decision.score:.2f}, {elapsed:.1f} ms)",
    ]
    if decision.entry is not None:
        lines += [
            f"entry:      {decision.entry.id} ({decision.entry.title})",
            "",
            decision.entry.answer,
        ]
    for entry in decision.suggestions:
        lines.append(f"suggest:    {entry.id} ({entry.title})")
    if decision.best is not None and decision.entry is None:
        lines.append(
            f"best:       {decision.best.target} (confidence {decision.best.coverage:.2f})"
        )
    if decision.runner_up is not None:
        runner = decision.runner_up
        lines.append(
            f"runner-up:  {runner.target} (confidence {runner.coverage:.2f}, "
            f"score {runner.score:.2f})"
        )
    return "\n".join(lines)


def describe_miss(miss: Result) -> str:
    decision = miss.decision
    got = decision.entry.id if decision.entry else ", ".join(e.id for e in decision.suggestions)
    if not got and decision.best is not None:
        got = decision.best.target
    expected = "decline" if miss.question.out_of_scope else (miss.question.topic or "?")
    return (
        f"MISS {miss.question.q}\n"
        f"     expected {expected} {miss.question.must_contain}; "
        f"got {decision.outcome.value} {got} (confidence {decision.coverage:.2f})"
    )


def unanswered(app: App, *, days: int) -> str:
    """Questions the bot did not answer, grouped by their normalised text, most asked first."""
    since = app.clock.now() - timedelta(days=days)
    with app.database.unit_of_work() as uow:
        questions = uow.questions.since(since, UNANSWERED)
    if not questions:
        return f"no unanswered questions in the last {days} days"
    counts: Counter[str] = Counter(q.normalised for q in questions)
    examples: dict[str, list[str]] = defaultdict(list)
    last: dict[str, datetime] = {}
    for question in questions:
        if question.text not in examples[question.normalised]:
            examples[question.normalised].append(question.text)
        last[question.normalised] = question.asked_at
    zone = app.settings.zone
    lines = [f"{len(questions)} questions not answered in the last {days} days:"]
    for normalised, count in counts.most_common():
        when = last[normalised].astimezone(zone).strftime("%Y-%m-%d %H:%M")
        shown = " / ".join(examples[normalised][:3])
        lines.append(f"{count:4d}x  last {when}  {shown}")
    lines.append(f"(members can also press 世話人に聞く: those go to organisers as {QUESTION})")
    return "\n".join(lines)
