"""The LINE channel's parts on their own: translation, rendering, file links, queues."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette

from bot.channels.line import render
from bot.channels.line.channel import LineChannel
from bot.channels.line.files import MAX_URI, CalendarFiles
from bot.channels.line.ordering import MemberQueues
from bot.channels.line.translate import Kind, translate
from bot.channels.line.webhook import Arrival, Webhook
from bot.config import LineConfig
from bot.delivery.pacing import Pacer
from bot.domain.messages import Action, Attachment, Button, Incoming, Link, MemberRef, Outgoing
from bot.texts import Catalogues
from tests.fakes.line_api import FakeLine
from tests.fakes.line_webhook import EventFactory, encode, envelope, signature

USER = "U" + "5" * 32
SECRET = "s3cr3t"
CALENDAR = Attachment("rally-1207-once.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR")


def test_events_become_the_cores_incoming() -> None:
    events = EventFactory()
    follow = translate(events.follow(USER, "t1"))
    assert follow is not None
    assert follow.incoming is not None
    assert follow.incoming.command == "start", "a new friend is a first contact"
    assert follow.incoming.event_id == follow.event_id
    assert follow.reply_token == "t1"
    unblocked = translate(events.follow(USER, "t2", unblocked=True))
    assert unblocked is not None
    assert unblocked.unblocked
    assert unblocked.incoming is not None
    assert unblocked.incoming.command == "menu"
    blocked = translate(events.unfollow(USER))
    assert blocked is not None
    assert blocked.kind is Kind.BLOCKED
    text = translate(events.text(USER, "t3", "予定"))
    assert text is not None
    assert text.incoming is not None
    assert text.incoming.text == "予定"
    typed_command = translate(events.text(USER, "t4", "/stop"))
    assert typed_command is not None
    assert typed_command.incoming is not None
    assert typed_command.incoming.command == "stop"
    sticker = translate(events.sticker(USER, "t5"))
    assert sticker is not None
    assert sticker.incoming is not None
    assert sticker.incoming.media == "sticker"
    button = translate(events.postback(USER, "t6", Action("rsvp", ("1", "going")).encode()))
    assert button is not None
    assert button.incoming is not None
    assert button.incoming.action == Action("rsvp", ("1", "going"))
    forged = translate(events.postback(USER, "t7", "x" * 300))
    assert forged is not None
    assert forged.incoming is not None
    assert forged.incoming.raw_action == "x" * 80
    again = translate({**events.text(USER, "t8", "a"), "deliveryContext": {"isRedelivery": True}})
    assert again is not None
    assert again.event_id is not None, "the core knows it by its webhookEventId"


def test_what_the_bot_does_not_answer() -> None:
    events = EventFactory()
    assert translate(events.text(USER, "t", "a", mode="standby")) is None
    video = {**events.text(USER, "t", "a"), "message": {"type": "video", "id": "1"}}
    translated = translate(video)
    assert translated is not None
    assert translated.incoming is not None
    assert translated.incoming.media == "video"
    new_kind = {**events.text(USER, "t", "a"), "message": {"type": "hologram", "id": "1"}}
    translated = translate(new_kind)
    assert translated is not None
    assert translated.incoming is not None
    assert translated.incoming.media == "other"
    room: dict[str, Any] = {**events.text(USER, "t", "a"), "source": {"type": "room"}}
    assert translate(room) is None
    assert translate({"type": "accountLink", "source": {"type": "user", "userId": USER}}) is None


def card() -> Outgoing:
    answers = tuple(
        Button(label, Action("rsvp", ("7", status)))
        for label, status in (("参加する", "going"), ("未定", "maybe"), ("行けない", "no"))
    )
    return Outgoing(
        "【集会】大集会\n12月7日(月) 13:00",
        buttons=(answers,),
        links=(Link("地図を開く", "https://maps.example.org/?q=1"),),
    )


def test_rendering_cards_choices_and_the_menu() -> None:
    menu = (
        (Button("予定", Action("menu", ("events",))), Button("ヘルプ", Action("menu", ("help",)))),
    )
    choices = Outgoing(
        "どれですか", buttons=((Button("はい", Action("consent", ("yes",))),),), menu=menu
    )
    messages = render.render([card(), choices], lambda a: None)
    flex, text = (m.to_dict() for m in messages)
    assert flex["type"] == "flex"
    assert flex["altText"].startswith("【集会】大集会")
    footer = flex["contents"]["footer"]["contents"]
    assert [b["action"]["label"] for b in footer[0]["contents"]] == ["参加する", "未定", "行けない"]
    assert footer[1]["action"] == {
        "type": "uri",
        "label": "地図を開く",
        "uri": "https://maps.example.org/?q=1",
    }
    assert text["quickReply"]["items"][0]["action"] == {
        "type": "postback",
        "label": "はい",
        "data": "1:consent:yes",
        "displayText": "はい",
    }
    # The menu goes under the last message when it has no choices of its own.
    plain = render.render([card(), Outgoing("おわり", menu=menu)], lambda a: None)
    assert [i["action"]["label"] for i in plain[-1].to_dict()["quickReply"]["items"]] == [
        "予定",
        "ヘルプ",
    ]
    # Choices followed by more messages would lose their quick replies: a bubble keeps them.
    kept = render.render([choices, Outgoing("つづき")], lambda a: None)
    assert kept[0].to_dict()["type"] == "flex"


def test_rendering_within_lines_limits() -> None:
    many = tuple(
        (Button(f"とても長い名前の選択肢その{n}です", Action("faq", (f"e{n}",))),)
        for n in range(20)
    )
    long_text = "あ" * 12_000
    messages = render.render([Outgoing(long_text, buttons=many)], lambda a: None)
    as_dicts = [m.to_dict() for m in messages]
    assert all(render.utf16_length(m.get("text", "")) <= 5000 for m in as_dicts)
    for message in as_dicts:
        items = (message.get("quickReply") or {}).get("items", [])
        assert len(items) <= 13
        assert all(len(i["action"]["label"]) <= 20 for i in items)
        assert all(len(i["action"]["data"]) <= 300 for i in items)
    emoji = render.render([Outgoing("😀" * 4000)], lambda a: None)
    assert len(emoji) == 2, "4,000 emoji are 8,000 UTF-16 units: two texts"
    assert [len(batch) for batch in render.calls(list(range(12)))] == [5, 5, 2]


def test_calendar_links_are_signed_short_lived_and_hold_the_file() -> None:
    now = [1_800_000_000.0]
    files = CalendarFiles(SECRET, lifetime=3600, clock=lambda: now[0])
    address = files.url("https://bot.example.org/", CALENDAR)
    assert address.startswith("https://bot.example.org/line/ics/")
    token = address.split("/line/ics/")[1].split("?")[0]
    assert files.open(token) == CALENDAR
    assert CalendarFiles("another secret", clock=lambda: now[0]).open(token) is None
    assert files.open(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert files.open("not a token") is None
    now[0] += 3601
    assert files.open(token) is None, "expired"


def test_a_calendar_too_large_for_a_link_is_kept_in_memory() -> None:
    files = CalendarFiles(SECRET, kept=1)
    big = Attachment("big.ics", "text/calendar", os.urandom(2000))  # does not compress
    address = files.url("https://bot.example.org", big)
    assert len(address) <= MAX_URI
    token = address.split("/line/ics/")[1].split("?")[0]
    assert files.open(token) == big
    files.url("https://bot.example.org", Attachment("b.ics", "text/calendar", os.urandom(2000)))
    assert files.open(token) is None, "only the newest `kept` are kept"


async def test_member_queues_keep_each_members_order_and_refuse_when_full() -> None:
    handled: list[str] = []
    release = asyncio.Event()
    b_done = asyncio.Event()

    async def handle(item: str) -> None:
        if item == "a1":
            await release.wait()
        handled.append(item)
        if item == "b1":
            b_done.set()

    queues: MemberQueues[str] = MemberQueues(handle, limit=4)
    assert queues.offer([("a", "a1"), ("a", "a2"), ("b", "b1")])
    assert not queues.offer([("b", "b2"), ("b", "b3")]), "all or nothing past the limit"
    await b_done.wait()
    assert handled == ["b1"], "b is not held up by a's slow first event"
    release.set()
    await queues.close()
    assert handled == ["b1", "a1", "a2"]
    assert not queues.offer([("a", "a3")]), "closed"


async def test_a_full_webhook_answers_503_and_takes_nothing() -> None:
    release = asyncio.Event()
    taken: list[Arrival] = []

    async def handle(arrival: Arrival) -> None:
        taken.append(arrival)
        await release.wait()

    queues: MemberQueues[Arrival] = MemberQueues(handle, limit=1)
    app = Starlette(routes=[Webhook(SECRET, queues).route()])
    events = EventFactory()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as client:

        async def post(*sent: dict[str, Any]) -> int:
            body = encode(envelope("U" + "0" * 32, sent))
            response = await client.post(
                "/line/callback",
                content=body,
                headers={"x-line-signature": signature(body, SECRET)},
            )
            return response.status_code

        assert await post(events.text(USER, "t1", "a")) == 200
        assert await post(events.text(USER, "t2", "b")) == 503
        release.set()
        await queues.close()
    assert len(taken) == 1


class BrokenCore:
    """An `Inbound` whose core fails every turn (the database is down, say)."""

    async def handle(self, incoming: Incoming) -> list[Outgoing]:
        raise RuntimeError(f"cannot handle {incoming.text}")

    async def apology(self, ref: MemberRef) -> Outgoing:
        return Outgoing("申し訳ありません。うまくいきませんでした。")


async def test_a_turn_that_fails_gets_an_apology_not_silence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeLine() as fake:
        user = fake.add_user()
        channel = LineChannel(
            LineConfig(enabled=True, api_host=fake.base_url),
            fake.channel_secret,
            fake.access_token,
            BrokenCore(),  # type: ignore[arg-type]  # a fake with the methods used
            Catalogues.load()["ja"],
            Pacer(per_chat_per_second=100.0, per_chat_burst=20),
        )
        await channel.start()
        app = Starlette(routes=list(channel.routes()))
        sender = fake.webhook_sender("http://bot/line/callback")
        _, body, headers = sender.prepare([fake.text_event(user, "ヘルプ")])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
            response = await client.post("/line/callback", content=body, headers=headers)
        assert response.status_code == 200
        await channel.stop()
        assert fake.texts(user) == ["申し訳ありません。うまくいきませんでした。"]
        assert fake.messages(user)[0].endpoint == "reply_message"
        assert "failed to handle a LINE turn event" in caplog.text


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "postback", "follow", "unfollow", "join", "x"]) | _json,
        "mode": st.sampled_from(["active", "standby"]) | _json,
        "source": st.fixed_dictionaries({"type": st.just("user"), "userId": st.just(USER)}) | _json,
        "message": st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "image"])}, optional={"text": _json}
        )
        | _json,
        "postback": st.fixed_dictionaries({}, optional={"data": _json}) | _json,
        "follow": _json,
        "replyToken": _json,
        "webhookEventId": _json,
    },
)


@given(_fields)
def test_any_event_shape_is_translated_or_ignored_never_an_error(event: dict[str, Any]) -> None:
    translated = translate(event)
    if translated is not None:
        assert translated.member.external_id == USER
        assert translated.kind is Kind.BLOCKED or translated.incoming is not None
