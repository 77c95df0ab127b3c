"""登録情報 (/mydata): everything the bot keeps about the member, in plain words and as files.

The store gathers every row that refers to the member (`SqlPrivacy.export`, from the schema's
foreign keys); this module words the parts people care about and lists the rest by count. The
files hold every row and column: JSON for programs, CSV for Japanese Excel (UTF-8 with a
byte-order mark, formula-like cells quoted).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from bot.domain.capabilities import PRESETS
from bot.domain.messages import Action, Attachment, Button, Outgoing
from bot.domain.privacy import MemberData, spreadsheet_text
from bot.services.turn import Turn
from bot.texts import Texts

MAX_LINES = 10
"""Answers or questions listed on the screen; the files hold all of them."""
QUOTE_CHARS = 40
"""How much of a question the screen quotes."""
JSON_NAME = "my-data.json"
CSV_NAME = "my-data.csv"
# Where a channel cannot deliver these (LINE: a member's data never travels as a link), the
# screen offers no file; it still shows everything.
FILE_TYPES = ("application/json", "text/csv")
PENDING_STATES = frozenset({"queued", "sending"})


def show(turn: Turn) -> list[Outgoing]:
    """What is stored, in plain words, with the buttons for the files and for 登録削除."""
    member, texts = turn.member, turn.texts
    if member.id is None:  # not stored: never answered the welcome
        return [turn.screens.with_menu(member, texts("mydata.nothing"))]
    data = turn.uow.privacy.export(member.id)
    channel = PRESETS.get(member.channel)
    files = channel is None or all(channel.delivers(kind) for kind in FILE_TYPES)
    buttons = (
        *(((Button(texts("mydata.file_button"), Action("mydata_file")),),) if files else ()),
        (Button(texts("mydata.forget_button"), Action("menu", ("forget",))),),
        (Button(texts("settings.back"), Action("menu", ("menu",))),),
    )
    return [Outgoing(describe(turn, data), buttons=buttons)]


def send_file(turn: Turn) -> list[Outgoing]:
    """The same as files: every row and column stored about the member."""
    member = turn.member
    if member.id is None:
        return [turn.screens.with_menu(member, turn.texts("mydata.nothing"))]
    data = turn.uow.privacy.export(member.id)
    files = (
        Attachment(JSON_NAME, FILE_TYPES[0], as_json(data, turn.now)),
        Attachment(CSV_NAME, FILE_TYPES[1], as_csv(data, turn.texts)),
    )
    return [
        Outgoing(turn.texts("mydata.file"), attachments=files),
        turn.screens.menu_prompt(member),
    ]


def describe(turn: Turn, data: MemberData) -> str:
    texts, member, zone = turn.texts, turn.member, turn.campaign.timezone

    def when(value: object) -> str:
        if not isinstance(value, str):
            return texts("mydata.none")
        return texts.format_datetime(datetime.fromisoformat(value), zone)

    row = data["members"][0]
    if member.is_subscribed:
        notices = texts(f"settings.notifications_{member.scope.value}")
    else:
        notices = texts("settings.notifications_off")
    parts = [
        texts(
            "mydata.profile",
            name=row["display_name"] or texts("mydata.none"),
            since=when(row["created_at"]),
            regions=turn.screens.region_names(member),
            notices=notices,
            language=texts("language_name"),
            consent=when(row["consent_at"]),
        )
    ]
    if row.get("last_question"):
        parts.append(texts("mydata.last_question", question=_quote(row["last_question"])))
    answers = data.get("rsvps", [])
    if answers:
        lines = [texts("mydata.rsvps", n=len(answers))]
        for answer in answers[-MAX_LINES:]:
            occurrence = turn.uow.calendar.occurrence(int(answer["occurrence_id"]))
            title = occurrence.title if occurrence else texts("mydata.none")
            start = (
                texts.format_datetime(occurrence.starts_at, zone)
                if occurrence
                else texts("mydata.none")
            )
            lines.append(
                texts(
                    "mydata.rsvp_line",
                    when=start,
                    title=title,
                    answer=texts(f"events.answer.{answer['status']}"),
                )
            )
        parts.append("\n".join(lines))
    relays = [r for r in data.get("relays", []) if "question" in r]
    if relays:
        lines = [texts("mydata.relays", n=len(relays))]
        lines += [
            texts(
                "mydata.relay_line",
                when=when(relay["asked_at"]),
                question=_quote(relay["question"]),
                answered=texts("mydata.answered" if relay.get("answer") else "mydata.unanswered"),
            )
            for relay in relays[-MAX_LINES:]
        ]
        parts.append("\n".join(lines))
    messages = data.get("deliveries", [])
    if messages:
        pending = sum(1 for m in messages if m.get("state") in PENDING_STATES)
        parts.append(texts("mydata.deliveries", pending=pending, done=len(messages) - pending))
    described = {"members", "member_regions", "rsvps", "relays", "deliveries"}
    others = [
        texts("mydata.other_line", what=table_label(texts, table), n=len(rows))
        for table, rows in data.items()
        if table not in described and rows
    ]
    if others:
        parts.append("\n".join([texts("mydata.others"), *others]))
    parts.append(texts("mydata.footer"))
    return "\n\n".join(parts)


def table_label(texts: Texts, table: str) -> str:
    """What a table holds, in the member's words (its name if the catalogue has none)."""
    key = f"mydata.table.{table}"
    return texts(key) if key in texts.entries else table


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


def as_json(data: MemberData, now: datetime) -> bytes:
    document = {"exported_at": now.isoformat(), "tables": data}
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def as_csv(data: MemberData, texts: Texts) -> bytes:
    """One line per stored value: what (table), which row, which item, the value; UTF-8 with
    a byte-order mark so Japanese Excel opens it as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([texts(f"mydata.csv.{column}") for column in ("what", "row", "item", "value")])
    for table, rows in data.items():
        label = table_label(texts, table)
        for number, row in enumerate(rows, start=1):
            for item, value in row.items():
                writer.writerow([spreadsheet_text(label), number, item, _cell(value)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return spreadsheet_text(str(value))
