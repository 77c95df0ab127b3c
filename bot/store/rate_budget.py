"""The overall send budget of a channel, shared by every process through one row (GCRA)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, case, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.dialect import insert_ignoring_conflicts
from bot.store.tables import RateBudgetRow

rate_budgets = cast(Table, RateBudgetRow.__table__)


class SqlSlotLedger:
    """`SlotLedger` on the database: one short UPDATE ... RETURNING per reservation, so the
    processes sending on a channel together stay within its limit."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def reserve(self, channel: str, count: int, interval: float, now: float) -> float:
        """Reserve `count` slots from `now` on; returns when the first may be used."""
        tat = rate_budgets.c.tat
        with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            session.execute(
                insert_ignoring_conflicts(
                    dialect, RateBudgetRow, {"channel": channel, "tat": now}, ["channel"]
                )
            )
            new_tat = session.execute(
                update(rate_budgets)
                .where(rate_budgets.c.channel == channel)
                .values(tat=case((tat > now, tat), else_=now) + count * interval)
                .returning(tat)
            ).scalar_one()
        return float(new_tat) - count * interval
