"""The requests the messenger sends dump to exactly the JSON the SDK's own models make."""

from __future__ import annotations

from linebot.v3.messaging import (  # type: ignore[import-untyped]  # no py.typed
    ApiClient,
    Configuration,
    Message,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
)

from bot.channels.line import render
from bot.channels.line.messenger import _Multicast, _Push, _Reply
from bot.domain.messages import Action, Attachment, Button, Link, Outgoing

USER = "U" + "5" * 32
CALENDAR = Attachment("rally-1207-once.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR")


def _replies() -> list[Outgoing]:
    menu = tuple(
        tuple(Button(f"メニュー{row}{col}", Action("menu", (f"m{row}{col}",))) for col in range(2))
        for row in range(3)
    )
    rsvp = (
        tuple(
            Button(label, Action("rsvp", ("e1", answer)))
            for label, answer in (("参加する", "yes"), ("未定", "maybe"), ("行けない", "no"))
        ),
    )
    long_labels = ((Button("とても長いラベルのボタンです", Action("menu", ("x",))),),)
    return [
        Outgoing("【集会】テスト\n12月7日 14:00\n駅前", buttons=rsvp, attachments=(CALENDAR,)),
        Outgoing("ページ", links=(Link("サイト", "https://example.org/a"),), buttons=long_labels),
        Outgoing("長い" * 3000),
        Outgoing("どれにしますか", buttons=long_labels, menu=menu),
        Outgoing("おわり", menu=menu),
    ]


def _link(attachment: Attachment) -> Link:
    return Link("カレンダーに追加", f"https://bot.example/line/files/{attachment.filename}")


def test_requests_dump_as_the_sdk_would() -> None:
    client = ApiClient(Configuration(host="http://127.0.0.1", access_token="t"))
    for end in range(1, len(_replies()) + 1):
        messages = render.render(_replies()[:end], _link)[-render.MESSAGES_PER_CALL :]
        recipients = [USER, USER[:-1] + "6"]
        for ours, sdk in (
            (_Reply(reply_token="t", messages=messages), ReplyMessageRequest),
            (_Push(to=USER, messages=messages), PushMessageRequest),
            (_Multicast(to=recipients, messages=messages), MulticastRequest),
        ):
            assert isinstance(ours, sdk)
            theirs = sdk(**{name: getattr(ours, name) for name in sdk.__fields__})
            assert type(theirs) is sdk
            assert ours.to_dict() == theirs.to_dict()
            sent = client.sanitize_for_serialization(ours)
            assert sent == client.sanitize_for_serialization(theirs)
            assert len(sent["messages"]) == len(messages)


def test_rendered_models_pass_the_sdks_validation() -> None:
    """`render` makes its models without validation: the SDK's validation takes them whole."""
    for message in render.render(_replies(), _link):
        plain = message.to_dict()
        validated = Message.from_dict(plain)
        assert type(validated) is type(message)
        assert validated.to_dict() == plain
