"""Reading the schedules folder: which files, in what order, and what an empty or missing
folder means."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.calendar.schedule_file import load_calendar
from bot.yaml_validation import InvalidDocument
from tests.calendar.helpers import REGIONS, TOKYO, schedule_text

ONE_EVENT = """
- {id: %s, title: 学習会, kind: study, date: 2026-12-12, start: "14:00"}
"""


def folder(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    path = tmp_path / "schedules"
    path.mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (path / name).write_bytes(content)
        else:
            (path / name).write_text(content, encoding="utf-8")
    return path


def problems(directory: Path) -> list[str]:
    with pytest.raises(InvalidDocument) as caught:
        load_calendar(directory, REGIONS, TOKYO)
    return [str(problem) for problem in caught.value.problems]


def test_yaml_and_yml_files_are_read_in_name_order_and_others_skipped(tmp_path: Path) -> None:
    directory = folder(
        tmp_path,
        {
            "toshima.yml": schedule_text(ONE_EVENT % "b"),
            "itabashi.yaml": schedule_text(ONE_EVENT % "a"),
            "README.md": "# 書き方",
            ".#itabashi.yaml": "an editor's lock file: {",
            "notes.txt": "not a schedule",
        },
    )
    (directory / "old").mkdir()
    (directory / "old" / "2023.yaml").write_text("not: read", encoding="utf-8")
    calendar = load_calendar(directory, REGIONS, TOKYO)
    assert calendar.files == ("itabashi.yaml", "toshima.yml")
    assert [(event.slug, event.source) for event in calendar.events] == [
        ("a", "itabashi.yaml"),
        ("b", "toshima.yml"),
    ]
    assert calendar.event("b") is calendar.events[1]


def test_a_file_without_events_is_a_calendar_without_events(tmp_path: Path) -> None:
    calendar = load_calendar(
        folder(tmp_path, {"itabashi.yaml": "organiser: 板橋社保協\nevents:\n"}), REGIONS, TOKYO
    )
    assert (calendar.events, calendar.files) == ((), ("itabashi.yaml",))


# Issue 9, hole 1: a folder that vanished or emptied is never "no events" (that would remove
# every stored event); it is a problem, and the calendar stays as it was.
def test_an_empty_folder_is_a_problem_not_an_empty_calendar(tmp_path: Path) -> None:
    assert problems(folder(tmp_path, {})) == [
        "schedules/: no *.yaml files in the folder; put the files back or correct schedules_dir"
    ]


def test_a_folder_with_only_hidden_or_other_files_is_a_problem(tmp_path: Path) -> None:
    directory = folder(tmp_path, {".#itabashi.yaml": "x", "README.md": "# 予定"})
    assert problems(directory) == [
        "schedules/: no *.yaml files in the folder; put the files back or correct schedules_dir"
    ]


def test_a_missing_folder_is_a_problem(tmp_path: Path) -> None:
    assert problems(tmp_path / "schedules") == [
        "schedules/: folder not found; create it or change schedules_dir"
    ]


def test_an_unreadable_folder_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = folder(tmp_path, {"itabashi.yaml": schedule_text(ONE_EVENT % "a")})
    listing = Path.iterdir

    def refused(self: Path) -> Iterator[Path]:
        # The tests run as root, whom no folder mode stops: the refusal is simulated.
        if self == directory:
            raise PermissionError(13, "Permission denied")
        return listing(self)

    monkeypatch.setattr(Path, "iterdir", refused)
    assert problems(directory) == ["schedules/: folder cannot be read: permission denied"]


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    path = tmp_path / "schedules"
    path.write_text("events: []", encoding="utf-8")
    assert problems(path) == ["schedules/: is a file, not a folder; schedules_dir must be a folder"]


def test_files_are_named_from_the_folders_parent(tmp_path: Path) -> None:
    directory = folder(tmp_path, {"itabashi.yaml": "organiser: 板橋社保協\nevent: []\n"})
    assert problems(directory) == [
        "schedules/itabashi.yaml:2: event: unknown key (misspelt?); "
        "allowed keys: organiser, contact, regions, events"
    ]


def test_a_file_that_is_not_utf8_says_how_to_save_it(tmp_path: Path) -> None:
    text = schedule_text(ONE_EVENT % "a")
    directory = folder(tmp_path, {"adachi.yaml": text.encode("shift_jis")})
    assert problems(directory) == ["schedules/adachi.yaml: not UTF-8 text; save the file as UTF-8"]


def test_a_byte_order_mark_from_notepad_is_fine(tmp_path: Path) -> None:
    text = schedule_text(ONE_EVENT % "a")
    directory = folder(tmp_path, {"adachi.yaml": text.encode("utf-8-sig")})
    assert [event.slug for event in load_calendar(directory, REGIONS, TOKYO).events] == ["a"]


def test_one_bad_file_does_not_hide_the_others_problems(tmp_path: Path) -> None:
    directory = folder(
        tmp_path,
        {
            "a.yaml": "organiser: [",
            "b.yaml": schedule_text(ONE_EVENT % "x").replace("2026-12-12", "2026-12-32"),
            "c.yaml": schedule_text(ONE_EVENT % "x"),
            "d.yaml": schedule_text(ONE_EVENT % "x"),
        },
    )
    assert problems(directory) == [
        "schedules/a.yaml:1: not valid YAML: expected the node content, but found '<stream end>' "
        "(check indentation and quotes)",
        "schedules/b.yaml:4: events[0].date: not a real date (December 2026 has 31 days), "
        'got "2026-12-32"',
        # b.yaml's id counts even though b.yaml has another mistake.
        'schedules/c.yaml:4: events[0].id: "x" is already the id of the event at '
        "schedules/b.yaml:4; every event needs its own id",
        'schedules/d.yaml:4: events[0].id: "x" is already the id of the event at '
        "schedules/b.yaml:4; every event needs its own id",
    ]
