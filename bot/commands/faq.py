"""`campaign-bot faq ask | eval | calibrate | unanswered`: the quality loop for answers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.app import App
from bot.commands import texts_for
from bot.config import Settings
from bot.faq import calibration
from bot.faq.analysis import Analyser
from bot.faq.evaluation import Result, evaluate, load_questions
from bot.faq.knowledge import load_knowledge
from bot.faq.matcher import FaqEngine
from bot.services.faq import unanswered as not_answered
from bot.terminal import field


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
    limits = engine.thresholds_en if decision.language == "en" else engine.thresholds
    lines = [
        f"question:   {question}",
        f"normalised: {decision.normalised} ({decision.language})",
        f"decision:   {decision.outcome.value} "
        f"(confidence {decision.confidence:.2f}, score {decision.score:.2f}, {elapsed:.1f} ms; "
        f"answer at {limits.answer_at}, suggest at {limits.suggest_at}, lead {limits.lead})",
    ]
    if decision.entry is not None:
        title, answer, _ = decision.entry.text(decision.language)
        lines += [f"entry:      {decision.entry.id} ({title})", "", answer]
    for entry in decision.suggestions:
        lines.append(f"suggest:    {entry.id} ({entry.text(decision.language)[0]})")
    if decision.best is not None and decision.entry is None:
        lines.append(f"best:       {decision.best.target} (confidence {decision.best.reach:.2f})")
    if decision.runner_up is not None:
        runner = decision.runner_up
        lines.append(
            f"runner-up:  {runner.target} (confidence {runner.reach:.2f}, score {runner.score:.2f})"
        )
    return "\n".join(lines)


def describe_miss(miss: Result) -> str:
    decision, question = miss.decision, miss.question
    got = decision.entry.id if decision.entry else ", ".join(e.id for e in decision.suggestions)
    if not got and decision.best is not None:
        got = decision.best.target
    if question.out_of_scope:
        expected = "decline"
    else:
        expected = ", ".join(question.accept) or f"facts {question.facts}"
    return (
        f"MISS {question.q}\n"
        f"     expected {expected} {question.must_contain}; "
        f"got {decision.outcome.value} {got} (confidence {decision.confidence:.2f})"
    )


def run_eval(engine: FaqEngine, paths: Sequence[Path], *, verbose: bool) -> str:
    """Each file's strict and lenient figures with 95% intervals, then all files together."""
    lines: list[str] = []
    together = []
    for path in paths:
        report = evaluate(engine, load_questions(path))
        together.extend(report.results)
        lines += [f"== {path}", report.summary()]
        if verbose:
            lines += [describe_miss(miss) for miss in report.failures]
    if len(paths) > 1:
        from bot.faq.evaluation import EvalReport

        lines += ["== all files", EvalReport(together).summary()]
    return "\n".join(lines)


def calibrate(settings: Settings, *, write: bool) -> str:
    """Choose thresholds by leave-one-out over the phrasings; write them when asked."""
    today = datetime.now(settings.zone).date()
    knowledge = load_knowledge(settings.knowledge_dir, today)
    started = time.perf_counter()
    # The tuning files live beside the knowledge base in the repository (tests/fixtures/faq).
    files = calibration.tuning_files(settings.knowledge_dir.parent / "tests" / "fixtures" / "faq")
    results = calibration.calibrate(knowledge, questions=files)
    lines = [
        f"leave-one-out and {len(files)} tuning files in {time.perf_counter() - started:.1f} s: "
        + ", ".join(path.name for path in files)
    ]
    for language, result in results.items():
        limits = result.thresholds
        lines += [
            f"[{language}] {result.cases} questions (phrasings left out, tuning files): "
            f"{result.right} right, {result.wrong} wrong, "
            f"{result.offered} only offered (cost {result.cost:.3f})",
            f"[{language}] answer_at: {limits.answer_at}, suggest_at: {limits.suggest_at}, "
            f"unknown_at: {limits.unknown_at}, lead: {limits.lead}, margin: {limits.margin}",
        ]
    if write:
        lines.append(f"wrote {calibration.write(settings.knowledge_dir, results, today)}")
    return "\n".join(lines)


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
