"""`campaign-bot check | reload | events | rsvps | qr` as organisers use them."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.texts import Catalogues
from tests.cli.test_cli import campaign_bot
from tests.conftest import EXAMPLE_CONFIG, ROOT

# The example config's default language: the one organisers read on the command line.
JA = Catalogues.load()["ja"]


def schedule(day: date) -> str:
    """One event a few days from today, whatever today is."""
    weekday = "月火水木金土日"[day.weekday()]
    return f"""\
organiser: テスト社保協
events:
  - id: test-rally
    title: テスト集会
    kind: rally
    date: {day.isoformat()}
    weekday: {weekday}
    start: "13:00"
    end: "15:00"
    venue: 日比谷野外音楽堂
    regions: [tokyo]
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    config = EXAMPLE_CONFIG.read_text("utf-8").replace(
        "  username: null", "  username: shahokyo_bot"
    )
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    (tmp_path / "schedules").mkdir()
    day = datetime.now(ZoneInfo("Asia/Tokyo")).date() + timedelta(days=5)
    (tmp_path / "schedules" / "test.yaml").write_text(schedule(day), encoding="utf-8")
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    return tmp_path


def test_check_covers_the_example_schedules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "config.example.yaml: OK" in out
    assert "schedules/: OK (" in out
    assert len(list((ROOT / "schedules").glob("*.yaml"))) >= 5


def test_check_names_the_schedule_mistake(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = workdir / "schedules" / "test.yaml"
    text = path.read_text("utf-8")
    wrong = "日" if "weekday: 月" in text else "月"
    path.write_text(
        "\n".join(
            f"    weekday: {wrong}" if line.startswith("    weekday:") else line
            for line in text.splitlines()
        ),
        encoding="utf-8",
    )
    assert main(["check", "--config", str(workdir / "config.yaml")]) == 1
    err = capsys.readouterr().err
    assert "schedules/test.yaml:7: events[0].weekday:" in err
    assert f"not {wrong}" in err


def test_reload_events_rsvps_and_csv(workdir: Path) -> None:
    reloaded = campaign_bot("reload", cwd=workdir)
    assert reloaded.returncode == 0, reloaded.stderr
    assert JA("cli.reload.events", added=1, updated=0, removed=0) in reloaded.stdout

    listed = campaign_bot("events", "list", cwd=workdir)
    assert "test-rally" in listed.stdout
    assert "テスト集会" in listed.stdout
    assert "(tokyo; 参加 0, 未定 0, 待ち 0)" in listed.stdout

    # 予定, the event [1] in the list, 参加する [1] on its card, then 2人 typed.
    campaign_bot("run", cwd=workdir, stdin="/start\n1\n1\n17\n予定\n1\n1\n2人\n")
    answers = campaign_bot("rsvps", "test-rally", "--csv", "answers.csv", cwd=workdir)
    assert answers.returncode == 0, answers.stderr
    counts = "参加 1人 (同行 2人、合計 3人) / 未定 0人 / 不参加 0人 / キャンセル待ち 0人"
    assert counts in answers.stdout
    assert "  参加       console-member +2" in answers.stdout
    assert JA("cli.rsvps.written", path="answers.csv", count=1) in answers.stdout
    raw = (workdir / "answers.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel in Japan needs the BOM"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["予定", "日時", "名前", "返事", "同行人数", "チャンネル", "返事の日時"]
    assert rows[1][0] == "テスト集会"
    assert rows[1][2:6] == ["console-member", "参加", "2", "console"]

    unknown = campaign_bot("rsvps", "no-such-event", cwd=workdir)
    assert unknown.returncode == 1
    assert JA("cli.rsvps.not_found", event="no-such-event") in unknown.stderr


def test_qr_code_for_a_flyer(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flyer = workdir / "flyer.png"
    assert (
        main(["qr", "test-rally", "-o", str(flyer), "--config", str(workdir / "config.yaml")]) == 0
    )
    assert "https://t.me/shahokyo_bot?start=ev_test-rally" in capsys.readouterr().out
    assert flyer.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    assert main(["qr", "nope", "-o", str(flyer), "--config", str(workdir / "config.yaml")]) == 1
    assert JA("cli.qr.not_found", event="nope") in capsys.readouterr().err


def test_qr_needs_the_bot_username(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert (
        main(["qr", "sugamo-4nohi", "-o", str(tmp_path / "x.png"), "--config", str(EXAMPLE_CONFIG)])
        == 1
    )
    assert "channels.telegram.username" in capsys.readouterr().err
