"""Whether the bot can still reach a member, as the platforms tell us."""

from __future__ import annotations

import logging

from bot.domain.messages import MemberRef
from bot.domain.ports import Clock, UnitOfWorkFactory

log = logging.getLogger(__name__)


class Reachability:
    def __init__(self, units_of_work: UnitOfWorkFactory, clock: Clock) -> None:
        self._units_of_work = units_of_work
        self._clock = clock

    def unreachable(self, ref: MemberRef, reason: str) -> bool:
        """Blocked, deactivated, unfollowed: stop sending. Returns False for unknown members."""
        with self._units_of_work() as uow:
            member = uow.members.get(ref.channel, ref.external_id)
            if member is None:
                return False
            member.mark_unreachable(self._clock.now(), reason[:200])
            uow.members.save(member)
            uow.commit()
        log.info("member %s is unreachable: %s", ref, reason)  # a pseudonym in the log
        return True

    def reachable(self, ref: MemberRef) -> bool:
        """They unblocked or followed again; their choices are as they left them."""
        with self._units_of_work() as uow:
            member = uow.members.get(ref.channel, ref.external_id)
            if member is None or member.unreachable_at is None:
                return False
            member.seen(self._clock.now())
            uow.members.save(member)
            uow.commit()
        return True
