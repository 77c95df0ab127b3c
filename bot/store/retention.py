"""The purge: questions, finished deliveries and audit entries older than the retention."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, func, select
from sqlalchemy.orm import Session

from bot.domain.privacy import Cutoffs, Purged
from bot.store.tables import AuditRow, DeliveryRow, FaqQuestionRow

faq_questions = cast(Table, FaqQuestionRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
audit_log = cast(Table, AuditRow.__table__)

DONE = ("sent", "failed", "skipped")
"""Delivery states nothing will change any more; waiting and sending rows are never purged."""


def _conditions(cutoffs: Cutoffs) -> list[tuple[str, Table, ColumnElement[bool]]]:
    d = deliveries.c
    return [
        ("questions", faq_questions, faq_questions.c.asked_at < cutoffs.questions),
        (
            "deliveries",
            deliveries,
            d.state.in_(DONE) & (func.coalesce(d.sent_at, d.created_at) < cutoffs.deliveries),
        ),
        ("audit", audit_log, audit_log.c.at < cutoffs.audit),
    ]


def purge(session: Session, cutoffs: Cutoffs, *, dry_run: bool = False) -> Purged:
    """Delete what is older than `cutoffs` in the caller's transaction, or only count it."""
    counts: dict[str, int] = {}
    for name, table, condition in _conditions(cutoffs):
        if dry_run:
            counts[name] = (
                session.scalar(select(func.count()).select_from(table).where(condition)) or 0
            )
        else:
            result: Any = session.execute(delete(table).where(condition))
            counts[name] = max(result.rowcount or 0, 0)
    return Purged(**counts)
