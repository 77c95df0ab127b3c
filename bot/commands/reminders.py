"""`campaign-bot reminders plan [--days N] [--dry-run]`: what reminders go to whom, and when.

Planning goes through bot/services/reminders.py, the same planner the running bot uses; every
word printed comes from the catalogue (`cli.reminders.*`), and members' names pass through
`bot.terminal.field`.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.app import App
from bot.commands import texts_for
from bot.terminal import field


def plan(app: App, *, days: int, dry_run: bool, out: TextIO | None = None) -> None:
    """List what planning `days` ahead puts in the outbox; without `dry_run`, also do it."""
    out = out or sys.stdout
    texts, zone = texts_for(app.settings), app.settings.zone
    previews = app.reminders.preview(days)
    if not previews:
        print(texts("cli.reminders.none", days=days), file=out)
    else:
        print(texts("cli.reminders.heading", days=days, count=len(previews)), file=out)
    for preview in previews:
        reminder = preview.reminder
        print(
            texts(
                "cli.reminders.line",
                due=texts.format_datetime(reminder.due_at, zone),
                kind=texts(f"cli.reminders.kind.{reminder.kind.value}"),
                title=field(preview.title),
                member=field(preview.member_label),
            ),
            file=out,
        )
    if dry_run:
        print(texts("cli.reminders.dry_run"), file=out)
        return
    applied = app.reminders.plan_now()
    skipped = sum((applied.skipped or {}).values())
    print(
        texts(
            "cli.reminders.applied",
            queued=applied.queued,
            moved=applied.moved,
            revived=applied.revived,
            skipped=skipped,
        ),
        file=out,
    )
