"""Helpers for the calendar tests: the example config's regions, and events written as YAML."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.calendar.schedule_file import parse_schedule
from bot.config import load_settings
from bot.domain.calendar import EventSpec
from bot.yaml_validation import InvalidDocument
from tests.conftest import EXAMPLE_CONFIG, ROOT

TOKYO = ZoneInfo("Asia/Tokyo")
REGIONS = tuple(region.code for region in load_settings(EXAMPLE_CONFIG, env={}).config.regions)
FIXTURES = ROOT / "tests" / "fixtures" / "schedules"
EXAMPLES = ROOT / "schedules"

HEADER = """\
organiser: 東京社保協
regions: [tokyo]
events:
"""


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment in Tokyo."""
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def schedule_text(events: str) -> str:
    """A schedule file with the given events (YAML list items, indented as written)."""
    return HEADER + textwrap.indent(textwrap.dedent(events).strip("\n"), "  ") + "\n"


def events_of(events: str, *, file: str = "schedules/test.yaml") -> tuple[EventSpec, ...]:
    """The EventSpecs of events written as a schedule file would have them."""
    return parse_schedule(schedule_text(events), file=file, regions=REGIONS, zone=TOKYO).events


def event_of(event: str) -> EventSpec:
    (only,) = events_of(event)
    return only


def problems_of(text: str, *, file: str = "schedules/test.yaml") -> list[str]:
    """Every problem reported for a whole file's text, as printed."""
    with pytest.raises(InvalidDocument) as caught:
        parse_schedule(text, file=file, regions=REGIONS, zone=TOKYO)
    return [str(problem) for problem in caught.value.problems]


def expected_problems(path: Path) -> list[str]:
    """The `# expect:` lines at the top of a broken fixture file."""
    prefix = "# expect: "
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]
