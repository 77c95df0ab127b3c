"""`campaign-bot faq ask | eval | unanswered`: the organisers' quality loop for answers."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from bot.app import App
from bot.commands import texts_for
from bot.config import Settings
from bot.faq.analysis import Analyser
from bot.faq.evaluation import Result
from bot.faq.knowledge import load_knowledge
from bot.faq.matcher import FaqEngine
from bot.services.faq import unanswered as not_answered
from bot.terminal import field


def build_engine(settings: Settings) -> tuple[FaqEngine, float]:
    """The engine and how long building it took (dictionary load, analysis, index)."""
    started = time.perf_counter()
    knowledge = load_knowledge(settings.knowledge_dir, datetime.now(settings.zone).date())
    engine = FaqEngine(knowledge, Analyser())
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
    texts = texts_for(app.settings)
    groups = not_answered(app.database.unit_of_work, app.clock.now() - timedelta(days=days))
    if not groups:
        return texts("cli.unanswered.none", days=days)
    zone = app.settings.zone
    lines = [texts("cli.unanswered.heading", count=sum(g.times for g in groups), days=days)]
    for group in groups:
        lines.append(
            texts(
                "cli.unanswered.line",
                times=group.times,
                when=group.last_asked.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                # Members' own words: shown, never acted on by the terminal.
                examples=texts("cli.unanswered.example_separator").join(
                    field(example) for example in group.examples[:3]
                ),
            )
        )
    lines.append(texts("cli.unanswered.relay_hint", button=texts("faq.human_button")))
    return "\n".join(lines)
