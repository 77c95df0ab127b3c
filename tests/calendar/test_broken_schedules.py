"""Each broken schedule file yields exactly the problems written at its top, and a folder of
them yields every problem of every file at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.calendar.schedule_file import load_calendar, parse_schedule
from bot.yaml_validation import InvalidDocument
from tests.calendar.helpers import FIXTURES, REGIONS, TOKYO, expected_problems

BROKEN = FIXTURES / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_a_broken_file_names_each_mistake_with_line_and_key(path: Path) -> None:
    expected = expected_problems(path)
    assert expected, f"{path.name} has no '# expect:' lines"
    with pytest.raises(InvalidDocument) as caught:
        parse_schedule(
            path.read_text(encoding="utf-8"),
            file=f"broken/{path.name}",
            regions=REGIONS,
            zone=TOKYO,
        )
    assert [str(problem) for problem in caught.value.problems] == expected


def test_every_problem_of_every_file_is_reported_at_once() -> None:
    with pytest.raises(InvalidDocument) as caught:
        load_calendar(BROKEN, REGIONS, TOKYO)
    found = [str(problem) for problem in caught.value.problems]
    assert found == [line for path in FILES for line in expected_problems(path)]


def test_an_id_used_in_two_files_names_the_other_file_and_line() -> None:
    with pytest.raises(InvalidDocument) as caught:
        load_calendar(FIXTURES / "duplicates", REGIONS, TOKYO)
    assert [str(problem) for problem in caught.value.problems] == [
        'duplicates/b.yaml:9: events[1].id: "daishukai" is already the id of the event at '
        "duplicates/a.yaml:4; every event needs its own id"
    ]


def test_each_duplicate_file_is_valid_on_its_own() -> None:
    for path in sorted((FIXTURES / "duplicates").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert parse_schedule(text, file=path.name, regions=REGIONS, zone=TOKYO).events
