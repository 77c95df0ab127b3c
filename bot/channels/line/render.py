"""The core's `Outgoing` -> LINE message objects (line-bot-sdk v3 models).

Every message is first adapted to `CAPABILITIES` (bot/domain/capabilities.py): at most 13
choices with labels of at most 20 characters, texts of at most 5,000. Then:

- The choices of the last message of a turn become quick replies: big buttons above the input
  field, which LINE shows only under the newest message and hides once one is tapped.
- A message whose buttons must stay (an event card with 参加する / 未定 / 行けない, a message
  with web pages or a file, or choices followed by more messages) becomes a Flex bubble: its
  text, then its buttons as postbacks and its links as buttons that open the page.
- The main menu (予定, 質問...) is the quick reply of the last message when that message has
  no choices of its own.
- A file (the event's .ics) is a link: LINE takes no documents from a bot (see files.py).

Every postback carries our encoded `Action` (at most 64 bytes; LINE allows 300) and shows the
button's label in the chat as the member's own words, so they see what they tapped.

The SDK's models are made with `construct`, without pydantic's validation: every value here is
a string we checked above or one of LINE's fixed words ("vertical", "secondary"...), and
validating every button of every answer again cost more CPU than anything else in a turn.
tests/line/test_serialization.py checks that the SDK's own validation takes what we make.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from linebot.v3.messaging import (  # type: ignore[import-untyped]  # no py.typed
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexComponent,
    FlexMessage,
    FlexText,
    Message,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
    URIAction,
)

from bot.domain.capabilities import LINE, adapt, split_text
from bot.domain.messages import Attachment, Button, Link, Outgoing

CAPABILITIES = LINE
MESSAGES_PER_CALL = 5
"""Message objects LINE takes in one reply, push or multicast."""
ALT_TEXT_CHARS = 400
LINK_LABEL_CHARS = 40
MAX_URI = 1000
# A row of buttons stays one row in a bubble when every label is this short (参加する / 未定 /
# 行けない); longer labels get a line each, so nothing is cut on a narrow phone.
_SHORT_LABEL = 5

Rows = tuple[tuple[Button, ...], ...]
FileLink = Callable[[Attachment], Link | None]
"""The link under which a file can be opened, or None when there is no way to offer it."""


@dataclass(frozen=True)
class _Part:
    """One message to send, adapted, with the links it carries (its files' too)."""

    text: str
    buttons: Rows
    links: tuple[Link, ...]
    card: bool
    menu: Rows


def render(replies: Sequence[Outgoing], file_link: FileLink) -> list[Message]:
    """The replies of one turn (or one queued message) as LINE messages, in order."""
    return [message for _, message in render_with_origins(replies, file_link)]


def render_with_origins(
    replies: Sequence[Outgoing], file_link: FileLink
) -> list[tuple[int, Message]]:
    """`render`, each message with the index of the reply it comes from."""
    parts = [
        (origin, part)
        for origin, reply in enumerate(replies)
        for adapted in adapt(reply, LINE)
        for part in _fitting(_part(adapted, file_link))
    ]
    menu = next((part.menu for _, part in reversed(parts) if part.menu), ())
    messages: list[tuple[int, Message]] = []
    for index, (origin, part) in enumerate(parts):
        last = index == len(parts) - 1
        message: Message
        if part.card or part.links or (part.buttons and not last):
            message = _bubble(part, _quick_reply(menu) if last and menu else None)
        elif last and (part.buttons or menu):
            message = TextMessage.construct(
                text=part.text, quick_reply=_quick_reply(part.buttons or menu)
            )
        else:
            message = TextMessage.construct(text=part.text)
        messages.append((origin, message))
    return messages


def calls(messages: Sequence[Message]) -> list[list[Message]]:
    """`messages` in groups LINE takes in one call, in order."""
    return [
        list(messages[start : start + MESSAGES_PER_CALL])
        for start in range(0, len(messages), MESSAGES_PER_CALL)
    ]


def count(replies: Sequence[Outgoing]) -> int:
    """How many message objects `render` makes of `replies` (links need no address here)."""
    return len(render(replies, lambda attachment: None))


def _part(message: Outgoing, file_link: FileLink) -> _Part:
    links = [link for link in message.links if len(link.url) <= MAX_URI]
    for attachment in message.attachments:
        link = file_link(attachment)
        if link is not None:
            links.append(link)
    card = any(button.action.name == "rsvp" for row in message.buttons for button in row)
    return _Part(message.text, message.buttons, tuple(links), card, message.menu)


def _fitting(part: _Part) -> list[_Part]:
    """`part`, or its text in pieces LINE takes: LINE counts UTF-16 units, so a text of
    5,000 characters with emoji is too long; the buttons go with the last piece."""
    if utf16_length(part.text) <= CAPABILITIES.max_text_chars:
        return [part]
    pieces = split_text(part.text, CAPABILITIES.max_text_chars // 2)
    plain = [_Part(piece, (), (), False, ()) for piece in pieces[:-1]]
    return [*plain, replace(part, text=pieces[-1])]


def utf16_length(text: str) -> int:
    """Characters as LINE counts them: UTF-16 code units (an emoji may count two)."""
    return len(text.encode("utf-16-le")) // 2


# The same buttons come back turn after turn (the main menu ends most replies): their models
# are made once. Models are never changed after rendering, so sharing them is safe.
@lru_cache(maxsize=1024)
def _postback(button: Button) -> PostbackAction:
    return PostbackAction.construct(
        label=button.label, data=button.action.encode(), display_text=button.label
    )


@lru_cache(maxsize=256)
def _quick_reply(rows: Rows) -> QuickReply:
    buttons = [button for row in rows for button in row][: CAPABILITIES.max_buttons]
    return QuickReply.construct(
        items=[QuickReplyItem.construct(action=_postback(button)) for button in buttons]
    )


def _bubble(part: _Part, quick_reply: QuickReply | None = None) -> FlexMessage:
    """A Flex bubble: the text, then big buttons (choices first, then the pages to open)."""
    footer: list[FlexComponent] = []
    for row in part.buttons:
        buttons = [
            FlexButton.construct(action=_postback(button), style="secondary", height="md", flex=1)
            for button in row
        ]
        if len(row) > 1 and all(len(button.label) <= _SHORT_LABEL for button in row):
            footer.append(FlexBox.construct(layout="horizontal", spacing="sm", contents=buttons))
        else:
            footer.extend(buttons)
    for link in part.links:
        label = link.label
        if len(label) > LINK_LABEL_CHARS:
            label = label[: LINK_LABEL_CHARS - 1] + "…"
        footer.append(
            FlexButton.construct(
                action=URIAction.construct(label=label, uri=link.url), style="link", height="md"
            )
        )
    title, _, rest = part.text.partition("\n")
    if part.card and rest.strip():
        # An event's title (「【集会】…」) stands out above its date and place.
        body = [
            FlexText.construct(text=title, wrap=True, weight="bold", size="lg"),
            FlexText.construct(text=rest, wrap=True, margin="md"),
        ]
    else:
        body = [FlexText.construct(text=part.text, wrap=True)]
    bubble = FlexBubble.construct(
        body=FlexBox.construct(layout="vertical", contents=body),
        footer=FlexBox.construct(layout="vertical", spacing="sm", contents=footer)
        if footer
        else None,
    )
    return FlexMessage.construct(
        alt_text=_alt_text(part.text), contents=bubble, quick_reply=quick_reply
    )


def _alt_text(text: str) -> str:
    """What the chat list and notifications show of a bubble."""
    text = text.strip()
    if utf16_length(text) <= ALT_TEXT_CHARS:
        return text
    while utf16_length(text) > ALT_TEXT_CHARS - 1:
        text = text[: min(len(text) - 1, ALT_TEXT_CHARS - 1)]
    return text + "…"
