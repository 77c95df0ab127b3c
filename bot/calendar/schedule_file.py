"""Read the campaign calendar from `schedules/`: one YAML file per organising body.

Every problem of every file is reported at once, each as `file:line: key: explanation` with
the file named relative to the folder's parent (`schedules/itabashi.yaml:12: events[0].end:
...`), so `campaign-bot check` can print them as they are. Each event is validated on its
own, so one event's mistake never hides another's, and the weekday written beside a date is
checked against the calendar whatever else is wrong with the event.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BeforeValidator, Field

from bot.calendar.checks import weekday_problems
from bot.calendar.event_entry import Entry, EventEntry, Region
from bot.calendar.values import Contact, Name, parse_slug
from bot.calendar.yaml_traps import comma_message, split_by_comma
from bot.domain.calendar import Calendar, EventSpec
from bot.yaml_validation import (
    InvalidDocument,
    Problem,
    YamlDocument,
    folder_problems,
    format_loc,
    parse_yaml,
    validate,
)

SUFFIXES = (".yaml", ".yml")


def _none_is_empty(value: object) -> object:
    # `events:` with nothing under it (a file just started) is an empty list, not a mistake.
    return [] if value is None else value


class ScheduleFileEntry(Entry):
    """The top of a schedule file. Events are checked one by one by `EventEntry`."""

    organiser: Name
    contact: Contact | None = None
    regions: list[Region] | None = None
    events: Annotated[list[Any], BeforeValidator(_none_is_empty)] = Field(default_factory=list)


@dataclass(frozen=True)
class Schedule:
    """One schedule file, read and checked."""

    file: str  # as shown in messages: "schedules/itabashi.yaml"
    source: str  # as stored on each event: "itabashi.yaml"
    organiser: str
    events: tuple[EventSpec, ...]


@dataclass(frozen=True)
class IdMark:
    """Where an event id is written, to name the other place when it is used twice."""

    slug: str
    file: str
    line: int | None
    key: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class CheckedFile:
    """What checking one file found: its schedule when it has no problem, and its ids."""

    schedule: Schedule | None
    ids: list[IdMark] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def parse_schedule(
    text: str,
    *,
    file: str,
    regions: Collection[str],
    zone: ZoneInfo,
    source: str | None = None,
) -> Schedule:
    """Read one schedule file's text; raise `InvalidDocument` with every problem in it.

    `file` names the file in messages; `source` (default: the last part of `file`) is what
    each EventSpec records. Ids are checked for duplicates within this file only.
    """
    checked = check_schedule(
        parse_yaml(text, file),
        source=source or Path(file).name,
        regions=regions,
        zone=zone,
    )
    problems = checked.problems + duplicate_ids(checked.ids)
    if problems or checked.schedule is None:
        raise InvalidDocument(problems)
    return checked.schedule


def load_calendar(directory: Path, regions: Collection[str], zone: ZoneInfo) -> Calendar:
    """Read every *.yaml and *.yml file of `directory` (sorted by name, hidden files skipped).

    Raises `InvalidDocument` with every problem of every file, ids used twice across files
    included. A missing, unreadable or empty folder is a problem too, never a calendar with
    no events: that would hide (remove) every stored event because of a typo in
    `schedules_dir`, an unmounted volume or a deploy that swapped the folder.
    """
    problems: list[Problem] = []
    ids: list[IdMark] = []
    schedules: list[Schedule] = []
    for path in schedule_files(directory):
        shown = path.resolve().relative_to(directory.resolve().parent).as_posix()
        try:
            document = parse_yaml(_read_text(path, shown), shown)
        except InvalidDocument as exc:
            problems.extend(exc.problems)
            continue
        checked = check_schedule(document, source=path.name, regions=regions, zone=zone)
        problems.extend(checked.problems)
        ids.extend(checked.ids)
        if checked.schedule is not None:
            schedules.append(checked.schedule)
    problems.extend(duplicate_ids(ids))
    if problems:
        raise InvalidDocument(problems)
    return Calendar(
        events=tuple(event for schedule in schedules for event in schedule.events),
        files=tuple(schedule.source for schedule in schedules),
    )


def schedule_files(directory: Path) -> list[Path]:
    """The schedule files of a folder, sorted; raises `InvalidDocument` if there are none."""
    problems = folder_problems(directory, "schedules_dir")
    if problems:
        raise InvalidDocument(problems)
    try:
        return sorted(
            path
            for path in directory.iterdir()
            # Editors leave hidden files such as .#itabashi.yaml while a file is open.
            if path.suffix in SUFFIXES and not path.name.startswith(".") and path.is_file()
        )
    except OSError as exc:  # the folder went away between the two looks
        unreadable = Problem(f"{directory.name}/", None, "", "folder cannot be read")
        raise InvalidDocument(folder_problems(directory, "schedules_dir") or [unreadable]) from exc


def _read_text(path: Path, shown: str) -> str:
    try:
        # utf-8-sig: Windows Notepad starts UTF-8 files with a byte-order mark.
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDocument(
            [Problem(shown, None, "", "not UTF-8 text; save the file as UTF-8")]
        ) from exc
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise InvalidDocument([Problem(shown, None, "", f"cannot be read: {reason}")]) from exc


def check_schedule(
    document: YamlDocument, *, source: str, regions: Collection[str], zone: ZoneInfo
) -> CheckedFile:
    """Check a parsed file: the top keys, then each event on its own."""
    context = {"regions": list(regions)}
    problems: list[Problem] = []
    top: ScheduleFileEntry | None = None
    try:
        top = validate(document, ScheduleFileEntry, context=context)
    except InvalidDocument as exc:
        problems.extend(exc.problems)
    raw = document.data.get("events") if isinstance(document.data, dict) else None
    raw_events = raw if isinstance(raw, list) else []
    nodes = _event_nodes(document.root)
    entries: list[EventEntry] = []
    for index, item in enumerate(raw_events):
        event = YamlDocument(document.file, item, nodes[index] if index < len(nodes) else None)
        entry, found = _check_event(event, index, context)
        problems.extend(found)
        if entry is not None and top is not None and not (entry.regions or top.regions):
            problems.append(_no_regions(event, index))
        entries += [entry] if entry is not None else []
    problems = _with_comma_traps(document, problems)
    marks = [_id_mark(document, item, index) for index, item in enumerate(raw_events)]
    ids = [mark for mark in marks if mark is not None]
    if top is None or problems:
        return CheckedFile(None, ids, problems)
    events = tuple(
        entry.to_spec(
            source=source,
            organiser=top.organiser,
            contact=top.contact,
            regions=top.regions or (),
            zone=zone,
        )
        for entry in entries
    )
    return CheckedFile(Schedule(document.file, source, top.organiser, events), ids)


def _with_comma_traps(document: YamlDocument, problems: list[Problem]) -> list[Problem]:
    """Name each `{ }` split by a comma, in place of what pydantic made of its pieces."""
    traps = [
        Problem(document.file, line, format_loc(loc), comma_message(entry))
        for loc, line, entry in split_by_comma(document.root)
    ]
    inside = tuple(trap.key for trap in traps)
    kept = [
        problem
        for problem in problems
        if not any(
            problem.key == key or problem.key.startswith((f"{key}.", f"{key}[")) for key in inside
        )
    ]
    return kept + traps


def _check_event(
    event: YamlDocument, index: int, context: dict[str, Any]
) -> tuple[EventEntry | None, list[Problem]]:
    """The validated entry (None if it has mistakes), and every mistake keyed from the top."""
    entry: EventEntry | None = None
    found: list[Problem] = []
    try:
        entry = validate(event, EventEntry, context=context)
    except InvalidDocument as exc:
        found.extend(_within(index, problem) for problem in exc.problems)
    found.extend(
        Problem(event.file, event.line_of(loc), format_loc(("events", index, *loc)), message)
        for loc, message in weekday_problems(event.data)
    )
    return entry, found


def _within(index: int, problem: Problem) -> Problem:
    """A problem found in one event, keyed from the top of the file."""
    prefix = format_loc(("events", index))
    key = f"{prefix}.{problem.key}" if problem.key else prefix
    return Problem(problem.file, problem.line, key, problem.message)


def _no_regions(event: YamlDocument, index: int) -> Problem:
    return Problem(
        event.file,
        event.line_of(()),
        format_loc(("events", index, "regions")),
        "say who the event is for: regions: [tokyo] (or a ward) here, "
        "or regions: at the top of the file for all its events",
    )


def _event_nodes(root: yaml.Node | None) -> list[yaml.Node]:
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "events":
                return list(value.value) if isinstance(value, yaml.SequenceNode) else []
    return []


def _id_mark(document: YamlDocument, item: Any, index: int) -> IdMark | None:
    if not isinstance(item, dict) or "id" not in item:
        return None
    try:
        slug = parse_slug(item["id"])
    except ValueError:
        return None
    loc = ("events", index, "id")
    return IdMark(slug, document.file, document.line_of(loc), format_loc(loc))


def duplicate_ids(marks: Iterable[IdMark]) -> list[Problem]:
    """Every id written a second time, naming where it was written first."""
    first: dict[str, IdMark] = {}
    problems = []
    for mark in marks:
        if mark.slug in first:
            problems.append(
                Problem(
                    mark.file,
                    mark.line,
                    mark.key,
                    f'"{mark.slug}" is already the id of the event at {first[mark.slug].where}; '
                    "every event needs its own id",
                )
            )
        else:
            first[mark.slug] = mark
    return problems
