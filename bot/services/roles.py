"""Who organises: the config's lists and the database's, kept in members' stored role so that
what is decided without the person writing (who gets relayed questions and alerts) follows
the current lists, and an organiser removed loses their open dialogs at once."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain.campaign import Campaign
from bot.domain.ports import OrganiserEntry, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

CHANNELS = ("telegram", "line", "console")


class RoleError(ValueError):
    """An organiser change that cannot be made as asked (said in the admin's words)."""


def sync_roles(units_of_work: UnitOfWorkFactory, campaign: Campaign) -> list[int]:
    """At start-up (the config may have changed): every stored member's role as the lists say
    now. Returns the ids whose role changed."""
    with units_of_work() as uow:
        changed = uow.organisers.sync_roles(campaign.organisers)
        uow.commit()
    if changed:
        log.info("organiser roles brought up to date for %d member(s)", len(changed))
    return changed


def add(
    uow: UnitOfWork,
    campaign: Campaign,
    channel: str,
    external_id: str,
    note: str,
    by: str,
    now: datetime,
) -> bool:
    """List someone as an organiser (audit-logged); False if they were listed already."""
    _check(channel, external_id)
    added = uow.organisers.add(OrganiserEntry(channel, external_id, note[:100], by[:100], now))
    if added:
        uow.organisers.sync_roles(campaign.organisers)
        uow.audit.record(
            None,
            "organiser.added",
            {"channel": channel, "external_id": external_id, "note": note[:100], "by": by[:100]},
            now,
        )
    return added


def remove(
    uow: UnitOfWork, campaign: Campaign, channel: str, external_id: str, by: str, now: datetime
) -> bool:
    """Take someone off the database's list (audit-logged): their role goes now, and with it
    their open dialogs (an answer being written, a broadcast being composed). False if they
    were not listed. Someone also in the config stays an organiser: the config says so."""
    _check(channel, external_id)
    removed = uow.organisers.remove(channel, external_id)
    if removed:
        uow.organisers.sync_roles(campaign.organisers)
        uow.audit.record(
            None,
            "organiser.removed",
            {"channel": channel, "external_id": external_id, "by": by[:100]},
            now,
        )
    return removed


def _check(channel: str, external_id: str) -> None:
    if channel not in CHANNELS:
        raise RoleError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    if not external_id.strip() or len(external_id) > 128 or not external_id.isprintable():
        raise RoleError("the id must be the person's id on that channel (1-128 characters)")
