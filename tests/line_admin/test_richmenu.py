"""The committed rich menu: within LINE's rules, four areas that tile the image, the words on
the picture are the catalogue's, legible, and each tap is understood by the core."""

from __future__ import annotations

from collections import Counter
from io import BytesIO
from itertools import combinations
from pathlib import Path

import pytest
from linebot.v3.messaging import PostbackAction
from PIL import Image

from bot.channels.line import richmenu
from bot.channels.line.richmenu_image import NoFont, draw, find_font
from bot.config import Settings
from bot.domain.messages import Action, Incoming, MemberRef
from bot.services.conversation import Conversation
from bot.store.database import Database
from bot.texts import Catalogues
from tests.fakes.clock import FakeClock

CATALOGUES = Catalogues.load()
JA = CATALOGUES["ja"]
IMAGE = richmenu.IMAGE.read_bytes()


def test_the_image_meets_lines_rules() -> None:
    width, height = richmenu.png_size(IMAGE)

    assert (width, height) == (2500, 1686)
    assert 800 <= width <= 2500
    assert width / height >= 1.45
    assert len(IMAGE) <= 1024 * 1024
    assert richmenu.image_problems(IMAGE) == []
    with Image.open(BytesIO(IMAGE)) as image:
        assert image.format == "PNG"
        assert image.size == (width, height)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"GIF89a", "not a PNG"),
        (None, "not the menu's 2500x1686"),
    ],
)
def test_an_image_outside_the_rules_is_named(content: bytes | None, problem: str) -> None:
    if content is None:
        small = BytesIO()
        Image.new("RGB", (1200, 810), "white").save(small, format="PNG")
        content = small.getvalue()
    problems = richmenu.image_problems(content)

    assert any(problem in found for found in problems), problems


def test_a_too_narrow_or_too_tall_image_is_refused() -> None:
    tall = BytesIO()
    Image.new("RGB", (800, 600), "white").save(tall, format="PNG")

    problems = richmenu.image_problems(tall.getvalue(), 800, 600)

    assert problems == ["800x600: LINE wants width/height >= 1.45"]


def test_the_areas_tile_the_image_without_overlap() -> None:
    areas = richmenu.areas()
    width, height = richmenu.png_size(IMAGE)

    assert 1 <= len(areas) <= 20
    for area in areas:
        assert area.x >= 0
        assert area.y >= 0
        assert area.x + area.width <= width
        assert area.y + area.height <= height
    for a, b in combinations(areas, 2):
        apart = (
            a.x + a.width <= b.x
            or b.x + b.width <= a.x
            or a.y + a.height <= b.y
            or b.y + b.height <= a.y
        )
        assert apart, (a, b)
    assert sum(area.width * area.height for area in areas) == width * height


def test_the_picture_shows_the_catalogues_words_in_the_areas_order() -> None:
    drawn = richmenu.png_text(IMAGE, richmenu.LABELS_KEY)

    assert drawn is not None, "draw it with python -m bot.channels.line.richmenu_image"
    assert drawn.split("\n") == richmenu.labels(JA, richmenu.areas())
    assert drawn.split("\n") == ["予定", "質問", "通知設定", "ヘルプ"]


def test_the_menu_object_taps_send_the_main_menus_own_buttons() -> None:
    request = richmenu.request(JA)
    areas = richmenu.areas()

    assert request.chat_bar_text == "メニュー"
    assert request.selected is True
    assert request.areas is not None
    assert len(request.areas) == len(areas)
    for sent, area in zip(request.areas, areas, strict=True):
        bounds = sent.bounds
        assert (bounds.x, bounds.y, bounds.width, bounds.height) == (
            area.x,
            area.y,
            area.width,
            area.height,
        )
        action = sent.action
        assert isinstance(action, PostbackAction)
        assert Action.decode(action.data) == Action("menu", (area.intent,))
        assert action.display_text == JA(f"menu.{area.intent}")
        assert len(action.data) <= 300


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    def luminance(colour: tuple[int, int, int]) -> float:
        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(v) for v in colour)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_each_area_is_white_words_on_a_dark_colour_above_7_to_1() -> None:
    with Image.open(BytesIO(IMAGE)) as image:
        rgb = image.convert("RGB")
        for area in richmenu.areas():
            cell = rgb.crop((area.x, area.y, area.x + area.width, area.y + area.height))
            colours = cell.getcolors(maxcolors=area.width * area.height) or []
            counts = Counter({colour: count for count, colour in colours})
            (background, _), (words, share) = counts.most_common(2)
            assert words == (255, 255, 255), area
            assert share > 0.03 * area.width * area.height, f"large words in {area.intent}"
            assert _contrast(background, words) >= 7, (area.intent, background)


@pytest.fixture
def conversation(settings: Settings, database: Database, clock: FakeClock) -> Conversation:
    return Conversation(database.unit_of_work, settings.campaign(), CATALOGUES, clock)


def test_every_tap_is_what_the_main_menus_button_does(conversation: Conversation) -> None:
    member = MemberRef("line", "U" + "1" * 32, display_name="花子")
    conversation.handle(Incoming.from_text(member, "はじめる"))
    for reply in conversation.handle(Incoming.from_text(member, "/start")):
        for button in reply.all_buttons():
            if button.label == "はい、受け取ります":
                conversation.handle(Incoming(member, action=button.action))
    request = richmenu.request(JA)
    assert request.areas is not None
    for sent, area in zip(request.areas, richmenu.areas(), strict=True):
        action = sent.action
        assert isinstance(action, PostbackAction)
        tapped = conversation.handle(Incoming.from_button(member, action.data))
        pressed = conversation.handle(Incoming(member, action=Action("menu", (area.intent,))))
        typed = conversation.handle(Incoming.from_text(member, JA(f"menu.{area.intent}")))
        assert [r.text for r in tapped] == [r.text for r in pressed], area.intent
        assert [r.text for r in tapped] == [r.text for r in typed], area.intent
        assert "わかりません" not in tapped[0].text


def test_the_generator_draws_the_committed_picture_where_a_japanese_font_is_installed(
    tmp_path: Path,
) -> None:
    try:
        font = find_font(None)
    except NoFont:
        pytest.skip("no Japanese font here (Debian: apt-get install fonts-noto-cjk)")
    content = draw(JA, font)

    assert richmenu.image_problems(content) == []
    assert richmenu.png_text(content, richmenu.LABELS_KEY) == richmenu.png_text(
        IMAGE, richmenu.LABELS_KEY
    )
