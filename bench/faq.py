"""Benchmark: how fast the FAQ engine builds its index and answers, in one process.

Targets (issue 5): index build < 2 s, p99 answer time < 20 ms, >= 500 questions/s.

    python bench/faq.py [--questions FILE] [--rounds 20]

The questions default to the campaign's development set (../shared/content/
faq_dev_questions.yaml) when it is there, plus every phrasing of the knowledge base, so the
mix has short and long, in- and out-of-scope questions.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.faq.analysis import Analyser  # noqa: E402 - after the path set-up above
from bot.faq.evaluation import load_questions  # noqa: E402
from bot.faq.knowledge import load_knowledge  # noqa: E402
from bot.faq.matcher import FaqEngine  # noqa: E402

DEV_SET = ROOT.parent / "shared" / "content" / "faq_dev_questions.yaml"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=DEV_SET if DEV_SET.exists() else None)
    parser.add_argument("--rounds", type=int, default=20, help="passes over the questions")
    args = parser.parse_args()

    started = time.perf_counter()
    knowledge = load_knowledge(ROOT / "knowledge", date.today())  # noqa: DTZ011 - only for warnings
    loaded = time.perf_counter()
    engine = FaqEngine(knowledge, Analyser())
    built = time.perf_counter()
    print(
        f"index build: {built - started:.2f} s (read and check {loaded - started:.2f} s, "
        f"analyse and index {built - loaded:.2f} s) for {len(knowledge.entries)} entries, "
        f"{len(engine.index.documents)} texts"
    )

    questions = [q for entry in knowledge.entries for q in entry.questions]
    if args.questions is not None:
        questions += [q.q for q in load_questions(args.questions)]
    questions += ["保険証" * 300, "🙂", "a", "What is the shikaku kakuninsho?"]
    for question in questions[:50]:
        engine.decide(question)  # warm caches

    gc.collect()
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(args.rounds):
        for question in questions:
            began = time.perf_counter()
            engine.decide(question)
            latencies.append((time.perf_counter() - began) * 1000)
    elapsed = time.perf_counter() - started
    print(
        f"questions: {len(latencies)} ({len(questions)} distinct x {args.rounds} rounds) in "
        f"{elapsed:.2f} s = {len(latencies) / elapsed:.0f} questions/s (target >= 500)"
    )
    print(
        f"answer time: p50 {percentile(latencies, 50):.2f} ms, p99 {percentile(latencies, 99):.2f} "
        f"ms (target < 20), max {max(latencies):.2f} ms, mean {statistics.mean(latencies):.2f} ms"
    )


if __name__ == "__main__":
    main()
