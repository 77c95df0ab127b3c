"""Draw the rich menu's image: `python -m bot.channels.line.richmenu_image [--font FILE]`.

Writes `assets/richmenu.png` (2500 x 1686): the four member-menu words of the catalogue, very
large and bold, white on dark colours (contrast above 7:1, WCAG's AAA), each with a short
line saying what it is for. The PNG is committed; run this again after changing
`menu.*` or `richmenu.*` in the catalogue (a test says when the two disagree).

Needs Pillow (the dev extra) and a Japanese font: Noto Sans CJK JP Bold is looked for where
Debian's fonts-noto-cjk puts it, then through fontconfig.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from bot.channels.line.richmenu import (
    HEIGHT,
    IMAGE,
    LABELS_KEY,
    MAX_IMAGE_BYTES,
    WIDTH,
    Area,
    areas,
    image_problems,
    labels,
)
from bot.texts import Catalogues, Texts

LANGUAGE = "ja"
FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
)
FONT_PATTERN = "Noto Sans CJK JP:style=Bold"
WHITE = (255, 255, 255)
# One dark colour per area (予定, 質問, 通知設定, ヘルプ): each with white at least 7:1.
BACKGROUNDS = ((11, 61, 120), (14, 88, 52), (138, 45, 0), (84, 36, 120))
GAP = 12
"""White lines between the areas, drawn inside them (the areas themselves meet)."""
LABEL_PX = 250
HINT_PX = 84


class NoFont(Exception):
    pass


def find_font(given: Path | None) -> tuple[Path, int]:
    """A bold Japanese font file, and the index of its JP face in a collection."""
    candidates = [given] if given else [Path(name) for name in FONT_FILES]
    if given is None and shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", FONT_PATTERN],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if found:
            candidates.append(Path(found))
    for path in candidates:
        if path is not None and path.is_file():
            return path, _jp_face(path)
    raise NoFont(
        "no Japanese font found: install one (Debian: apt-get install fonts-noto-cjk) "
        "or pass --font FILE"
    )


def _jp_face(path: Path) -> int:
    """The Japanese face of a font collection (a .ttc holds JP, KR, SC, TC, HK)."""
    for index in range(16):
        try:
            family, _style = ImageFont.truetype(str(path), 20, index=index).getname()
        except OSError:
            break
        if family is not None and "JP" in family:
            return index
    return 0


def _centred(
    draw: ImageDraw.ImageDraw, box: Area, text: str, font: ImageFont.FreeTypeFont, middle: float
) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = box.x + (box.width - (right - left)) / 2 - left
    y = box.y + box.height * middle - (bottom - top) / 2 - top
    draw.text((x, y), text, font=font, fill=WHITE)


def _fitting(
    draw: ImageDraw.ImageDraw, text: str, path: Path, index: int, size: int, width: int
) -> ImageFont.FreeTypeFont:
    """The font at `size`, smaller if `text` would not fit `width`."""
    while True:
        font = ImageFont.truetype(str(path), size, index=index)
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        if right - left <= width or size <= 40:
            return font
        size -= 10


def draw(texts: Texts, font: tuple[Path, int]) -> bytes:
    """The menu image as PNG bytes, its words recorded in the `campaign-bot:labels` chunk."""
    path, index = font
    menu = areas()
    words = labels(texts, menu)
    image = Image.new("RGB", (WIDTH, HEIGHT), WHITE)
    pen = ImageDraw.Draw(image)
    for area, word, background in zip(menu, words, BACKGROUNDS, strict=True):
        inner = (
            area.x + (GAP // 2 if area.x else 0),
            area.y + (GAP // 2 if area.y else 0),
            area.x + area.width - 1 - (GAP // 2 if area.x + area.width < WIDTH else 0),
            area.y + area.height - 1 - (GAP // 2 if area.y + area.height < HEIGHT else 0),
        )
        pen.rectangle(inner, fill=background)
        room = area.width - 160
        _centred(pen, area, word, _fitting(pen, word, path, index, LABEL_PX, room), 0.42)
        hint = texts(f"richmenu.hint_{area.intent}")
        _centred(pen, area, hint, _fitting(pen, hint, path, index, HINT_PX, room), 0.78)
    info = PngInfo()
    info.add_itxt(LABELS_KEY, "\n".join(words))
    out = BytesIO()
    image.save(out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.channels.line.richmenu_image",
        description="Draw the LINE rich menu image from the catalogue's menu words.",
    )
    parser.add_argument("--font", type=Path, help="a bold Japanese font file (.ttc, .otf, .ttf)")
    parser.add_argument(
        "--output", type=Path, default=IMAGE, help=f"where to write it (default {IMAGE})"
    )
    args = parser.parse_args(argv)
    try:
        font = find_font(args.font)
    except NoFont as exc:
        print(f"richmenu_image: {exc}", file=sys.stderr)
        return 1
    content = draw(Catalogues.load()[LANGUAGE], font)
    problems = image_problems(content)
    if problems:
        print(f"richmenu_image: {'; '.join(problems)}", file=sys.stderr)
        return 1
    args.output.write_bytes(content)
    print(f"{args.output}: {WIDTH}x{HEIGHT}, {len(content):,} bytes (at most {MAX_IMAGE_BYTES:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
