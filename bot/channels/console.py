"""The console channel: chat with the bot in a terminal, or feed it a file of lines.

Buttons are numbered; typing a number presses the button. Everything goes through the same
core and database as the other channels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from bot.domain.messages import Button, Incoming, MemberRef, Outgoing
from bot.texts import Texts

CHANNEL = "console"


class ConsoleChannel:
    def __init__(
        self,
        reply_to: Callable[[Incoming], list[Outgoing]],
        member: MemberRef,
        texts: Texts,
        stdin: TextIO,
        stdout: TextIO,
        *,
        as_organiser: bool = False,
    ) -> None:
        self._reply_to = reply_to
        self._member = member
        self._texts = texts
        self._in = stdin
        self._out = stdout
        self._as_organiser = as_organiser
        self._buttons: list[Button] = []

    def run(self) -> None:
        """Read lines until end of input; piped input is echoed so the transcript reads well."""
        interactive = self._in.isatty()
        self._write(self._texts("console.hint"))
        if self._as_organiser:
            self._write(self._texts("console.as_organiser"))
        while True:
            if interactive:
                self._out.write("> ")
                self._out.flush()
            line = self._in.readline()
            if not line:
                break
            if not interactive:
                self._write(f"> {line.rstrip()}")
            self._render(self._reply_to(self._incoming(line.rstrip("\r\n"))))

    def _incoming(self, line: str) -> Incoming:
        number = line.strip()
        if number.isascii() and number.isdigit() and 1 <= int(number) <= len(self._buttons):
            return Incoming(self._member, action=self._buttons[int(number) - 1].action)
        return Incoming.from_text(self._member, line)

    def _render(self, replies: list[Outgoing]) -> None:
        self._buttons = []
        for reply in replies:
            self._write("")
            self._write(reply.text)
            for attachment in reply.attachments:
                self._write(self._texts("console.attachment", name=attachment.filename))
            for row in reply.buttons:
                for button in row:
                    self._buttons.append(button)
                    self._write(f"  [{len(self._buttons)}] {button.label}")
            if reply.menu and not reply.buttons:
                items = []
                for row in reply.menu:
                    for button in row:
                        self._buttons.append(button)
                        items.append(f"[{len(self._buttons)}] {button.label}")
                self._write(f"  {self._texts('console.menu_label')}: " + "  ".join(items))
        self._write("")

    def _write(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()
