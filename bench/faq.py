"""Benchmark: how fast the FAQ engine builds its index and answers, in one process.

Targets (issue 14): p99 answer time < 10 ms, >= 1,000 questions/s in one process (index
build < 2 s, from issue 5).

    python bench/faq.py [--questions FILE ...] [--rounds 20]

The questions default to the tuning sets in tests/fixtures/faq (dev, validation, kana pairs),
plus every Japanese and English phrasing of the knowledge base, so the mix has short and long,
kana, English, in- and out-of-scope questions. The last line is machine-readable:
`RESULT index_build_s=.. questions_per_s=.. p50_ms=.. p99_ms=..`.
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

FIXTURES = ROOT / "tests" / "fixtures" / "faq"
DEFAULT_SETS = [
    FIXTURES / "dev_questions.yaml",
    FIXTURES / "validation_questions.yaml",
    FIXTURES / "tuning_kana_pairs.yaml",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, nargs="*", default=DEFAULT_SETS)
    parser.add_argument("--rounds", type=int, default=20, help="passes over the questions")
    args = parser.parse_args()

    started = time.perf_counter()
    today = date.today()  # noqa: DTZ011 - the day only decides which entries have expired
    knowledge = load_knowledge(ROOT / "knowledge", today)
    loaded = time.perf_counter()
    engine = FaqEngine(knowledge, Analyser(), today=lambda: today)
    built = time.perf_counter()
    build_seconds = built - started
    print(
        f"index build: {built - started:.2f} s (read and check {loaded - started:.2f} s, "
        f"analyse and index {built - loaded:.2f} s) for {len(knowledge.entries)} entries, "
        f"{len(engine.index.documents)} texts"
    )

    questions = [q for entry in knowledge.entries for q in (*entry.questions, *entry.questions_en)]
    for path in args.questions:
        questions += [q.q for q in load_questions(path)]
    questions += ["保険証" * 300, "🙂", "a", "What is the shikaku kakuninsho?"]
    for question in questions[:50]:
        engine.decide(question)  # warm caches

    gc.collect()
    latencies: list[float] = []
    started = time.perf_counter()
    cpu_started = time.process_time()
    for _ in range(args.rounds):
        for question in questions:
            began = time.perf_counter()
            engine.decide(question)
            latencies.append((time.perf_counter() - began) * 1000)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(
        f"questions: {len(latencies)} ({len(questions)} distinct x {args.rounds} rounds) in "
        f"{elapsed:.2f} s = {len(latencies) / elapsed:.0f} questions/s (target >= 1000); "
        f"{len(latencies) / cpu:.0f} per CPU-second (what a busy shared machine leaves)"
    )
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"answer time: p50 {p50:.2f} ms, p99 {p99:.2f} ms (target < 10), "
        f"max {max(latencies):.2f} ms, mean {statistics.mean(latencies):.2f} ms"
    )
    print(
        f"RESULT index_build_s={build_seconds:.2f} "
        f"questions_per_s={len(latencies) / elapsed:.0f} p50_ms={p50:.2f} p99_ms={p99:.2f} "
        f"questions_per_cpu_s={len(latencies) / cpu:.0f}"
    )


if __name__ == "__main__":
    main()
