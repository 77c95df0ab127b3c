"""`campaign-bot organisers add | remove | list`: who organises (世話人), besides config.yaml.

Changes go through bot/services/roles.py, as the running bot's own: audit-logged as "cli",
members' stored roles brought up to date at once, and someone removed loses their open
dialogs (an answer being written, a broadcast being composed). The config's lists are read,
never written: someone listed there stays an organiser until the file says otherwise.

Words come from the catalogue (`cli.organisers.*`). Ids, notes and names pass through
`bot.terminal.field`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

from bot.app import App
from bot.commands import texts_for
from bot.domain.ports import OrganiserEntry, UnitOfWork
from bot.services import roles
from bot.services.roles import CHANNELS, RoleError
from bot.terminal import field
from bot.texts import Texts

__all__ = ["CHANNELS", "add", "listing", "remove"]

BY = "cli"


def say(texts: Texts, key: str, **values: object) -> str:
    """`key` in the organisers' language."""
    return texts(key, **values)


@dataclass(frozen=True)
class Listed:
    """One organiser as `list` shows them: where they are listed, and their name if they have
    written to the bot."""

    channel: str
    external_id: str
    in_config: bool
    stored: OrganiserEntry | None
    name: str | None


def _who(channel: str, external_id: str) -> dict[str, str]:
    return {"channel": channel, "id": field(external_id)}


def add(
    app: App,
    channel: str,
    external_id: str,
    note: str = "",
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> bool:
    """List someone as an organiser in the database. True unless the id is refused (being
    listed already is fine: they are an organiser, as asked)."""
    out, err = out or sys.stdout, err or sys.stderr
    texts, campaign = texts_for(app.settings), app.settings.campaign()
    with app.database.unit_of_work() as uow:
        try:
            added = roles.add(uow, campaign, channel, external_id, note, BY, app.clock.now())
        except RoleError as exc:
            print(f"campaign-bot: {field(str(exc))}", file=err)
            return False
        known = uow.members.get(channel, external_id) is not None
        uow.commit()
    who = _who(channel, external_id)
    key = "cli.organisers.added" if added else "cli.organisers.already"
    print(say(texts, key, **who), file=out)
    if added and not known:
        print(say(texts, "cli.organisers.unknown_yet", **who), file=out)
    return True


def remove(
    app: App,
    channel: str,
    external_id: str,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> bool:
    """Take someone off the database's list: their role goes now, and their open dialogs with
    it, unless config.yaml lists them too (then they stay, and this says so). False if the
    database did not list them."""
    out, err = out or sys.stdout, err or sys.stderr
    texts, campaign = texts_for(app.settings), app.settings.campaign()
    who = _who(channel, external_id)
    in_config = campaign.is_organiser(channel, external_id)
    with app.database.unit_of_work() as uow:
        try:
            removed = roles.remove(uow, campaign, channel, external_id, BY, app.clock.now())
        except RoleError as exc:
            print(f"campaign-bot: {field(str(exc))}", file=err)
            return False
        uow.commit()
    if not removed:
        key = "cli.organisers.only_in_config" if in_config else "cli.organisers.not_listed"
        print(f"campaign-bot: {say(texts, key, **who)}", file=err)
        return False
    key = "cli.organisers.still_in_config" if in_config else "cli.organisers.removed"
    print(say(texts, key, **who), file=out)
    return True


def organisers(app: App, uow: UnitOfWork) -> list[Listed]:
    """The config's organisers and the database's, each once, by channel and id."""
    campaign = app.settings.campaign()
    configured = {
        (channel, external_id)
        for channel, ids in campaign.organisers.items()
        for external_id in ids
    }
    stored = {(entry.channel, entry.external_id): entry for entry in uow.organisers.listed()}
    listed = []
    for channel, external_id in sorted(configured | stored.keys(), key=_by_channel):
        member = uow.members.get(channel, external_id)
        listed.append(
            Listed(
                channel,
                external_id,
                in_config=(channel, external_id) in configured,
                stored=stored.get((channel, external_id)),
                name=member.display_name if member is not None else None,
            )
        )
    return listed


def _by_channel(key: tuple[str, str]) -> tuple[int, str]:
    channel, external_id = key
    return (CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS), external_id)


def describe(texts: Texts, app: App, item: Listed) -> str:
    sources = []
    if item.in_config:
        sources.append(say(texts, "cli.organisers.from_config"))
    details = ""
    if item.stored is not None:
        sources.append(say(texts, "cli.organisers.from_database"))
        stored = item.stored
        note = say(texts, "cli.organisers.note", note=field(stored.note)) if stored.note else ""
        details = say(
            texts,
            "cli.organisers.added_by",
            when=texts.format_datetime(stored.added_at, app.settings.zone),
            by=field(stored.added_by),
            note=note,
        )
    return say(
        texts,
        "cli.organisers.line",
        channel=item.channel,
        id=field(item.external_id),
        source="+".join(sources),
        # Chosen by the member: it must not act on the organiser's terminal.
        name=field(item.name) if item.name else say(texts, "cli.organisers.no_name"),
        note=details,
    ).rstrip()


def listing(app: App, *, out: TextIO | None = None) -> None:
    """Everyone who organises: from config.yaml, from the database, or both."""
    out = out or sys.stdout
    texts = texts_for(app.settings)
    with app.database.unit_of_work() as uow:
        found = organisers(app, uow)
    if not found:
        print(say(texts, "cli.organisers.none"), file=out)
        return
    for item in found:
        print(describe(texts, app, item), file=out)
