"""登録情報: the member sees everything stored about them, and gets it as files; the export
is checked against the schema itself, so a table added later cannot be left out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from sqlalchemy import func, or_, select

from bot.store.database import Database
from bot.store.tables import Base
from tests.dialogs.chat import Chat
from tests.fakes.clock import FakeClock
from tests.privacy.journey import NAME, RELAYED, member_id, registered


def referring_rows(database: Database, member: int) -> dict[str, int]:
    """For every table with a column that refers to a member (a foreign key to members.id),
    read from the metadata here, how many of its rows refer to `member`."""
    counts = {}
    with database.session() as session:
        for table in Base.metadata.sorted_tables:
            columns = [
                column
                for column in table.columns
                if any(key.column.table.name == "members" for key in column.foreign_keys)
            ]
            if columns:
                counts[table.name] = session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(or_(*(column == member for column in columns)))
                )
    return counts


def test_every_table_that_refers_to_the_member_is_in_the_export(
    member: Callable[..., Chat], database: Database, clock: FakeClock
) -> None:
    journey = registered(member, database, clock)
    journey.alice.say("/forget")  # a dialog open: the confirmation
    alice = member_id(database)
    referring = referring_rows(database, alice)
    assert referring
    assert all(referring.values()), (
        f"the journey must leave rows in every table that can refer to a member: {referring}"
    )
    with database.unit_of_work() as uow:
        data = uow.privacy.export(alice)
    assert {table: len(data.get(table, [])) for table in referring} == referring
    assert data["members"][0]["display_name"] == NAME

    journey.alice.press("やめる")
    journey.alice.say("登録情報")
    journey.alice.press("ファイルで受け取る")
    sent, _menu = journey.alice.replies
    files = {file.filename: file for file in sent.attachments}
    assert set(files) == {"my-data.json", "my-data.csv"}
    document = json.loads(files["my-data.json"].content)
    # (the confirmation was closed with やめる: no dialog to export any more)
    assert set(document["tables"]) == (set(referring) - {"dialogs"}) | {"members"}
    assert RELAYED in json.dumps(document, ensure_ascii=False)
    raw = files["my-data.csv"].content
    assert raw.startswith("\ufeff".encode()), "UTF-8 with a byte-order mark, for Excel"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["種類", "番号", "項目", "内容"]
    assert ["登録のようす", "1", "display_name", NAME] in rows
    assert any(row[3] == RELAYED for row in rows)


def test_the_screen_says_what_is_kept_in_plain_words(
    member: Callable[..., Chat], database: Database, clock: FakeClock
) -> None:
    journey = registered(member, database, clock)
    alice = journey.alice
    alice.say("通知設定")
    alice.press("登録情報")
    text = alice.text
    assert f"お名前（表示名）: {NAME}" in text
    assert "地域: 板橋区" in text
    assert "【集会へのお返事】2件" in text
    assert "保険証を残せ 12.7大集会: 参加" in text
    assert "【世話人に送った質問】1件" in text
    assert "答えあり" in text
    assert "これから送るもの1件" in text
    assert alice.labels()[:2] == ["ファイルで受け取る", "登録を削除する"]


def test_a_cell_that_looks_like_a_formula_stays_text(
    member: Callable[..., Chat], database: Database
) -> None:
    chat = member("eve", "板橋区", name='=HYPERLINK("http://evil.example","x")')
    chat.say("/mydata")
    chat.press("ファイルで受け取る")
    (csv_file,) = [f for f in chat.replies[0].attachments if f.filename.endswith(".csv")]
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    (name,) = [row[3] for row in rows if row[2] == "display_name"]
    assert name == '\'=HYPERLINK("http://evil.example","x")'


def test_someone_not_registered_is_told_nothing_is_kept(
    conversation: object, database: Database
) -> None:
    from bot.domain.messages import MemberRef
    from bot.services.conversation import Conversation

    assert isinstance(conversation, Conversation)
    chat = Chat(conversation, MemberRef("console", "stranger"))
    chat.say("/mydata")
    assert "まだ何も記録していません" in chat.text
    chat.say("/forget")
    assert "まだ何も記録していません" in chat.text
