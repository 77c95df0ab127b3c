"""The console channel: chat with the bot in a terminal, or feed it a file of lines.

Buttons are numbered; typing a number presses the button. Everything goes through the same
core and database as the other channels; messages the bot sends on its own initiative (an
organiser's answer, a changed event) are shown when they are due, between turns. A terminal
shows any number of buttons and any length of text, so `adapt` changes nothing here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TextIO

from bot import terminal
from bot.domain.capabilities import CONSOLE, Capabilities, adapt
from bot.domain.messages import Button, Incoming, MemberRef, Outgoing
from bot.texts import Texts

CHANNEL = "console"


class ConsoleChannel:
    capabilities: Capabilities = CONSOLE

    def __init__(
        self,
        reply_to: Callable[[Incoming], list[Outgoing]],
        member: MemberRef,
        texts: Texts,
        stdin: TextIO,
        stdout: TextIO,
        *,
        as_organiser: bool = False,
        deliver_pending: Callable[[], object] | None = None,
    ) -> None:
        self._reply_to = reply_to
        self.member = member
        self._texts = texts
        self._in = stdin
        self._out = stdout
        self._as_organiser = as_organiser
        self._deliver_pending = deliver_pending or (lambda: None)
        self._buttons: list[Button] = []

    def run(self) -> None:
        """Read lines until end of input; piped input is echoed so the transcript reads well."""
        interactive = self._in.isatty()
        reconfigure = getattr(self._in, "reconfigure", None)
        if reconfigure is not None:
            # Bytes that are not UTF-8 (a file in Shift_JIS, a broken paste) become U+FFFD
            # instead of ending the session with a UnicodeDecodeError.
            reconfigure(errors="replace")
        self._write(self._texts("console.hint"))
        if self._as_organiser:
            self._write(self._texts("console.as_organiser"))
        self._buttons = []
        self._deliver_pending()
        while True:
            if interactive:
                self._out.write("> ")
                self._out.flush()
            line = self._in.readline()
            if not line:
                break
            if not interactive:
                self._write(f"> {terminal.field(line.rstrip())}")
            replies = self._reply_to(self._incoming(line.rstrip("\r\n")))
            self._buttons = []
            self.show(replies)
            self._deliver_pending()

    def show(self, replies: list[Outgoing]) -> None:
        """Print messages; their buttons are numbered after those already on screen."""
        # Replies carry members' words (names, relayed questions): made harmless for the
        # terminal, like every other output to it (bot/terminal.py).
        for reply in (part for message in replies for part in adapt(message, self.capabilities)):
            self._write("")
            self._write(terminal.text(reply.text))
            for attachment in reply.attachments:
                name = terminal.field(attachment.filename)
                self._write(self._texts("console.attachment", name=name))
            for row in reply.buttons:
                for button in row:
                    self._buttons.append(button)
                    self._write(f"  [{len(self._buttons)}] {terminal.field(button.label)}")
            for link in reply.links:
                self._write(f"  {terminal.field(link.label)}: {terminal.field(link.url)}")
            if reply.menu and not reply.buttons:
                items = []
                for row in reply.menu:
                    for button in row:
                        self._buttons.append(button)
                        items.append(f"[{len(self._buttons)}] {terminal.field(button.label)}")
                self._write(f"  {self._texts('console.menu_label')}: " + "  ".join(items))
        self._write("")

    def _incoming(self, line: str) -> Incoming:
        number = line.strip()
        if number.isascii() and number.isdigit() and 1 <= int(number) <= len(self._buttons):
            return Incoming(self.member, action=self._buttons[int(number) - 1].action)
        return Incoming.from_text(self.member, line)

    def _write(self, text: str) -> None:
        # A lone surrogate (from a stream decoded with surrogateescape) cannot be printed.
        self._out.write(text.encode("utf-8", "replace").decode("utf-8") + "\n")
        self._out.flush()


class ConsoleMessenger:
    """Shows the outbox's messages for the person at the terminal, in the conversation."""

    def __init__(self, console: ConsoleChannel) -> None:
        self._console = console
        self.capabilities = console.capabilities
        self._ids = itertools.count(1)
        # Other console identities (the organiser, when a member is at the terminal) wait.
        self.audience = frozenset({console.member.external_id})

    def parts(self, message: Outgoing) -> int:
        return len(adapt(message, self.capabilities))

    async def send(self, external_id: str, message: Outgoing, *, retry_key: str) -> str:
        self._console.show([message])
        return str(next(self._ids))
