"""Issue 9, hole 4: members' words cannot act on the organiser's terminal.

Escape sequences (ESC, CSI, OSC, other C0 and C1 controls) and bidi overrides in a display name
or a question are shown as visible escapes by every command that prints them, and by the
console channel.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot import terminal
from tests.cli.test_calendar_cli import workdir  # noqa: F401 - the fixture, shared
from tests.cli.test_cli import campaign_bot

EVIL_NAME = "\x1b[2J\x1b]0;pwned\x07悪\u202eいなし\x9b31m\r参加 偽者"
EVIL_QUESTION = "\x1b[31m宇宙の果て\x1b[0mには\u2066何が\u2069ある\x08\x08"
# What a terminal would act on: ESC, BEL, BS, CR, CSI (C1), and the bidi controls.
ACTIVE = ("\x1b", "\x07", "\x08", "\r", "\x9b", "\u202e", "\u2066", "\u2069")


def inert(output: str) -> bool:
    return not any(character in output for character in ACTIVE)


@pytest.mark.parametrize(
    ("value", "as_text", "as_field"),
    [
        ("花子", "花子", "花子"),
        ("a\x1b[2Jb", "a\\x1b[2Jb", "a\\x1b[2Jb"),
        ("行1\n行2\tx", "行1\n行2\tx", "行1\\x0a行2\\x09x"),
        ("x\r\x00\x7f\x85\x9b", "x\\x0d\\x00\\x7f\\x85\\x9b", "x\\x0d\\x00\\x7f\\x85\\x9b"),
        ("\u202eabc\u2066\u200f", "\\u202eabc\\u2066\\u200f", "\\u202eabc\\u2066\\u200f"),
        ("絵文字👍\u200d", "絵文字👍\u200d", "絵文字👍\u200d"),
    ],
)
def test_controls_become_visible_escapes(value: str, as_text: str, as_field: str) -> None:
    assert terminal.text(value) == as_text
    assert terminal.field(value) == as_field


def test_every_terminal_path_neutralises_members_words(workdir: Path) -> None:  # noqa: F811
    assert campaign_bot("reload", cwd=workdir).returncode == 0
    # On the console: /start, consent, a region, done; an answer with two guests; a question
    # the bot cannot answer, with escapes in it.
    chat = campaign_bot(
        "run", cwd=workdir, stdin=f"/start\n1\n1\n17\n予定\n1\n3\n{EVIL_QUESTION}\n"
    )
    assert chat.returncode == 0, chat.stderr
    assert inert(chat.stdout), "the console echoes and replies harmlessly"
    database = workdir / "data" / "campaign-bot.sqlite3"
    with sqlite3.connect(database) as connection:  # a member who chose a hostile name
        connection.execute("UPDATE members SET display_name = ?", (EVIL_NAME,))

    answers = campaign_bot("rsvps", "test-rally", cwd=workdir)
    assert answers.returncode == 0, answers.stderr
    assert inert(answers.stdout)
    (line,) = [line for line in answers.stdout.splitlines() if "悪" in line]
    assert terminal.field(EVIL_NAME) in line, "shown in full, on its own line"
    assert "\n参加 偽者" not in answers.stdout, "a name cannot forge a line"

    listed = campaign_bot("events", "list", cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    assert inert(listed.stdout)

    unanswered = campaign_bot("faq", "unanswered", cwd=workdir)
    assert unanswered.returncode == 0, unanswered.stderr
    assert "宇宙の果て" in unanswered.stdout
    assert inert(unanswered.stdout)
