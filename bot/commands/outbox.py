"""`campaign-bot outbox [--list] | retry ID... | drop ID...`: what the bot still has to send.

Reads and changes go through bot/services/outbox_admin.py; every word printed comes from the
catalogue (`cli.outbox.*`). Reasons and errors come from outside (Telegram's error texts) and
names from members, so both pass through `bot.terminal.field` on their way to the screen.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from bot.app import App
from bot.commands import texts_for
from bot.services.outbox_admin import (
    DEFAULT_LIMIT,
    OPEN_STATES,
    STATES,
    Entry,
    OutboxAdmin,
    Outcome,
    Result,
    Tally,
)
from bot.store.outbox_admin import SqlOutboxAdmin
from bot.terminal import field
from bot.texts import Texts

__all__ = ["DEFAULT_LIMIT", "STATES", "change", "show"]


def outbox_admin(app: App) -> OutboxAdmin:
    """The organisers' outbox service, reading through the bot's own database."""
    return OutboxAdmin(SqlOutboxAdmin(app.database.sessions), app.clock)


def state_word(texts: Texts, state: str) -> str:
    return texts(f"cli.outbox.state.{state}")


def describe_tally(app: App, tally: Tally) -> str:
    texts, zone = texts_for(app.settings), app.settings.zone
    if not tally.counts:
        return texts("cli.outbox.empty")
    lines = [texts("cli.outbox.heading")]
    for purpose in sorted({purpose for purpose, _ in tally.counts}):
        counts = texts("cli.outbox.separator").join(
            texts(
                "cli.outbox.count",
                state=state_word(texts, state),
                count=tally.counts.get((purpose, state), 0),
            )
            for state in OPEN_STATES
        )
        lines.append(texts("cli.outbox.purpose_line", purpose=field(purpose), counts=counts))
    if tally.next_due is None:
        lines.append(texts("cli.outbox.nothing_queued"))
    else:
        lines.append(
            texts(
                "cli.outbox.next_due",
                when=texts.format_datetime(tally.next_due, zone),
                due_now=tally.due_now,
            )
        )
    if tally.reasons:
        lines.append(texts("cli.outbox.reasons_heading"))
        lines.extend(
            texts(
                "cli.outbox.reason_line",
                count=reason.count,
                state=state_word(texts, reason.state),
                purpose=field(reason.purpose),
                reason=field(reason.reason),
            )
            for reason in tally.reasons
        )
        if tally.more_reasons:
            lines.append(texts("cli.outbox.more_reasons", count=tally.more_reasons))
    return "\n".join(lines)


def member_label(texts: Texts, entry: Entry) -> str:
    name = entry.member_name or texts("cli.outbox.member_without_name", id=entry.member_id)
    # Chosen by the member: it must not act on the organiser's terminal.
    return texts("cli.outbox.member", name=field(name), channel=field(entry.channel))


def describe_entries(app: App, entries: Sequence[Entry], total: int) -> str:
    texts, zone = texts_for(app.settings), app.settings.zone
    if not entries:
        return texts("cli.outbox.list_empty")
    lines = [
        texts(
            "cli.outbox.line",
            id=entry.id,
            purpose=field(entry.purpose),
            state=entry.state,
            due=texts.format_datetime(entry.due_at, zone),
            attempts=entry.attempts,
            member=member_label(texts, entry),
            reason=field(entry.reason) if entry.reason else "",
        ).rstrip()
        for entry in entries
    ]
    if total > len(entries):
        lines.append(texts("cli.outbox.list_more", shown=len(entries), total=total))
    return "\n".join(lines)


def show(
    app: App,
    *,
    listing: bool,
    state: str | None,
    purpose: str | None,
    limit: int,
    out: TextIO | None = None,
) -> None:
    out = out or sys.stdout  # looked up now, not at import: tests and callers replace it
    admin = outbox_admin(app)
    if listing:
        entries, total = admin.entries(state=state, purpose=purpose, limit=limit)
        print(describe_entries(app, entries, total), file=out)
    else:
        print(describe_tally(app, admin.tally()), file=out)


def _say(texts: Texts, command: str, result: Result) -> str:
    if result.outcome is Outcome.DONE:
        return texts(
            f"cli.outbox.{command}.done", id=result.id, state=state_word(texts, result.state or "")
        )
    if result.outcome is Outcome.UNKNOWN:
        return texts("cli.outbox.unknown", id=result.id)
    if result.outcome is Outcome.FORGOTTEN:
        return texts("cli.outbox.retry.forgotten", id=result.id)
    return texts(
        f"cli.outbox.{command}.wrong_state",
        id=result.id,
        state=state_word(texts, result.state or ""),
    )


def change(
    app: App,
    command: str,
    ids: Sequence[int],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> bool:
    """`retry` or `drop` the rows `ids`, one line per id; True if every id was done."""
    out, err = out or sys.stdout, err or sys.stderr
    admin = outbox_admin(app)
    results = admin.retry(ids) if command == "retry" else admin.drop(ids)
    texts = texts_for(app.settings)
    for result in results:
        if result.ok:
            print(_say(texts, command, result), file=out)
        else:
            print(f"campaign-bot: {_say(texts, command, result)}", file=err)
    return all(result.ok for result in results)
