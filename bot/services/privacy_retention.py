"""Retention: what is kept about members is deleted once it is older than the config allows
(`retention:`). A daily job runs `purge`; `campaign-bot db purge [--dry-run]` runs it by hand.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain.ports import UnitOfWorkFactory
from bot.domain.privacy import Purged, Retention

log = logging.getLogger(__name__)


def purge(
    units_of_work: UnitOfWorkFactory,
    retention: Retention,
    now: datetime,
    *,
    dry_run: bool = False,
) -> Purged:
    """Delete (in one transaction) or, `dry_run`, count what the retention says must go."""
    with units_of_work() as uow:
        purged = uow.privacy.purge(retention.cutoffs(now), dry_run=dry_run)
        if not dry_run:
            uow.commit()
    if not dry_run:
        log.info(
            "purged %d questions, %d deliveries, %d audit entries",
            purged.questions,
            purged.deliveries,
            purged.audit,
        )
    return purged
