"""`campaign-bot faq ask | eval | calibrate | unanswered` and the knowledge base in `check`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from tests.cli.test_cli import campaign_bot
from tests.conftest import EXAMPLE_CONFIG, ROOT

VALIDATION = ROOT / "tests" / "fixtures" / "faq" / "validation_questions.yaml"


def test_check_covers_the_knowledge_base(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"knowledge/: OK \(\d+ entries\)", out)


def test_ask_shows_the_decision_the_score_and_the_runner_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        main(["faq", "ask", "マイナンバーカードを落とした", "--config", str(EXAMPLE_CONFIG)]) == 0
    )
    out = capsys.readouterr().out
    assert "decision:   answered (confidence" in out
    assert "0120-95-0178" in out
    assert "runner-up:" in out


def test_eval_prints_accuracy_declines_and_latency(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "- q: マイナンバーカードをなくしました\n  must_contain: [0120-95-0178]\n"
        "- q: 明日の天気は？\n  out_of_scope: true\n",
        encoding="utf-8",
    )
    assert main(["faq", "eval", str(questions), "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "in-scope strict:  1/1 = 100.0% (95% CI 20.7%-100.0%)" in out
    assert "in-scope lenient: 1/1 = 100.0%" in out
    assert "off-topic declined strict:  1/1 = 100.0%" in out
    assert re.search(r"latency: p50 [\d.]+ ms, p99 [\d.]+ ms", out)


def test_eval_reads_several_files_and_totals_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("- q: マイナンバーカードをなくしました\n  accept: [mynacard-lost]\n", "utf-8")
    second.write_text("- q: What is the weather tomorrow?\n  out_of_scope: true\n", "utf-8")
    main(["faq", "eval", str(first), str(second), "--config", str(EXAMPLE_CONFIG)])
    out = capsys.readouterr().out
    assert f"== {first}" in out
    assert f"== {second}" in out
    assert "== all files" in out


def test_calibrate_prints_the_thresholds_it_chose(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faq", "calibrate", "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\[ja\] \d+ questions \(phrasings left out", out)
    assert re.search(r"\[en\] answer_at: [\d.]+", out)
    assert "wrote" not in out, "only --write writes the file"


def test_eval_lists_misses_when_asked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "- q: マイナンバーカードをなくしました\n  must_contain: [存在しない言葉]\n", "utf-8"
    )
    main(["faq", "eval", str(questions), "-v", "--config", str(EXAMPLE_CONFIG)])
    out = capsys.readouterr().out
    assert "in-scope strict:  0/1" in out
    assert "MISS マイナンバーカードをなくしました" in out


def test_unanswered_groups_what_the_bot_could_not_answer(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(EXAMPLE_CONFIG.read_text("utf-8"), "utf-8")
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    (tmp_path / "schedules").symlink_to(ROOT / "schedules")
    questions = ["明日の天気は？", "明日の天気は?", "宇宙の果てには何がある", "資格確認書ってなに"]
    lines = "\n".join(["/start", "1", "1", "17", *questions, ""])
    campaign_bot("run", cwd=tmp_path, stdin=lines)
    result = campaign_bot("faq", "unanswered", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"\s2回  最後 .*明日の天気は", result.stdout)
    assert "宇宙の果て" in result.stdout
    assert "資格確認書ってなに" not in result.stdout
