"""Web pages are offered by name, never as raw addresses: a `Link` goes with the last part of
a message, survives the outbox, shows as a link button on Telegram and a named line on the
console."""

from __future__ import annotations

import io

import pytest

from bot.channels.console import ConsoleChannel
from bot.channels.telegram.render import inline_keyboard
from bot.domain.capabilities import CONSOLE, TELEGRAM, adapt
from bot.domain.messages import Action, Button, Link, MemberRef, Outgoing
from bot.texts import Catalogues

MAP = Link("地図を開く", "https://www.google.com/maps/search/?api=1&query=%E5%B7%A3%E9%B4%A8")


def test_a_link_is_a_web_address_with_a_name() -> None:
    with pytest.raises(ValueError, match="web address"):
        Link("地図", "javascript:alert(1)")
    with pytest.raises(ValueError, match="name"):
        Link(" ", "https://example.org")


def test_links_go_with_the_last_part_of_a_long_message() -> None:
    message = Outgoing("あ" * 5000, links=(MAP,))
    parts = adapt(message, TELEGRAM)
    assert len(parts) > 1
    assert [part.links for part in parts] == [()] * (len(parts) - 1) + [(MAP,)]


def test_links_survive_the_outbox() -> None:
    message = Outgoing(
        "巣鴨駅前", buttons=((Button("参加する", Action("rsvp", ("1", "going"))),),), links=(MAP,)
    )
    assert Outgoing.from_payload(message.to_payload()) == message


def test_telegram_shows_a_link_as_a_link_button_after_the_choices() -> None:
    rows = ((Button("参加する", Action("rsvp", ("1", "going"))),),)
    markup = inline_keyboard(rows, (MAP,))
    assert markup.inline_keyboard[0][0].callback_data == "1:rsvp:1:going"
    assert markup.inline_keyboard[1][0].text == "地図を開く"
    assert markup.inline_keyboard[1][0].url == MAP.url


def test_the_console_shows_a_link_by_its_name_with_the_address() -> None:
    out = io.StringIO()
    console = ConsoleChannel(
        lambda incoming: [],
        MemberRef("console", "hana"),
        Catalogues.load()["ja"],
        io.StringIO(),
        out,
    )
    console.show(adapt(Outgoing("巣鴨駅前", links=(MAP,)), CONSOLE))
    assert f"  地図を開く: {MAP.url}" in out.getvalue()
