"""YAML mistakes that parse without error but mean something else, found on the node tree.

The one organisers meet: inside `{ }` a comma separates entries, so
`repeat: {rule: FREQ=MONTHLY;BYMONTHDAY=4,14,24}` is a rule "FREQ=MONTHLY;BYMONTHDAY=4" and
two keys 14 and 24 with no value. Pydantic would then talk about keys that should be strings;
naming the comma is what helps.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from bot.yaml_validation import Loc

_NULL = "tag:yaml.org,2002:null"


def split_by_comma(node: yaml.Node | None, loc: Loc = ()) -> Iterator[tuple[Loc, int, str]]:
    """Each `{ }` mapping with entries that have no colon: (where, line, first such entry)."""
    if isinstance(node, yaml.MappingNode):
        if node.flow_style:
            stray = [key for key, value in node.value if _no_value(key, value)]
            if stray:
                yield loc, node.start_mark.line + 1, str(stray[0].value)
        for key, value in node.value:
            yield from split_by_comma(value, (*loc, str(key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from split_by_comma(item, (*loc, index))


def _no_value(key: yaml.Node, value: yaml.Node) -> bool:
    # `{a: b, 14}`: the 14 is a key with an empty value that starts where the key ends, as no
    # colon came between them (`{a: , b: 1}` has a colon, so its empty value starts later).
    return (
        isinstance(value, yaml.ScalarNode)
        and value.tag == _NULL
        and value.value == ""
        and value.start_mark.index == key.end_mark.index
    )


def comma_message(entry: str) -> str:
    """What to tell the organiser about a `{ }` mapping split by a comma."""
    return (
        f'inside {{ }} a comma separates entries, so "{entry}" became a key of its own; '
        'put the value that has commas in quotes, such as rule: "FREQ=MONTHLY;BYMONTHDAY=4,14,24"'
    )
