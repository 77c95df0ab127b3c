"""Drive the core like a member would: type words, press buttons by their label."""

from __future__ import annotations

from bot.domain.capabilities import Capabilities, adapt
from bot.domain.messages import Button, Incoming, MemberRef, Outgoing
from bot.services.conversation import Conversation

LIST_MARKS = ("・", "- ")
"""How a line of the list of 予定 starts, in Japanese and in English (`events.list_line`)."""


class Chat:
    """A member's side of the conversation.

    With `capabilities`, replies are seen as that channel shows them (`adapt`: pages of
    choices, shortened labels); without, as the core wrote them.
    """

    def __init__(
        self,
        conversation: Conversation,
        member: MemberRef,
        capabilities: Capabilities | None = None,
    ) -> None:
        self.conversation = conversation
        self.member = member
        self.capabilities = capabilities
        self.replies: list[Outgoing] = []

    def say(self, text: str) -> list[Outgoing]:
        return self._send(Incoming.from_text(self.member, text))

    def press(self, label: str, *, on: str | None = None) -> list[Outgoing]:
        """Press the button with this label among the last replies' choices and menu.

        `on` picks the reply whose text contains it, when several carry the same buttons
        (the 参加する of one event card among five).
        """
        return self._send(Incoming(self.member, action=self.button(label, on=on).action))

    def open_event(self, title: str) -> list[Outgoing]:
        """Show the card of the event whose line in 予定 contains `title`, as a member does:
        the list (from the start, unless the last replies show the event), 「もっと見る」 until
        the event is listed, then the event's button. Returns the card's replies."""
        if self._event_buttons():
            found = self._find_event(title)
            if found is not None:
                return self._send(Incoming(self.member, action=found.action))
        self.say("/events")
        while True:
            found = self._find_event(title)
            if found is not None:
                return self._send(Incoming(self.member, action=found.action))
            more = [b for b in self.labels() if b in {"もっと見る", "Show more"}]
            if not more:
                raise AssertionError(f"no event {title!r} in the list:\n{self.text}")
            self.press(more[0])

    def _find_event(self, title: str) -> Button | None:
        """The button of the event whose line in the list shown contains `title`."""
        lines = [line for line in self.text.splitlines() if line.startswith(LIST_MARKS)]
        buttons = self._event_buttons()
        assert len(lines) == len(buttons), f"a button per event line:\n{self.text}"
        return next((b for line, b in zip(lines, buttons, strict=True) if title in line), None)

    def _event_buttons(self) -> list[Button]:
        """The buttons of the list of 予定 that show one event's card."""
        return [
            button
            for reply in self.replies
            for button in reply.all_buttons()
            if button.action.name == "events"
            and button.action.args[:1] != ()
            and button.action.args[0].startswith("e")
        ]

    def press_raw(self, data: str) -> list[Outgoing]:
        return self._send(Incoming.from_button(self.member, data))

    def button(self, label: str, *, on: str | None = None) -> Button:
        for reply in self.replies:
            if on is not None and on not in reply.text:
                continue
            for button in reply.all_buttons():
                if button.label == label:
                    return button
        raise AssertionError(f"no button {label!r}; buttons: {self.labels()}")

    def labels(self) -> list[str]:
        return [b.label for reply in self.replies for b in reply.all_buttons()]

    def links(self) -> list[tuple[str, str]]:
        """The web pages offered by name in the last turn: (name, address)."""
        return [(link.label, link.url) for reply in self.replies for link in reply.links]

    def reply_with(self, fragment: str) -> Outgoing:
        """The last turn's reply whose text contains `fragment`."""
        for reply in self.replies:
            if fragment in reply.text:
                return reply
        raise AssertionError(f"no reply contains {fragment!r}; replies:\n{self.text}")

    @property
    def text(self) -> str:
        """Everything the bot said in its last turn."""
        return "\n".join(reply.text for reply in self.replies)

    def _send(self, incoming: Incoming) -> list[Outgoing]:
        self.replies = self.conversation.reply_to(incoming)
        if self.capabilities is not None:
            caps = self.capabilities
            self.replies = [part for reply in self.replies for part in adapt(reply, caps)]
        assert self.replies, "the bot must always answer"
        return self.replies
