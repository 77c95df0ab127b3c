"""Text that reaches an organiser's terminal, made harmless.

Members choose their display names and write their questions; printed raw, an escape sequence
in them could clear the screen, rewrite earlier lines, retitle the window, plant a hyperlink or
(on some terminals) answer back as typed input, and a bidi override could make a line read
differently from what it holds. Everything members wrote passes through `text` (whole
messages) or `field` (one value on a line) on its way to a terminal: control characters and
bidi controls are shown as visible escapes such as `\\x1b` or `\\u202e`, so nothing is lost and
nothing acts.
"""

from __future__ import annotations

import re

# DEL, the C1 controls, the line and paragraph separators, and the bidi embedding, override and
# isolate controls (and the marks, which reorder text as well); with the C0 controls below.
_OTHERS = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")  # tab and line feed kept
_IN_FIELD = re.compile(f"[\x00-\x1f{_OTHERS}]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text(value: str) -> str:
    """A message for the terminal: line breaks and tabs kept, every other control visible."""
    return _IN_TEXT.sub(_visible, value)


def field(value: str) -> str:
    """One value on a line (a name, a question): line breaks and tabs made visible too, so it
    cannot start a line of its own."""
    return _IN_FIELD.sub(_visible, value)
