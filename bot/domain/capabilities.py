"""What a channel can show, and the one place a message is made to fit it.

Screens are written once, for no channel in particular. A messenger declares its channel's
`Capabilities`; before anything is sent (a reply, or a message from the outbox) the channel
passes each `Outgoing` through `adapt`, which pages long lists of choices, shortens long button
labels (their full text goes into the message, numbered) and splits long texts. So the region
picker (16 regions and 決定) is one message on Telegram and the console, and two pages on LINE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.domain.messages import Action, Button, Outgoing, Paging, PagingWords

CALENDAR_MEDIA_TYPE = "text/calendar"

# The next and back buttons carry `Action(PAGE_ACTION, (page, screen name, *screen args))`.
PAGE_ACTION = "page"

ELLIPSIS = "…"
_MARKS = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
# Without words from the catalogue (a message built outside a conversation): symbols only.
_FALLBACK_NEXT, _FALLBACK_BACK, _FALLBACK_CONTINUED = "▶", "◀", "…"

Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Capabilities:
    """What one channel can show and send.

    `max_buttons` counts the choices under one message (the main menu is separate: a
    persistent keyboard on Telegram, a rich menu on LINE). `batch_send` is how many recipients
    one send call can take (LINE multicast: 500); 1 means one call per recipient.
    """

    channel: str
    max_text_chars: int
    max_buttons: int
    max_buttons_per_row: int
    max_label_chars: int
    batch_send: int = 1
    can_edit: bool = False
    can_send_files: bool = True
    file_links: frozenset[str] = frozenset()
    """Media types a channel that cannot send files offers as a link to open instead."""

    def delivers(self, media_type: str) -> bool:
        """Whether a member on this channel can receive a file of `media_type`."""
        return self.can_send_files or media_type in self.file_links

    def __post_init__(self) -> None:
        # A page needs room for 「戻る」, 「次へ」 and one choice; a label for a mark, a
        # character and the ellipsis.
        if self.max_buttons < 3 or self.max_label_chars < 3:
            raise ValueError(f"{self.channel}: too few buttons or label characters to adapt")
        if min(self.max_text_chars, self.max_buttons_per_row, self.batch_send) < 1:
            raise ValueError(f"{self.channel}: limits must be positive")


TELEGRAM = Capabilities(
    "telegram",
    max_text_chars=4096,
    max_buttons=100,  # inline keyboard: at most 100 buttons, 8 per row
    max_buttons_per_row=8,
    # Telegram documents no label limit but cuts long labels on screen; 64 stays readable.
    max_label_chars=64,
    batch_send=1,  # no multicast: one sendMessage per chat
    can_edit=True,
)
LINE = Capabilities(
    "line",
    max_text_chars=5000,
    max_buttons=13,  # quick reply items
    max_buttons_per_row=13,  # quick replies are one scrolling row
    max_label_chars=20,
    batch_send=500,  # multicast
    can_edit=False,
    can_send_files=False,
    # Calendar files become signed links (bot/channels/line/files.py); a member's own data
    # never travels as a link through LINE.
    file_links=frozenset({CALENDAR_MEDIA_TYPE}),
)
CONSOLE = Capabilities(
    "console",
    max_text_chars=100_000,
    max_buttons=1000,
    max_buttons_per_row=1000,
    max_label_chars=1000,
    can_edit=False,  # it prints the new version below
)
PRESETS = {caps.channel: caps for caps in (TELEGRAM, LINE, CONSOLE)}


def adapt(message: Outgoing, capabilities: Capabilities) -> list[Outgoing]:
    """`message` as the channel can show it: one message or a few, each within its limits.

    - More choices than `max_buttons`: with `message.paging.screen`, one page of them plus
      「次へ」/「戻る」 (and the footer rows on every page); without, several messages of
      choices. A page number past the end (stale or forged) shows the first page with a note.
    - Labels longer than `max_label_chars` end in 「…」, with a mark (①) that the message's
      text repeats in front of the full label.
    - Rows longer than `max_buttons_per_row` wrap; texts longer than `max_text_chars` are
      split at line breaks, the buttons going with the last part.
    - `replace` is dropped where the channel cannot edit a sent message.
    - Attachments go with the last message; a channel that cannot send files
      (`can_send_files`) decides what to offer instead.

    The result carries no `paging`: adapting it again changes nothing.
    """
    caps = capabilities
    paging = message.paging or Paging()
    words = paging.words
    screens = _screens(message, caps, paging)
    out: list[Outgoing] = []
    for screen in screens:
        rows, full_labels = _shorten(screen.rows, caps.max_label_chars)
        listed = "\n".join([words.full_labels, *full_labels] if words else full_labels)
        text = _join(screen.text, listed if full_labels else None, screen.page_line)
        parts = split_text(text, caps.max_text_chars)
        for number, part in enumerate(parts):
            last = number == len(parts) - 1
            out.append(
                Outgoing(
                    part,
                    buttons=_wrap(rows, caps.max_buttons_per_row) if last else (),
                    replace=message.replace and caps.can_edit and not out,
                    edit_of=message.edit_of if caps.can_edit and not out else None,
                )
            )
    final = out[-1]
    out[-1] = replace(
        final,
        menu=_wrap(_shorten_silently(message.menu, caps.max_label_chars), caps.max_buttons_per_row),
        attachments=message.attachments,
        links=message.links,
    )
    return out


def page_action(screen: Action, page: int) -> Action:
    """The action of a 「次へ」/「戻る」 button: show `page` of what `screen` shows."""
    return Action(PAGE_ACTION, (str(page), screen.name, *screen.args))


def split_text(text: str, limit: int) -> list[str]:
    """Split text longer than `limit` characters, at line breaks where possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        if text[:cut].strip():
            parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text.strip() or not parts:
        parts.append(text)
    return parts


@dataclass(frozen=True)
class _Screen:
    """One message to send, before labels are shortened: `page_line` says which page it is."""

    text: str
    rows: Rows
    page_line: str | None = None


def _screens(message: Outgoing, caps: Capabilities, paging: Paging) -> list[_Screen]:
    rows = message.buttons
    if sum(len(row) for row in rows) <= caps.max_buttons:
        return [_Screen(message.text, rows)]
    footer = rows[len(rows) - paging.footer :] if 0 < paging.footer < len(rows) else ()
    choices = rows[: len(rows) - len(footer)]
    room = caps.max_buttons - sum(len(row) for row in footer)
    if paging.screen is not None and room >= 3 and _fits(paging.screen):
        return [_page(message.text, choices, footer, room, paging.screen, paging)]
    return _in_messages(message.text, rows, caps.max_buttons, paging.words)


def _fits(screen: Action) -> bool:
    try:
        page_action(screen, 999)
    except ValueError:  # the screen's action is too long to carry a page number as well
        return False
    return True


def _page(
    text: str, choices: Rows, footer: Rows, room: int, screen: Action, paging: Paging
) -> _Screen:
    flat = [(row_index, button) for row_index, row in enumerate(choices) for button in row]
    pages = _pages(len(flat), room)
    words = paging.words
    shown = paging.page
    focused = [
        number
        for number, (start, end) in enumerate(pages)
        if any(button.action == paging.focus for _, button in flat[start:end])
    ]
    note = None
    if focused:
        shown = focused[0]
    elif not 0 <= shown < len(pages):
        shown = 0
        note = words.stale if words else None
    start, end = pages[shown]
    page_rows = _regroup(flat[start:end])
    navigation = []
    if shown > 0:
        back = words.back if words else _FALLBACK_BACK
        navigation.append(Button(back, page_action(screen, shown - 1)))
    if shown < len(pages) - 1:
        label = words.next if words else _FALLBACK_NEXT
        navigation.append(Button(label, page_action(screen, shown + 1)))
    line = words.page.format(page=shown + 1, pages=len(pages)) if words else None
    return _Screen(_join(note, text), (*page_rows, tuple(navigation), *footer), line)


def _pages(count: int, room: int) -> list[tuple[int, int]]:
    """Where each page of `count` choices starts and ends, with `room` buttons a page."""
    pages: list[tuple[int, int]] = []
    start = 0
    while start < count:
        space = room - (1 if pages else 0)  # 「戻る」 from the second page on
        end = count if count - start <= space else start + space - 1  # else room for 「次へ」
        pages.append((start, end))
        start = end
    return pages


def _regroup(buttons: Sequence[tuple[int, Button]]) -> Rows:
    """Buttons of one page back in the rows they came in."""
    rows: list[list[Button]] = []
    previous = None
    for row_index, button in buttons:
        if row_index != previous:
            rows.append([])
            previous = row_index
        rows[-1].append(button)
    return tuple(tuple(row) for row in rows)


def _in_messages(text: str, rows: Rows, size: int, words: PagingWords | None) -> list[_Screen]:
    """No way to page: the choices go into as many messages as they need."""
    flat = [(row_index, button) for row_index, row in enumerate(rows) for button in row]
    continued = words.continued if words else _FALLBACK_CONTINUED
    return [
        _Screen(text if start == 0 else continued, _regroup(flat[start : start + size]))
        for start in range(0, len(flat), size)
    ]


def _shorten(rows: Rows, limit: int) -> tuple[Rows, list[str]]:
    """Rows with long labels cut and marked ①, ②..., and the full labels with their marks."""
    full: list[str] = []
    shortened: list[tuple[Button, ...]] = []
    for row in rows:
        kept = []
        for button in row:
            if len(button.label) > limit:
                mark = _mark(len(full) + 1)
                full.append(f"{mark}{button.label}")
                label = mark + button.label[: max(limit - len(mark) - 1, 1)] + ELLIPSIS
                button = Button(label[:limit], button.action)
            kept.append(button)
        shortened.append(tuple(kept))
    return tuple(shortened), full


def _shorten_silently(rows: Rows, limit: int) -> Rows:
    return tuple(
        tuple(
            Button(b.label[: limit - 1] + ELLIPSIS, b.action) if len(b.label) > limit else b
            for b in row
        )
        for row in rows
    )


def _mark(number: int) -> str:
    return _MARKS[number - 1] if number <= len(_MARKS) else f"({number})"


def _wrap(rows: Rows, per_row: int) -> Rows:
    return tuple(
        row[start : start + per_row] for row in rows if row for start in range(0, len(row), per_row)
    )


def _join(*parts: str | None) -> str:
    return "\n\n".join(part for part in parts if part)
