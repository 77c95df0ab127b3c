"""What only organisers (世話人) can see."""

from __future__ import annotations

from bot.domain.messages import Outgoing
from bot.services.turn import Turn


def stats(turn: Turn) -> list[Outgoing]:
    texts = turn.texts
    counts = turn.uow.members.stats()
    lines = [
        texts(
            "stats.summary",
            total=counts.total,
            subscribed=counts.subscribed,
            pending=counts.pending,
            unsubscribed=counts.unsubscribed,
            unreachable=counts.unreachable,
        )
    ]
    by_region = [
        texts("stats.by_region_line", region=name, count=counts.subscribed_by_region[region.code])
        for region in turn.campaign.regions
        if counts.subscribed_by_region.get(region.code)
        for name in turn.campaign.region_names({region.code}, turn.member.language)
    ]
    if by_region:
        lines.append("\n".join([texts("stats.by_region_heading"), *by_region]))
    return [turn.screens.with_menu(turn.member, "\n\n".join(lines))]
