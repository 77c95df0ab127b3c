"""The one way members' messages come into the core, whichever channel they arrive on.

A channel adapter translates what its platform sent into an `Incoming` (or a `MemberRef` for a
block or unblock) and awaits one of these methods; the core's work runs on the `CoreWorker`'s
threads, off the event loop, because it blocks on the database.
"""

from __future__ import annotations

from bot.channels.core_worker import CoreWorker
from bot.domain.messages import Incoming, MemberRef, Outgoing
from bot.services.conversation import Conversation
from bot.services.reachability import Reachability


class Inbound:
    def __init__(
        self, conversation: Conversation, reachability: Reachability, core: CoreWorker
    ) -> None:
        self._conversation = conversation
        self._reachability = reachability
        self._core = core

    async def handle(self, incoming: Incoming) -> list[Outgoing]:
        """The member's turn: what to answer (empty when there is nothing to say, e.g. an
        event the platform delivered again)."""
        return await self._core.run(self._conversation.reply_to, incoming)

    async def unreachable(self, ref: MemberRef, reason: str) -> bool:
        """The member blocked the bot or left: nothing more is sent to them."""
        return await self._core.run(self._reachability.unreachable, ref, reason)

    async def reachable(self, ref: MemberRef) -> bool:
        """The member unblocked the bot or came back."""
        return await self._core.run(self._reachability.reachable, ref)

    async def apology(self, ref: MemberRef) -> Outgoing:
        """What to tell a member whose turn failed (no detail of the failure)."""
        return await self._core.run(self._conversation.error_reply, ref)

    async def defer(self, ref: MemberRef, unsent: list[Outgoing]) -> int:
        """Replies the platform would not take now go out through the outbox's first lane."""
        return await self._core.run(self._conversation.defer, ref, unsent)
