"""`campaign-bot members find | forget`: for a member who asks by phone or on paper to see
what is kept or to be deleted (登録削除), done by an organiser.

Members are shown by name and number (#12), never by their channel id; `forget` takes the
number, a name that finds one member, or CHANNEL:ID (what 「私のID」 shows the member). It
asks before deleting (or takes `--yes`), deletes through the same service as the chat's
登録削除, and the audit log records it. Names pass through `bot.terminal.field`.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from bot.app import App
from bot.commands import texts_for
from bot.services import forget as forget_service
from bot.terminal import field
from bot.texts import Texts


def _line(texts: Texts, app: App, row: dict[str, Any]) -> str:
    return texts(
        "cli.members.line",
        number=f"#{row['id']}",
        channel=row["channel"],
        name=field(row["display_name"]) if row["display_name"] else texts("cli.members.no_name"),
        since=texts.format_date(row["created_at"], app.settings.zone),
        seen=texts.format_date(row["last_seen_at"], app.settings.zone),
    )


def find(app: App, text: str, *, out: TextIO | None = None) -> bool:
    """Members whose name contains `text` (or whose number or CHANNEL:ID it is)."""
    out = out or sys.stdout
    texts = texts_for(app.settings)
    with app.database.unit_of_work() as uow:
        found = uow.privacy.find(_number(text))
    if not found:
        print(texts("cli.members.none", text=field(text)), file=out)
        return False
    for row in found:
        print(_line(texts, app, row), file=out)
    return True


def _number(text: str) -> str:
    return text[1:] if text.startswith("#") and text[1:].isdigit() else text


def forget(
    app: App,
    who: str,
    *,
    yes: bool = False,
    answer: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> bool:
    """Delete one member's registration, as their own 登録削除 does. Without `yes`, asks on
    the terminal (`answer`: where the reply is read; not a terminal: refused)."""
    out, err = out or sys.stdout, err or sys.stderr
    answer = answer if answer is not None else sys.stdin
    texts = texts_for(app.settings)
    with app.database.unit_of_work() as uow:
        found = uow.privacy.find(_number(who))
        if who.startswith("#") or who.isdigit():
            found = [row for row in found if str(row["id"]) == _number(who)]
        if len(found) != 1:
            key = "cli.members.none" if not found else "cli.members.several"
            print(f"campaign-bot: {texts(key, text=field(who))}", file=err)
            for row in found:
                print(_line(texts, app, row), file=err)
            return False
        row = found[0]
        print(_line(texts, app, row), file=out)
        if not yes:
            if not answer.isatty():
                print(f"campaign-bot: {texts('cli.members.needs_yes')}", file=err)
                return False
            print(texts("cli.members.ask"), end=" ", file=out, flush=True)
            if answer.readline().strip().lower() not in texts.words("cli.members.yes_words"):
                print(texts("cli.members.kept"), file=out)
                return False
        member = uow.members.get_by_id(row["id"])
        assert member is not None
        report = forget_service.forget_member(uow, member, app.clock.now(), by_organiser=True)
        uow.commit()
    print(
        texts(
            "cli.members.forgotten",
            number=f"#{row['id']}",
            answers=report.past_answers,
            relays=report.relays,
            broadcasts=report.broadcasts,
        ),
        file=out,
    )
    return True
