"""The LINE rich menu: the member menu (予定 / 質問 / 通知設定 / ヘルプ) as four big areas.

Each area sends the postback of the main menu's button for the same thing
(`Action("menu", (intent,))`, which the core's buttons decoder reads like a pressed button),
with the word itself as the text shown in the chat, so a tap reads like typing 「予定」.

The image is `assets/richmenu.png`, made by `python -m bot.channels.line.richmenu_image` and
committed, so a machine without a Japanese font needs none. Its iTXt chunk `campaign-bot:labels`
records the words drawn on it, in area order, so a test can tell when the catalogue's words and
the picture part ways.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from linebot.v3.messaging import (  # type: ignore[import-untyped]  # no py.typed
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
)

from bot.domain.messages import Action
from bot.services.screens import MEMBER_MENU
from bot.texts import Texts

NAME = "campaign-bot member menu"
"""How our menus are known in LINE's list: a new one replaces every earlier one of this name."""
IMAGE = Path(__file__).resolve().parent / "assets" / "richmenu.png"
WIDTH, HEIGHT = 2500, 1686
"""LINE's large rich menu size: four areas of 1250 x 843 px, big enough for large words."""
LABELS_KEY = "campaign-bot:labels"

# LINE's rules for a rich menu and its image.
MIN_WIDTH, MAX_WIDTH = 800, 2500
MIN_HEIGHT = 250
MIN_ASPECT = 1.45
MAX_IMAGE_BYTES = 1024 * 1024
MAX_AREAS = 20
CHAT_BAR_CHARS = 14

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Area:
    """One tappable rectangle of the menu and the main-menu intent it stands for."""

    intent: str
    x: int
    y: int
    width: int
    height: int

    @property
    def action(self) -> Action:
        return Action("menu", (self.intent,))


def areas(
    width: int = WIDTH, height: int = HEIGHT, rows: Sequence[Sequence[str]] = MEMBER_MENU
) -> list[Area]:
    """The member menu's rows as a grid that covers the whole image, edge to edge."""
    found = []
    for row_index, row in enumerate(rows):
        top = height * row_index // len(rows)
        bottom = height * (row_index + 1) // len(rows)
        for column, intent in enumerate(row):
            left = width * column // len(row)
            right = width * (column + 1) // len(row)
            found.append(Area(str(intent), left, top, right - left, bottom - top))
    return found


def labels(texts: Texts, menu: Sequence[Area]) -> list[str]:
    """The words of the areas, as the main menu says them."""
    return [texts(f"menu.{area.intent}") for area in menu]


def request(texts: Texts, width: int = WIDTH, height: int = HEIGHT) -> RichMenuRequest:
    """The rich menu object: shown open, our name, and a postback per area."""
    menu = areas(width, height)
    return RichMenuRequest(
        size=RichMenuSize(width=width, height=height),
        selected=True,
        name=NAME,
        chat_bar_text=texts("richmenu.chat_bar")[:CHAT_BAR_CHARS],
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=area.x, y=area.y, width=area.width, height=area.height),
                action=PostbackAction(
                    label=label[:20],
                    data=area.action.encode(),
                    display_text=label,
                ),
            )
            for area, label in zip(menu, labels(texts, menu), strict=True)
        ],
    )


# --- the image ------------------------------------------------------------------------------


def png_chunks(content: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk of a PNG; ValueError if it is not one."""
    if not content.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(content):
        (length,) = struct.unpack(">I", content[offset : offset + 4])
        kind = content[offset + 4 : offset + 8]
        data = content[offset + 8 : offset + 8 + length]
        if len(data) != length:
            raise ValueError("a PNG cut short")
        yield kind, data
        offset += 12 + length


def png_size(content: bytes) -> tuple[int, int]:
    for kind, data in png_chunks(content):
        if kind == b"IHDR" and len(data) >= 8:
            width, height = struct.unpack(">II", data[:8])
            return int(width), int(height)
        break
    raise ValueError("a PNG without its header")


def png_text(content: bytes, key: str) -> str | None:
    """The value of an iTXt (UTF-8) text chunk, or None."""
    for kind, data in png_chunks(content):
        if kind != b"iTXt":
            continue
        name, _, rest = data.partition(b"\0")
        if name.decode("latin-1") != key:
            continue
        compressed, _method = rest[0], rest[1]
        _language, _, rest = rest[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        return (zlib.decompress(text) if compressed else text).decode("utf-8")
    return None


def image_problems(content: bytes, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    """Why LINE would refuse `content` as the image of a menu of width x height (none: fine)."""
    try:
        found = png_size(content)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    if len(content) > MAX_IMAGE_BYTES:
        problems.append(f"{len(content):,} bytes, more than LINE's 1 MB")
    image_width, image_height = found
    if not MIN_WIDTH <= image_width <= MAX_WIDTH:
        problems.append(f"{image_width} px wide; LINE takes {MIN_WIDTH} to {MAX_WIDTH}")
    if image_height < MIN_HEIGHT or image_width / image_height < MIN_ASPECT:
        problems.append(f"{image_width}x{image_height}: LINE wants width/height >= {MIN_ASPECT}")
    if found != (width, height):
        problems.append(f"{image_width}x{image_height}, not the menu's {width}x{height}")
    return problems
