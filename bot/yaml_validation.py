"""Load YAML files that people edit by hand, and explain every mistake with file, line and key.

Used for the configuration, the schedules and the knowledge base. PyYAML gives the node tree
with line marks; pydantic validates; this module joins the two so that a message reads
`config.yaml:12: reminders.quiet_hours.start: expected HH:MM, got "25:00"`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in one file, ready to show to the person who has to fix it."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class InvalidDocument(Exception):
    """Raised with every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.key))
        super().__init__("\n".join(str(p) for p in self.problems))


class SelfChecking(Protocol):
    def problems(self) -> Iterable[tuple[Loc, str]]:
        """Cross-field checks that pydantic's per-field validation cannot express."""
        ...


@dataclass
class YamlDocument:
    """Parsed data plus the node tree it came from, to find the line of any key."""

    file: str
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Loc) -> int | None:
        node = self.root
        line = node.start_mark.line + 1 if node else None
        for part in loc:
            child = _child(node, part)
            if child is None:
                break
            key_node, node = child
            # An unknown or duplicate key is best shown on its own line, a bad value on the value's.
            line = (node or key_node).start_mark.line + 1
        return line

    def line_of_key(self, loc: Loc) -> int | None:
        """The line of the key itself (for 'unknown key'), not of its value."""
        if not loc:
            return self.line_of(loc)
        parent = self._node_at(loc[:-1])
        child = _child(parent, loc[-1])
        if child is None:
            return self.line_of(loc[:-1])
        return child[0].start_mark.line + 1

    def shown_value(self, loc: Loc, parsed: Any) -> str:
        """The value as the person wrote it: YAML reads 25:00 as a number, they wrote "25:00"."""
        node = self._node_at(loc)
        if isinstance(node, yaml.ScalarNode):
            return f'"{node.value}"'
        return _shown(parsed)

    def _node_at(self, loc: Loc) -> yaml.Node | None:
        node = self.root
        for part in loc:
            child = _child(node, part)
            if child is None:
                return None
            node = child[1]
        return node


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item = node.value[part]
        return item, item
    return None


def duplicate_keys(file: str, node: yaml.Node | None, path: Loc = ()) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        file,
                        line,
                        format_loc((*path, key)),
                        f"duplicate key (first written on line {seen[key]}); keep only one",
                    )
                )
            else:
                seen[key] = line
            problems.extend(duplicate_keys(file, value_node, (*path, key)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(duplicate_keys(file, item, (*path, index)))
    return problems


_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _TextDatesLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as the text written.

    PyYAML turns an unquoted 2024-10-14 into a date itself, and an impossible one such as
    2024-02-30 into a bare ValueError with no line; as text, the validators can name the
    mistake on its line like every other one.
    """


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _TextDatesCLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """The same, parsed by libyaml in C where PyYAML has it: the knowledge base's 5,000 lines
    take 0.1 s instead of 1.5 s. Its error messages are worded differently, so a file that
    does not parse is read again by `_TextDatesLoader`, whose words the messages keep."""


_TextDatesCLoader.yaml_implicit_resolvers = _TextDatesLoader.yaml_implicit_resolvers


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse YAML text; syntax errors and duplicate keys raise `InvalidDocument`."""
    fast = _TextDatesCLoader(text)
    try:
        root = fast.get_single_node()
        data = fast.construct_document(root) if root is not None else None
    except yaml.YAMLError:
        pass
    else:
        return _checked(file, data, root)
    finally:
        fast.dispose()
    loader = _TextDatesLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = exc.problem or str(exc)
        raise InvalidDocument(
            [Problem(file, line, "", f"not valid YAML: {reason} (check indentation and quotes)")]
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidDocument([Problem(file, None, "", f"not valid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    return _checked(file, data, root)


def _checked(file: str, data: Any, root: yaml.Node | None) -> YamlDocument:
    duplicates = duplicate_keys(file, root)
    if duplicates:
        raise InvalidDocument(duplicates)
    return YamlDocument(file, data, root)


def read_yaml(path: Path, display_name: str | None = None) -> YamlDocument:
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidDocument([Problem(name, None, "", "file not found")]) from exc
    except IsADirectoryError as exc:
        raise InvalidDocument(
            [Problem(name, None, "", "is a folder, not a file; name the YAML file inside it")]
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidDocument(
            [Problem(name, None, "", "not UTF-8 text; save the file as UTF-8")]
        ) from exc
    except OSError as exc:
        raise InvalidDocument(
            [Problem(name, None, "", f"cannot be read: {_os_reason(exc)}")]
        ) from exc
    return parse_yaml(text, name)


def _os_reason(exc: OSError) -> str:
    """What the operating system said, without the path (the caller names the file)."""
    return (exc.strerror or type(exc).__name__).lower()


def folder_problems(directory: Path, setting: str, pattern: str = "*.yaml") -> list[Problem]:
    """Why `directory` cannot be a folder of YAML files: missing, a file, unreadable, empty.

    A folder organisers fill with files is never "empty, so nothing": a typo in the setting,
    an unmounted volume or a half-finished deploy looks exactly like that, and would wipe
    what the files describe. `setting` is the config key naming the folder.
    """
    shown = f"{directory.name or directory}/"
    try:
        if not directory.exists():
            return [Problem(shown, None, "", f"folder not found; create it or change {setting}")]
        if not directory.is_dir():
            return [
                Problem(shown, None, "", f"is a file, not a folder; {setting} must be a folder")
            ]
        names = [
            p.name
            for p in directory.iterdir()
            if p.suffix in {".yaml", ".yml"} and not p.name.startswith(".") and p.is_file()
        ]
    except OSError as exc:
        return [Problem(shown, None, "", f"folder cannot be read: {_os_reason(exc)}")]
    if not names:
        return [
            Problem(
                shown,
                None,
                "",
                f"no {pattern} files in the folder; put the files back or correct {setting}",
            )
        ]
    return []


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return [annotation]


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """The keys a mapping at `loc` accepts, found by walking the model's annotations."""
    candidates: list[Any] = [model]
    for part in loc:
        following: list[Any] = []
        for candidate in candidates:
            for kind in _unwrap(candidate):
                origin = typing.get_origin(kind)
                args = typing.get_args(kind)
                if isinstance(kind, type) and issubclass(kind, BaseModel) and isinstance(part, str):
                    field = kind.model_fields.get(part) or next(
                        (f for f in kind.model_fields.values() if f.alias == part), None
                    )
                    if field is not None:
                        following.append(field.annotation)
                elif origin in (list, tuple, Sequence) and isinstance(part, int) and args:
                    following.append(args[0])
                elif origin is dict and len(args) == 2:
                    following.append(args[1])
        candidates = following
    for candidate in candidates:
        for kind in _unwrap(candidate):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                return [f.alias or name for name, f in kind.model_fields.items()]
    return None


SECRET_KEYS = {
    "token": "TELEGRAM_BOT_TOKEN",
    "bot_token": "TELEGRAM_BOT_TOKEN",
    "channel_secret": "LINE_CHANNEL_SECRET",
    "secret": "LINE_CHANNEL_SECRET",
    "access_token": "LINE_CHANNEL_ACCESS_TOKEN",
    "channel_access_token": "LINE_CHANNEL_ACCESS_TOKEN",
    "password": "DATABASE_URL",
}
_NO_INPUT_SHOWN = {"extra_forbidden", "missing", "string_too_long", "too_long"}


def _message(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind = error["type"]
    context = error.get("ctx", {})
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        if key in SECRET_KEYS:
            return (
                "secrets must not be written in files; "
                f"set the environment variable {SECRET_KEYS[key]} instead"
            )
        allowed = _allowed_keys(model, error["loc"][:-1])
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key (misspelt?){hint}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "expected a whole number"
    if kind in ("float_type", "float_parsing"):
        return "expected a number"
    if kind in ("bool_type", "bool_parsing"):
        return "expected true or false"
    if kind == "string_type":
        return "expected text"
    if kind in ("list_type", "tuple_type", "set_type"):
        return "expected a list"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "expected a mapping of keys and values"
    if kind in ("literal_error", "enum"):
        return f"expected one of {context.get('expected', '?')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return str(error["msg"]).removeprefix("Input should be ").lower()
    if kind in ("string_too_short", "too_short"):
        return "must not be empty"
    if kind in ("string_too_long", "too_long"):
        return str(error["msg"]).removeprefix("Input should have ").lower()
    if kind == "string_pattern_mismatch":
        return "has characters that are not allowed"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return str(error["msg"])


def _loc_without_tags(loc: Loc, data: Any) -> Loc:
    """Drop pydantic's union/validator tags (e.g. 'function-after[...]') from a location."""
    cleaned: list[str | int] = []
    node = data
    for part in loc:
        indexes_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if (isinstance(node, dict) and part in node) or indexes_list:
            node = node[part]
        elif isinstance(part, str) and ("[" in part or part.startswith(("function-", "tagged"))):
            continue
        else:
            node = None
        cleaned.append(part)
    return tuple(cleaned)


def _cross_field_problems(document: YamlDocument, result: BaseModel) -> list[Problem]:
    checks = getattr(result, "problems", None)
    if not callable(checks):
        return []
    return [
        Problem(document.file, document.line_of(loc), format_loc(loc), message)
        for loc, message in checks()
    ]


def validate(document: YamlDocument, model: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Validate a parsed document; raise `InvalidDocument` listing every problem."""
    data = {} if document.data is None else document.data
    try:
        result = model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = []
        failing: set[str | int] = set()
        for error in exc.errors():
            loc = _loc_without_tags(tuple(error["loc"]), data)
            failing.update(loc[:1])
            line = (
                document.line_of_key(loc)
                if error["type"] == "extra_forbidden"
                else document.line_of(loc)
            )
            message = _message(error, model)
            if error["type"] not in _NO_INPUT_SHOWN:
                message += f", got {document.shown_value(loc, error.get('input'))}"
            problems.append(Problem(document.file, line, format_loc(loc), message))
        problems.extend(_problems_beside_errors(document, model, data, failing, context))
        raise InvalidDocument(problems) from exc
    found = _cross_field_problems(document, result)
    if found:
        raise InvalidDocument(found)
    return result


def _problems_beside_errors(
    document: YamlDocument,
    model: type[BaseModel],
    data: Any,
    failing: set[str | int],
    context: dict[str, Any] | None,
) -> list[Problem]:
    """Run the cross-field checks on the keys that did validate, so all is reported at once."""
    if not isinstance(data, dict):
        return []
    try:
        partial = model.model_validate(
            {k: v for k, v in data.items() if k not in failing}, context=context
        )
    except ValidationError:
        return []
    return [
        problem
        for problem in _cross_field_problems(document, partial)
        if problem.key.split(".")[0].split("[")[0] not in failing
    ]


def load(path: Path, model: type[M], *, display_name: str | None = None) -> M:
    """Read, parse and validate a YAML file in one step."""
    return validate(read_yaml(path, display_name), model)
