"""Tell the organisers about something only they can fix, such as a vanished schedules folder.

One message per organiser per incident: the reference names the incident (where and when it
began), never the state, so a folder that breaks, recovers and breaks again is told twice,
and a process looking again at the same incident tells nobody a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.domain.deliveries import ORGANISER_ALERT, message_payload
from bot.domain.messages import Outgoing
from bot.domain.ports import Clock, UnitOfWorkFactory
from bot.texts import Catalogues

log = logging.getLogger(__name__)

SHOWN_PROBLEMS = 3
"""A message, not a report: the first few problems; `campaign-bot check` lists them all."""


class OrganiserAlerts:
    def __init__(
        self, units_of_work: UnitOfWorkFactory, catalogues: Catalogues, clock: Clock
    ) -> None:
        self._units_of_work = units_of_work
        self._catalogues = catalogues
        self._clock = clock

    def folder_broken(self, incident: str, folder: str, problems: Sequence[object]) -> int:
        """Queue the news that `folder` could not be read; returns how many were queued."""
        now = self._clock.now()
        queued = 0
        with self._units_of_work() as uow:
            for organiser in uow.members.organisers():
                texts = self._catalogues[organiser.language]
                shown = [f"- {problem}" for problem in problems[:SHOWN_PROBLEMS]]
                if len(problems) > SHOWN_PROBLEMS:
                    shown.append(texts("alert.more_problems", count=len(problems) - SHOWN_PROBLEMS))
                text = texts("alert.folder_broken", folder=folder, problems="\n".join(shown))
                queued += uow.outbox.enqueue(
                    ORGANISER_ALERT,
                    f"alert:{incident}",
                    organiser,
                    message_payload(Outgoing(text)),
                    now,
                )
            uow.commit()
        log.info("organisers told about %s (%d message(s))", incident, queued)
        return queued
