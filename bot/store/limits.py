"""Per-member allowances: one row per (member, kind), counted in a single conditional UPDATE."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, case, literal, or_, select, update
from sqlalchemy.orm import Session

from bot.store.dialect import UtcDateTime, insert_ignoring_conflicts
from bot.store.tables import MemberLimitRow

member_limits = cast(Table, MemberLimitRow.__table__)


class SqlMemberLimits:
    """Fixed windows: the first use opens a window of `per`, which allows `count` uses.

    Taking one is a single UPDATE whose condition is the allowance itself, so two processes
    handling the same member at once cannot both take the last one.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def take(
        self, member_id: int, kind: str, now: datetime, count: int, per: timedelta
    ) -> datetime | None:
        key = (member_limits.c.member_id == member_id, member_limits.c.kind == kind)
        dialect = self._session.get_bind().dialect.name
        self._session.execute(
            insert_ignoring_conflicts(
                dialect,
                MemberLimitRow,
                {"member_id": member_id, "kind": kind, "window_started_at": now, "used": 0},
                ["member_id", "kind"],
            )
        )
        started = member_limits.c.window_started_at
        over = started <= now - per
        taken = self._session.execute(
            update(member_limits)
            .where(*key, or_(over, member_limits.c.used < count))
            .values(
                used=case((over, 1), else_=member_limits.c.used + 1),
                window_started_at=case((over, literal(now, UtcDateTime())), else_=started),
            )
            .returning(member_limits.c.used)
        ).first()
        if taken is not None:
            return None
        opened = self._session.scalar(select(started).where(*key))
        return (opened or now) + per
