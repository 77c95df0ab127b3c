"""The core's view of the outside world. Implementations live at the edges (store, channels)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from bot.domain.members import Member


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


@dataclass(frozen=True)
class MemberStats:
    """Counts organisers see in 登録状況."""

    total: int
    subscribed: int
    pending: int
    unsubscribed: int
    unreachable: int
    subscribed_by_region: Mapping[str, int] = field(default_factory=dict)


class MemberRepository(Protocol):
    def get(self, channel: str, external_id: str) -> Member | None: ...

    def get_by_id(self, member_id: int) -> Member | None: ...

    def register(self, member: Member) -> tuple[Member, bool]:
        """Store `member` unless it exists; return the stored member and whether it is new."""
        ...

    def save(self, member: Member) -> None:
        """Write back every field of a member loaded or added in this unit of work."""
        ...

    def stats(self) -> MemberStats: ...


class AuditLog(Protocol):
    def record(
        self, actor: Member | None, action: str, detail: Mapping[str, Any], at: datetime
    ) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: everything done inside is committed together or not at all."""

    @property
    def members(self) -> MemberRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
