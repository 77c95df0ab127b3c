"""LINE as the outbox sees it, for dispatcher tests: pushes and multicasts with retry keys.

`FakeLineMessenger` is a `BatchMessenger` that keeps LINE's records in memory: what each user
received, every call, and the retry keys LINE accepted. A key accepted before is answered as
LINE answers it (409, which the real messenger counts as sent): the first request's id, and
nothing delivered again, whoever the repeat names. LINE's monthly quota is `quota` messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select

from bot.delivery.model import QuotaExhausted
from bot.domain.capabilities import LINE
from bot.domain.members import Member, Role
from bot.domain.messages import Outgoing
from bot.store.database import Database
from bot.store.tables import MemberRow

MONTHLY_LIMIT = "You have reached your monthly limit."


@dataclass(frozen=True)
class Call:
    kind: str
    """push or multicast"""
    to: tuple[str, ...]
    text: str
    retry_key: str
    outcome: str
    """accepted, repeat (LINE's 409: accepted before) or an error's name."""


class Crash(BaseException):
    """The process dies here: nothing after it runs, nothing is recorded."""


class FakeLineMessenger:
    capabilities = LINE

    def __init__(self, *, quota: int | None = None) -> None:
        self.quota = quota
        """Messages LINE still takes this month (None: no limit)."""
        self.calls: list[Call] = []
        self.received: Counter[tuple[str, str]] = Counter()
        """(user, text) -> how many times the user got it."""
        self.accepted: dict[str, str] = {}
        """Retry key -> the id of the request LINE accepted with it."""
        self.after_accepted: Callable[[Call], None] = lambda call: None
        """Called once LINE has accepted a request (e.g. to raise `Crash`)."""
        self.before_call: Callable[[Call], None] = lambda call: None
        """Called before LINE sees the request (e.g. to raise `Crash`)."""

    def parts(self, message: Outgoing) -> int:
        return 1

    async def send(self, external_id: str, message: Outgoing, *, retry_key: str) -> str:
        return self._request("push", (external_id,), message, retry_key)

    async def send_many(
        self, external_ids: Sequence[str], message: Outgoing, *, retry_key: str
    ) -> str:
        if not 1 <= len(external_ids) <= LINE.batch_send:
            raise AssertionError(f"a multicast to {len(external_ids)} users")
        return self._request("multicast", tuple(external_ids), message, retry_key)

    def _request(self, kind: str, to: tuple[str, ...], message: Outgoing, key: str) -> str:
        self.before_call(Call(kind, to, message.text, key, "sent"))
        if key in self.accepted:
            self.calls.append(Call(kind, to, message.text, key, "repeat"))
            return self.accepted[key]
        if self.quota is not None and self.quota < len(to):
            self.calls.append(Call(kind, to, message.text, key, "QuotaExhausted"))
            raise QuotaExhausted(MONTHLY_LIMIT)
        if self.quota is not None:
            self.quota -= len(to)
        request_id = f"request-{len(self.accepted) + 1}"
        self.accepted[key] = request_id
        for user in to:
            self.received[(user, message.text)] += 1
        call = Call(kind, to, message.text, key, "accepted")
        self.calls.append(call)
        self.after_accepted(call)
        return request_id

    def requests(self, kind: str, outcome: str = "accepted") -> list[Call]:
        return [call for call in self.calls if call.kind == kind and call.outcome == outcome]

    def most_received(self) -> int:
        return max(self.received.values(), default=0)


def line_id(number: int) -> str:
    """A LINE user id: U and 32 hex digits."""
    return f"U{number:032x}"


def seed_members(
    database: Database,
    external_ids: Sequence[str],
    now: datetime,
    *,
    channel: str = "line",
    role: Role = Role.MEMBER,
    language: str = "ja",
) -> list[int]:
    """Subscribed members; returns their ids in the order given. The first is subscribed by
    the domain, the others are copies of its row inserted in bulk (1,200 registrations one
    by one would take a while)."""
    first, *others = external_ids
    member = Member(channel, first, created_at=now, last_seen_at=now, language=language, role=role)
    member.subscribe(now)
    with database.unit_of_work() as uow:
        stored, _ = uow.members.register(member)
        uow.commit()
    members = cast(Table, MemberRow.__table__)
    with database.sessions.begin() as session:
        template = dict(
            session.execute(select(members).where(members.c.id == stored.id)).mappings().one()
        )
        del template["id"]
        if others:
            session.execute(
                insert(members), [{**template, "external_id": other} for other in others]
            )
        found = dict(
            session.execute(
                select(members.c.external_id, members.c.id).where(
                    members.c.channel == channel, members.c.external_id.in_(external_ids)
                )
            ).all()
        )
    return [found[external_id] for external_id in external_ids]
