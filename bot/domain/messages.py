"""Platform-neutral messages: what a channel hands to the core and what the core hands back."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

ACTION_VERSION = "1"
"""Bumped when the meaning of encoded actions changes; older buttons are then politely refused."""

MAX_ACTION_BYTES = 64
"""Telegram's callback_data limit, the tightest of all channels."""

MAX_TEXT_CHARS = 2000
"""Longer messages are cut before the core looks at them (measured after NFKC normalisation):
nobody types more to a chat bot."""

MAX_NAME_CHARS = 64
"""Display names are cut to this (Telegram allows 64 for a first name; other channels more)."""

_ACTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,23}")
_ACTION_ARG = re.compile(r"[A-Za-z0-9_\-.]{1,48}")
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?", re.DOTALL)


class InvalidAction(ValueError):
    """A button payload that this version of the bot did not create."""


@dataclass(frozen=True)
class Action:
    """What a button does when pressed: a name and a few short arguments."""

    name: str
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _ACTION_NAME.fullmatch(self.name):
            raise ValueError(f"bad action name {self.name!r}")
        for arg in self.args:
            if not _ACTION_ARG.fullmatch(arg):
                raise ValueError(f"bad action argument {arg!r}")
        if len(self.encode().encode()) > MAX_ACTION_BYTES:
            raise ValueError(f"action {self.name} is longer than {MAX_ACTION_BYTES} bytes")

    def encode(self) -> str:
        """The compact string form carried by buttons (Telegram callback_data, LINE postback)."""
        return ":".join((ACTION_VERSION, self.name, *self.args))

    @classmethod
    def decode(cls, data: str) -> Action:
        """Parse a button payload; anything stale or forged raises `InvalidAction`."""
        parts = data.split(":")
        if len(parts) < 2 or parts[0] != ACTION_VERSION:
            raise InvalidAction(data[:80])
        try:
            return cls(parts[1], tuple(parts[2:]))
        except ValueError as exc:
            raise InvalidAction(data[:80]) from exc


@dataclass(frozen=True)
class MemberRef:
    """Who wrote: the channel and that channel's id for the person."""

    channel: str
    external_id: str
    display_name: str | None = None


@dataclass(frozen=True)
class Incoming:
    """One thing a member did: wrote text, pressed a button, sent a command or a picture."""

    member: MemberRef
    text: str | None = None
    action: Action | None = None
    raw_action: str | None = None
    command: str | None = None
    payload: str = ""
    media: str | None = None
    received_at: datetime | None = None
    event_id: str | None = None
    """The platform's id of the event (LINE's webhookEventId, Telegram's update_id): one
    delivered again is not handled twice."""

    @classmethod
    def from_text(
        cls, member: MemberRef, text: str, received_at: datetime | None = None
    ) -> Incoming:
        """A typed message; `/name payload` becomes a command, anything else plain text."""
        cleaned = clean_text(text)
        match = _COMMAND.fullmatch(cleaned)
        if match:
            return cls(
                member,
                command=match.group(1).lower(),
                payload=(match.group(2) or "").strip(),
                received_at=received_at,
            )
        return cls(member, text=cleaned, received_at=received_at)

    @classmethod
    def from_button(
        cls, member: MemberRef, data: str, received_at: datetime | None = None
    ) -> Incoming:
        """A pressed button; a payload we cannot decode is kept raw so the core can answer it."""
        try:
            return cls(member, action=Action.decode(data), received_at=received_at)
        except InvalidAction:
            return cls(member, raw_action=data[:80], received_at=received_at)

    @classmethod
    def from_media(
        cls, member: MemberRef, kind: str, received_at: datetime | None = None
    ) -> Incoming:
        """Something that is not text (a sticker, photo, voice message): the bot reads only text."""
        return cls(member, media=kind, received_at=received_at)

    @classmethod
    def from_command(
        cls, member: MemberRef, command: str, payload: str = "", received_at: datetime | None = None
    ) -> Incoming:
        """A command already split by the channel (Telegram's CommandHandler)."""
        return cls(
            member,
            command=command.lower(),
            payload=clean_text(payload),
            received_at=received_at,
        )


@dataclass(frozen=True)
class Button:
    """A choice shown under a message (or, for the main menu, as a big persistent button)."""

    label: str
    action: Action


@dataclass(frozen=True)
class Link:
    """A web page offered by name (「地図を開く」, 「厚生労働省のページ」): members never see a raw
    or percent-encoded address. Channels show it as a link button where they can."""

    label: str
    url: str

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"a link must be a web address: {self.url[:80]!r}")
        if not self.label.strip():
            raise ValueError("a link needs a name")


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message, such as an .ics calendar entry."""

    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class PagingWords:
    """The words a channel adds when it has to page or shorten choices, in one language.

    `page` is a template with `{page}` and `{pages}`; the core fills this from
    the catalogue (`paging.*`), so `bot.domain.capabilities.adapt` needs no catalogue itself.
    """

    next: str
    back: str
    page: str
    full_labels: str
    stale: str
    continued: str


@dataclass(frozen=True)
class Paging:
    """How a message's choices may be split into pages on a channel with few buttons.

    `screen` is a side-effect-free action that shows this message afresh; with it, a channel
    that cannot show every choice adds 「次へ」/「戻る」 buttons, which come back to the core as
    a `page` action naming `screen`. `footer` rows (決定, 世話人に聞く) show on every page.
    `page` is the page to show; `focus`, the button just pressed, wins over it, so a screen
    redrawn after a press stays on the page the member was looking at.
    """

    screen: Action | None = None
    footer: int = 0
    page: int = 0
    focus: Action | None = None
    words: PagingWords | None = None


@dataclass(frozen=True)
class Outgoing:
    """One message the core wants shown to a member.

    `buttons` are choices that belong to this message; `menu` is the main menu, which channels
    show as a persistent keyboard. `replace` asks the channel to update the message whose button
    was pressed instead of sending a new one, where the platform allows it; `edit_of` names
    another message of ours to update. `paging` says how
    the choices may be paged where a channel shows fewer buttons (see `Paging`).
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    menu: tuple[tuple[Button, ...], ...] = ()
    attachments: tuple[Attachment, ...] = ()
    replace: bool = False
    paging: Paging | None = None
    edit_of: str | None = None
    """The platform id of a message sent earlier to update instead (a broadcast's progress
    count); a channel that cannot edit, or a message too old to edit, gets a new one."""
    links: tuple[Link, ...] = ()
    """Web pages offered by name under the message (after its buttons)."""

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("an outgoing message needs text")

    def with_paging(self, **changes: Any) -> Outgoing:
        """This message with `Paging` fields changed (a `Paging()` is created if there is none)."""
        return replace(self, paging=replace(self.paging or Paging(), **changes))

    def to_payload(self) -> dict[str, object]:
        """A JSON-ready form for the outbox (attachments are not queued)."""

        def rows(keyboard: tuple[tuple[Button, ...], ...]) -> list[list[list[str]]]:
            return [[[b.label, b.action.encode()] for b in row] for row in keyboard]

        payload: dict[str, object] = {
            "text": self.text,
            "buttons": rows(self.buttons),
            "menu": rows(self.menu),
        }
        if self.links:
            payload["links"] = [[link.label, link.url] for link in self.links]
        if self.paging is not None:
            paging = self.paging
            payload["paging"] = {
                "screen": paging.screen.encode() if paging.screen else None,
                "footer": paging.footer,
                "page": paging.page,
                "focus": paging.focus.encode() if paging.focus else None,
                "words": asdict(paging.words) if paging.words else None,
            }
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> Outgoing:
        def rows(value: object) -> tuple[tuple[Button, ...], ...]:
            assert isinstance(value, list)
            return tuple(
                tuple(Button(label, Action.decode(data)) for label, data in row) for row in value
            )

        def action(value: object) -> Action | None:
            return Action.decode(value) if isinstance(value, str) else None

        paging = None
        stored = payload.get("paging")
        if isinstance(stored, dict):
            words = stored.get("words")
            paging = Paging(
                screen=action(stored.get("screen")),
                footer=int(stored.get("footer") or 0),
                page=int(stored.get("page") or 0),
                focus=action(stored.get("focus")),
                words=PagingWords(**words) if isinstance(words, dict) else None,
            )
        return cls(
            str(payload["text"]),
            buttons=rows(payload.get("buttons", [])),
            menu=rows(payload.get("menu", [])),
            paging=paging,
            links=tuple(Link(str(label), str(url)) for label, url in _pairs(payload.get("links"))),
        )

    def all_buttons(self) -> list[Button]:
        """Choices first, then the menu: the order the console numbers them in."""
        return [b for row in (*self.buttons, *self.menu) for b in row]


def _pairs(value: object) -> list[tuple[object, object]]:
    if not isinstance(value, list):
        return []
    return [(item[0], item[1]) for item in value if isinstance(item, list) and len(item) == 2]


def clean_text(text: str) -> str:
    """Drop control characters and surrounding space, and cut text to `MAX_TEXT_CHARS`.

    The bound holds after NFKC normalisation (what the question matcher and its tokenizer
    see): one character can grow to 18 (U+FDFA), so a text is cut where its characters'
    compatibility decompositions (never shorter than their NFKC form) reach the bound. Lone
    surrogates (undecodable bytes passed through, or `\\ud800` in JSON) cannot be stored or
    sent, and become U+FFFD.
    """
    kept: list[str] = []
    size = 0
    for ch in text[: MAX_TEXT_CHARS * 2]:
        category = unicodedata.category(ch)
        if category == "Cc" and ch not in "\n\t":
            continue
        if category == "Cs":
            ch = "\ufffd"
        kept.append(ch)
    stripped = "".join(kept).strip()
    for index, ch in enumerate(stripped):
        size += len(unicodedata.normalize("NFKD", ch)) if ord(ch) > 0x7F else 1
        if size > MAX_TEXT_CHARS:
            return stripped[:index].rstrip()
    return stripped


def normalised_length(text: str) -> int:
    """How long `text` is once NFKC-normalised: what `clean_text` keeps within bounds."""
    return len(unicodedata.normalize("NFKC", text))
